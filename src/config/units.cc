// Durations and byte sizes in config values: "250ms", "1m30s", "256MiB".

#include "src/config/units.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nearcache/config.h"

namespace nearcache {
namespace {

// A non-negative decimal number, "12", "1.25" or ".5".
struct Decimal {
  uint64_t whole = 0;
  uint64_t frac = 0;  // the first frac_digits digits after the point
  int frac_digits = 0;
  bool truncated = false;  // a non-zero digit beyond kMaxFracDigits was dropped
};

constexpr int kMaxFracDigits = 18;  // 10^18 fits in uint64_t

enum class NumberResult { kOk, kNone, kTooLarge };

// Consumes a decimal number at the front of `*text`.
NumberResult ConsumeDecimal(absl::string_view* text, Decimal* out) {
  absl::string_view s = *text;
  size_t i = 0;
  bool any_digit = false;
  for (; i < s.size() && absl::ascii_isdigit(s[i]); ++i) {
    const uint64_t digit = s[i] - '0';
    if (out->whole > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return NumberResult::kTooLarge;
    }
    out->whole = out->whole * 10 + digit;
    any_digit = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && absl::ascii_isdigit(s[i]); ++i) {
      any_digit = true;
      if (out->frac_digits < kMaxFracDigits) {
        out->frac = out->frac * 10 + (s[i] - '0');
        ++out->frac_digits;
      } else if (s[i] != '0') {
        out->truncated = true;
      }
    }
  }
  if (!any_digit) return NumberResult::kNone;
  text->remove_prefix(i);
  return NumberResult::kOk;
}

uint64_t Pow10(int n) {
  uint64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

// Consumes leading ASCII letters: the unit after a number.
absl::string_view ConsumeUnit(absl::string_view* text) {
  *text = absl::StripLeadingAsciiWhitespace(*text);
  size_t n = 0;
  while (n < text->size() && absl::ascii_isalpha((*text)[n])) ++n;
  absl::string_view unit = text->substr(0, n);
  text->remove_prefix(n);
  *text = absl::StripLeadingAsciiWhitespace(*text);
  return unit;
}

constexpr absl::string_view kDurationUnits = "(ms, s, m, h)";
constexpr absl::string_view kSizeUnits =
    "(B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";

absl::Status InvalidDuration(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid duration \"", absl::CHexEscape(text), "\": ", why));
}

absl::Status InvalidSize(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid size \"", absl::CHexEscape(text), "\": ", why));
}

bool DurationUnit(absl::string_view unit, absl::Duration* out) {
  if (unit == "ms") {
    *out = absl::Milliseconds(1);
  } else if (unit == "s") {
    *out = absl::Seconds(1);
  } else if (unit == "m") {
    *out = absl::Minutes(1);
  } else if (unit == "h") {
    *out = absl::Hours(1);
  } else {
    return false;
  }
  return true;
}

bool SizeUnit(absl::string_view unit, uint64_t* out) {
  static constexpr struct {
    absl::string_view name;
    uint64_t bytes;
  } kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", uint64_t{1} << 10},
      {"MiB", uint64_t{1} << 20},
      {"GiB", uint64_t{1} << 30},
      {"TiB", uint64_t{1} << 40},
      {"KB", 1000},
      {"MB", 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"TB", uint64_t{1000} * 1000 * 1000 * 1000},
  };
  for (const auto& u : kUnits) {
    if (u.name == unit) {
      *out = u.bytes;
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return InvalidDuration(text, "empty");
  if (text.front() == '-') return InvalidDuration(text, "must not be negative");
  absl::string_view rest = text;
  absl::Duration total = absl::ZeroDuration();
  bool first = true;
  while (!rest.empty()) {
    Decimal number;
    switch (ConsumeDecimal(&rest, &number)) {
      case NumberResult::kOk:
        break;
      case NumberResult::kNone:
        return InvalidDuration(
            text, absl::StrCat("expected a number and a unit ", kDurationUnits,
                               ", e.g. 30s"));
      case NumberResult::kTooLarge:
        return InvalidDuration(text, "too large");
    }
    const absl::string_view unit_name = ConsumeUnit(&rest);
    if (unit_name.empty()) {
      // A bare zero needs no unit: zero is zero in any unit.
      if (first && rest.empty() && number.whole == 0 && number.frac == 0) {
        return absl::ZeroDuration();
      }
      return InvalidDuration(text,
                             absl::StrCat("needs a unit ", kDurationUnits));
    }
    absl::Duration unit;
    if (!DurationUnit(unit_name, &unit)) {
      return InvalidDuration(text, absl::StrCat("unknown unit \"", unit_name,
                                                "\" ", kDurationUnits));
    }
    if (number.whole >
        static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidDuration(text, "too large");
    }
    absl::Duration part = unit * static_cast<int64_t>(number.whole);
    // Nine digits reach below a nanosecond in every unit; more add nothing.
    const int digits = std::min(number.frac_digits, 9);
    const uint64_t frac = number.frac / Pow10(number.frac_digits - digits);
    // Truncated to whole nanoseconds, what FormatDurationValue writes back:
    // absl::Duration would keep a quarter nanosecond (".0224249ms").
    part += absl::Trunc(
        unit * static_cast<int64_t>(frac) / static_cast<int64_t>(Pow10(digits)),
        absl::Nanoseconds(1));
    total += part;
    if (total >= absl::Hours(24 * 365 * 1000)) {
      return InvalidDuration(text, "too large");
    }
    first = false;
  }
  return total;
}

absl::StatusOr<size_t> ParseByteSize(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return InvalidSize(text, "empty");
  if (text.front() == '-') return InvalidSize(text, "must not be negative");
  absl::string_view rest = text;
  Decimal number;
  switch (ConsumeDecimal(&rest, &number)) {
    case NumberResult::kOk:
      break;
    case NumberResult::kNone:
      return InvalidSize(text, absl::StrCat("expected a number and a unit ",
                                            kSizeUnits, ", e.g. 256MiB"));
    case NumberResult::kTooLarge:
      return InvalidSize(text, "too large");
  }
  const absl::string_view unit_name = ConsumeUnit(&rest);
  if (!rest.empty()) {
    return InvalidSize(text, absl::StrCat("expected a number and a unit ",
                                          kSizeUnits, ", e.g. 256MiB"));
  }
  uint64_t unit = 0;
  if (!SizeUnit(unit_name, &unit)) {
    return InvalidSize(
        text, absl::StrCat("unknown unit \"", unit_name, "\" ", kSizeUnits));
  }
  using u128 = unsigned __int128;
  const u128 scaled_frac = u128{number.frac} * unit;
  const u128 denominator = Pow10(number.frac_digits);
  if (number.truncated || scaled_frac % denominator != 0) {
    return InvalidSize(text, "not a whole number of bytes");
  }
  const u128 total = u128{number.whole} * unit + scaled_frac / denominator;
  if (total > std::numeric_limits<size_t>::max()) {
    return InvalidSize(text, "too large");
  }
  return static_cast<size_t>(total);
}

namespace config_internal {

std::string FormatDurationValue(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0s";
  static constexpr struct {
    absl::Duration unit;
    absl::string_view name;
  } kUnits[] = {{absl::Hours(1), "h"},
                {absl::Minutes(1), "m"},
                {absl::Seconds(1), "s"},
                {absl::Milliseconds(1), "ms"}};
  for (const auto& u : kUnits) {
    absl::Duration rem;
    const int64_t n = absl::IDivDuration(d, u.unit, &rem);
    if (rem == absl::ZeroDuration()) return absl::StrCat(n, u.name);
  }
  // Below a millisecond: a decimal number of milliseconds, exact to the
  // nanosecond.
  absl::Duration rem;
  const int64_t ms = absl::IDivDuration(d, absl::Milliseconds(1), &rem);
  std::string frac = std::to_string(absl::ToInt64Nanoseconds(rem) + 1000000);
  frac.erase(0, 1);  // six digits, leading zeros kept
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return absl::StrCat(ms, ".", frac, "ms");
}

std::string FormatByteSize(size_t bytes) {
  if (bytes == 0) return "0B";
  static constexpr struct {
    int shift;
    absl::string_view name;
  } kUnits[] = {{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (const auto& u : kUnits) {
    if (bytes % (size_t{1} << u.shift) == 0) {
      return absl::StrCat(bytes >> u.shift, u.name);
    }
  }
  return absl::StrCat(bytes, "B");
}

}  // namespace config_internal
}  // namespace nearcache
