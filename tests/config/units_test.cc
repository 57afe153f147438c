// Durations and byte sizes as config values take: every unit form, and the
// errors a mistyped value gets.

#include "src/config/units.h"

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/config.h"

namespace nearcache {
namespace {

using config_internal::FormatByteSize;
using config_internal::FormatDurationValue;
using ::testing::HasSubstr;

absl::Duration Dur(absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseDurationValue(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status();
  return d.value_or(absl::InfiniteDuration());
}

std::string DurError(absl::string_view text) {
  absl::StatusOr<absl::Duration> d = ParseDurationValue(text);
  EXPECT_FALSE(d.ok()) << text << " parsed as " << *d;
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(d.status().message());
}

size_t Size(absl::string_view text) {
  absl::StatusOr<size_t> n = ParseByteSize(text);
  EXPECT_TRUE(n.ok()) << text << ": " << n.status();
  return n.value_or(0);
}

std::string SizeError(absl::string_view text) {
  absl::StatusOr<size_t> n = ParseByteSize(text);
  EXPECT_FALSE(n.ok()) << text << " parsed as " << *n;
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(n.status().message());
}

TEST(ParseDurationValueTest, EveryUnit) {
  EXPECT_EQ(Dur("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(Dur("30s"), absl::Seconds(30));
  EXPECT_EQ(Dur("10m"), absl::Minutes(10));
  EXPECT_EQ(Dur("1h"), absl::Hours(1));
}

TEST(ParseDurationValueTest, FractionsSequencesAndSpaces) {
  EXPECT_EQ(Dur("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(Dur("0.5ms"), absl::Microseconds(500));
  EXPECT_EQ(Dur(".25h"), absl::Minutes(15));
  EXPECT_EQ(Dur("1m30s"), absl::Seconds(90));
  EXPECT_EQ(Dur("1h 30m"), absl::Minutes(90));
  EXPECT_EQ(Dur("  30s "), absl::Seconds(30));
}

TEST(ParseDurationValueTest, ZeroNeedsNoUnit) {
  EXPECT_EQ(Dur("0"), absl::ZeroDuration());
  EXPECT_EQ(Dur("0.0"), absl::ZeroDuration());
  EXPECT_EQ(Dur("0s"), absl::ZeroDuration());
  EXPECT_EQ(Dur("0ms"), absl::ZeroDuration());
}

TEST(ParseDurationValueTest, Errors) {
  EXPECT_EQ(DurError("30"),
            "invalid duration \"30\": needs a unit (ms, s, m, h)");
  EXPECT_EQ(DurError("1m30"),
            "invalid duration \"1m30\": needs a unit (ms, s, m, h)");
  EXPECT_EQ(DurError("-1s"), "invalid duration \"-1s\": must not be negative");
  EXPECT_EQ(DurError("5d"),
            "invalid duration \"5d\": unknown unit \"d\" (ms, s, m, h)");
  EXPECT_EQ(DurError("30S"),
            "invalid duration \"30S\": unknown unit \"S\" (ms, s, m, h)");
  EXPECT_THAT(DurError("soon"), HasSubstr("expected a number and a unit"));
  EXPECT_THAT(DurError("inf"), HasSubstr("expected a number and a unit"));
  EXPECT_THAT(DurError("1s!"), HasSubstr("expected a number and a unit"));
  EXPECT_THAT(DurError(""), HasSubstr("empty"));
  EXPECT_THAT(DurError("99999999999999999999h"), HasSubstr("too large"));
  EXPECT_THAT(DurError("9999999999h"), HasSubstr("too large"));
}

TEST(ParseByteSizeTest, BinaryUnits) {
  EXPECT_EQ(Size("512B"), 512u);
  EXPECT_EQ(Size("64KiB"), 64u << 10);
  EXPECT_EQ(Size("256MiB"), size_t{256} << 20);
  EXPECT_EQ(Size("2GiB"), size_t{2} << 30);
  EXPECT_EQ(Size("1TiB"), size_t{1} << 40);
}

TEST(ParseByteSizeTest, DecimalUnitsArePowersOf1000) {
  EXPECT_EQ(Size("1KB"), 1000u);
  EXPECT_EQ(Size("5MB"), 5000000u);
  EXPECT_EQ(Size("2GB"), 2000000000u);
  EXPECT_EQ(Size("1TB"), 1000000000000u);
}

TEST(ParseByteSizeTest, PlainNumbersFractionsAndSpaces) {
  EXPECT_EQ(Size("1024"), 1024u);
  EXPECT_EQ(Size("0"), 0u);
  EXPECT_EQ(Size("1.5KiB"), 1536u);
  EXPECT_EQ(Size("0.5GiB"), size_t{512} << 20);
  EXPECT_EQ(Size("64 MiB"), size_t{64} << 20);
}

TEST(ParseByteSizeTest, Errors) {
  EXPECT_EQ(SizeError("-1MiB"), "invalid size \"-1MiB\": must not be negative");
  EXPECT_EQ(SizeError("64mb"),
            "invalid size \"64mb\": unknown unit \"mb\" (B, KiB, MiB, GiB, "
            "TiB, KB, MB, GB, TB)");
  EXPECT_EQ(SizeError("64K"),
            "invalid size \"64K\": unknown unit \"K\" (B, KiB, MiB, GiB, "
            "TiB, KB, MB, GB, TB)");
  EXPECT_THAT(SizeError("1.5B"), HasSubstr("not a whole number of bytes"));
  EXPECT_THAT(SizeError("0.1KiB"), HasSubstr("not a whole number of bytes"));
  EXPECT_THAT(SizeError("lots"), HasSubstr("expected a number and a unit"));
  EXPECT_THAT(SizeError("12MiB extra"),
              HasSubstr("expected a number and a unit"));
  EXPECT_THAT(SizeError("1e6"), HasSubstr("expected a number and a unit"));
  EXPECT_THAT(SizeError(""), HasSubstr("empty"));
  EXPECT_THAT(SizeError("99999999999999999999"), HasSubstr("too large"));
  EXPECT_THAT(SizeError("20000000TiB"), HasSubstr("too large"));
}

TEST(FormatTest, DurationsUseTheLargestExactUnit) {
  EXPECT_EQ(FormatDurationValue(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatDurationValue(absl::Milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDurationValue(absl::Seconds(30)), "30s");
  EXPECT_EQ(FormatDurationValue(absl::Seconds(90)), "90s");
  EXPECT_EQ(FormatDurationValue(absl::Minutes(10)), "10m");
  EXPECT_EQ(FormatDurationValue(absl::Hours(2)), "2h");
  EXPECT_EQ(FormatDurationValue(absl::Microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatDurationValue(absl::Nanoseconds(1)), "0.000001ms");
}

TEST(FormatTest, DurationsParseBack) {
  for (absl::Duration d :
       {absl::ZeroDuration(), absl::Nanoseconds(7), absl::Microseconds(1),
        absl::Microseconds(123456), absl::Milliseconds(1001),
        absl::Seconds(3601), absl::Hours(100000)}) {
    EXPECT_EQ(Dur(FormatDurationValue(d)), d) << FormatDurationValue(d);
  }
}

TEST(FormatTest, SizesUseTheLargestExactBinaryUnit) {
  EXPECT_EQ(FormatByteSize(0), "0B");
  EXPECT_EQ(FormatByteSize(1000), "1000B");
  EXPECT_EQ(FormatByteSize(1536), "1536B");
  EXPECT_EQ(FormatByteSize(64u << 10), "64KiB");
  EXPECT_EQ(FormatByteSize(size_t{256} << 20), "256MiB");
  EXPECT_EQ(FormatByteSize(size_t{3} << 40), "3TiB");
  for (size_t n : {size_t{1}, size_t{1000}, size_t{1} << 30,
                   (size_t{1} << 40) + 1, ~size_t{0}}) {
    EXPECT_EQ(Size(FormatByteSize(n)), n);
  }
}

}  // namespace
}  // namespace nearcache
