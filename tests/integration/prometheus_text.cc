#include "tests/integration/prometheus_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace nearcache {
namespace {

bool IsMetricNameStart(char c) {
  return absl::ascii_isalpha(c) || c == '_' || c == ':';
}
bool IsMetricNameChar(char c) {
  return IsMetricNameStart(c) || absl::ascii_isdigit(c);
}
bool IsLabelNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsLabelNameChar(char c) {
  return IsLabelNameStart(c) || absl::ascii_isdigit(c);
}
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// A cursor over one line.
class Cursor {
 public:
  explicit Cursor(absl::string_view line) : rest_(line) {}
  bool done() const { return rest_.empty(); }
  char peek() const { return rest_.empty() ? '\0' : rest_[0]; }
  absl::string_view rest() const { return rest_; }
  void Advance(size_t n = 1) { rest_.remove_prefix(n); }
  // Skips blanks; returns how many.
  size_t SkipBlanks() {
    size_t n = 0;
    while (!rest_.empty() && IsBlank(rest_[0])) {
      rest_.remove_prefix(1);
      ++n;
    }
    return n;
  }
  // The characters up to the next blank or the end.
  absl::string_view Token() {
    size_t n = 0;
    while (n < rest_.size() && !IsBlank(rest_[n])) ++n;
    absl::string_view t = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return t;
  }
  // A metric name, or empty when none starts here.
  absl::string_view MetricName() {
    if (rest_.empty() || !IsMetricNameStart(rest_[0])) return {};
    size_t n = 1;
    while (n < rest_.size() && IsMetricNameChar(rest_[n])) ++n;
    absl::string_view t = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return t;
  }
  absl::string_view LabelName() {
    if (rest_.empty() || !IsLabelNameStart(rest_[0])) return {};
    size_t n = 1;
    while (n < rest_.size() && IsLabelNameChar(rest_[n])) ++n;
    absl::string_view t = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return t;
  }

 private:
  absl::string_view rest_;
};

// A sample value as Go's strconv.ParseFloat reads the decimal forms, plus
// NaN and (+|-)Inf(inity) in any case. Hex floats are refused.
std::optional<double> ParseValue(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  absl::string_view body = text;
  bool negative = false;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  const std::string lower = absl::AsciiStrToLower(body);
  if (lower == "inf" || lower == "infinity") {
    const double inf = std::numeric_limits<double>::infinity();
    return negative ? -inf : inf;
  }
  if (lower == "nan") {
    if (text[0] == '+' || text[0] == '-') return std::nullopt;
    return std::numeric_limits<double>::quiet_NaN();
  }
  // digits [. digits] [e [+-] digits], with at least one digit in front of
  // the exponent.
  size_t i = 0;
  size_t digits = 0;
  while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  const std::string copy(text);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

std::string SeriesKey(absl::string_view name, const PromLabels& labels) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) {
    parts.push_back(absl::StrCat(k, "=", absl::CEscape(v)));
  }
  return absl::StrCat(name, "{", absl::StrJoin(parts, ","), "}");
}

// One histogram series (a label set without le) as it was read.
struct HistogramSeries {
  std::vector<std::pair<double, double>> buckets;  // (le, count), as read
  std::optional<double> sum;
  std::optional<double> count;
  int first_line = 0;
};

class Parser {
 public:
  absl::StatusOr<PromExposition> Run(absl::string_view text) {
    if (text.empty()) return out_;
    if (text.back() != '\n') {
      return absl::InvalidArgumentError(
          "the exposition does not end with a newline");
    }
    text.remove_suffix(1);
    int n = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++n;
      line_ = n;
      absl::Status s = Line(line);
      if (!s.ok()) return s;
    }
    if (absl::Status s = CheckHistograms(); !s.ok()) return s;
    return out_;
  }

 private:
  absl::Status Error(absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", why));
  }

  absl::Status Line(absl::string_view line) {
    if (line.empty()) return absl::OkStatus();
    if (absl::StrContains(line, '\r')) return Error("carriage return");
    Cursor c(line);
    if (c.peek() == '#') {
      c.Advance();
      c.SkipBlanks();
      absl::string_view word = c.Token();
      if (word != "HELP" && word != "TYPE") return absl::OkStatus();
      if (c.SkipBlanks() == 0) {
        return Error(absl::StrCat("# ", word, " without a metric name"));
      }
      const std::string name(c.MetricName());
      if (name.empty() || (!c.done() && !IsBlank(c.peek()))) {
        return Error(absl::StrCat("# ", word, ": invalid metric name"));
      }
      if (absl::Status s = Enter(name); !s.ok()) return s;
      PromFamily& f = Family(name);
      if (word == "HELP") {
        if (f.help.has_value()) return Error("second # HELP for " + name);
        std::string help;
        if (!c.done()) {
          c.Advance();  // the one blank that separates the text
          absl::string_view raw = c.rest();
          for (size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] != '\\') {
              help.push_back(raw[i]);
              continue;
            }
            if (i + 1 == raw.size()) return Error("HELP ends with a backslash");
            const char e = raw[++i];
            if (e == '\\') {
              help.push_back('\\');
            } else if (e == 'n') {
              help.push_back('\n');
            } else {
              return Error(absl::StrCat("invalid escape \\", std::string(1, e),
                                        " in HELP"));
            }
          }
        }
        f.help = std::move(help);
        return absl::OkStatus();
      }
      if (!f.type.empty()) return Error("second # TYPE for " + name);
      if (!f.samples.empty()) return Error("# TYPE after samples of " + name);
      c.SkipBlanks();
      const std::string type(c.Token());
      c.SkipBlanks();
      if (!c.done()) return Error("text after the type");
      static const std::set<std::string> kTypes = {
          "counter", "gauge", "histogram", "summary", "untyped"};
      if (!kTypes.contains(type)) {
        return Error(absl::StrCat("unknown type \"", type, "\""));
      }
      f.type = type;
      return absl::OkStatus();
    }
    return Sample(c);
  }

  PromFamily& Family(const std::string& name) {
    PromFamily& f = out_.families[name];
    f.name = name;
    return f;
  }

  // Makes `family` the current group; refuses to come back to a closed one.
  absl::Status Enter(const std::string& family) {
    if (family == current_) return absl::OkStatus();
    if (closed_.contains(family)) {
      return Error(absl::StrCat("lines of ", family,
                                " are not contiguous (it appeared before)"));
    }
    if (!current_.empty()) closed_.insert(current_);
    current_ = family;
    return absl::OkStatus();
  }

  // The TYPE'd family of a sample name and what part of it the sample is.
  absl::StatusOr<std::pair<std::string, std::string>> Resolve(
      const std::string& name) const {
    auto typed = [this](absl::string_view n) -> const PromFamily* {
      auto it = out_.families.find(std::string(n));
      return it == out_.families.end() || it->second.type.empty() ? nullptr
                                                                  : &it->second;
    };
    if (const PromFamily* f = typed(name);
        f != nullptr && f->type != "histogram") {
      return std::make_pair(name, std::string(""));
    }
    for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!absl::EndsWith(name, suffix)) continue;
      absl::string_view base = name;
      base.remove_suffix(suffix.size());
      const PromFamily* f = typed(base);
      if (f == nullptr) continue;
      if (f->type == "histogram" ||
          (f->type == "summary" && suffix != "_bucket")) {
        return std::make_pair(std::string(base), std::string(suffix));
      }
    }
    return Error(absl::StrCat("sample ", name,
                              " belongs to no family with a # TYPE line"));
  }

  absl::Status Sample(Cursor& c) {
    const std::string name(c.MetricName());
    if (name.empty()) return Error("invalid metric name");
    PromSample s;
    s.name = name;
    if (c.peek() == '{') {
      c.Advance();
      for (;;) {
        c.SkipBlanks();
        if (c.peek() == '}') {
          c.Advance();
          break;
        }
        const std::string label(c.LabelName());
        if (label.empty()) return Error("invalid label name");
        if (absl::StartsWith(label, "__")) {
          return Error("reserved label name " + label);
        }
        c.SkipBlanks();
        if (c.peek() != '=') return Error("expected = after label " + label);
        c.Advance();
        c.SkipBlanks();
        if (c.peek() != '"') return Error("expected \" for label " + label);
        c.Advance();
        std::string value;
        bool closed = false;
        while (!c.done()) {
          const char ch = c.peek();
          c.Advance();
          if (ch == '"') {
            closed = true;
            break;
          }
          if (ch != '\\') {
            value.push_back(ch);
            continue;
          }
          if (c.done()) break;
          const char e = c.peek();
          c.Advance();
          if (e == '\\' || e == '"') {
            value.push_back(e);
          } else if (e == 'n') {
            value.push_back('\n');
          } else {
            return Error(absl::StrCat("invalid escape \\", std::string(1, e),
                                      " in the value of ", label));
          }
        }
        if (!closed) return Error("unterminated value of label " + label);
        if (!s.labels.emplace(label, std::move(value)).second) {
          return Error("label " + label + " given twice");
        }
        c.SkipBlanks();
        if (c.peek() == ',') {
          c.Advance();
          continue;
        }
        if (c.peek() == '}') {
          c.Advance();
          break;
        }
        return Error("expected , or } after a label");
      }
    }
    if (c.SkipBlanks() == 0) return Error("expected a blank before the value");
    const absl::string_view value_text = c.Token();
    std::optional<double> value = ParseValue(value_text);
    if (!value.has_value()) {
      return Error(absl::StrCat("invalid value \"", value_text, "\""));
    }
    s.value = *value;
    if (c.SkipBlanks() > 0 && !c.done()) {
      const absl::string_view ts = c.Token();
      int64_t t = 0;
      if (ts.empty() || !(absl::ascii_isdigit(ts[0]) || ts[0] == '-') ||
          !absl::SimpleAtoi(ts, &t)) {
        return Error(absl::StrCat("invalid timestamp \"", ts, "\""));
      }
      s.timestamp_ms = t;
      c.SkipBlanks();
    }
    if (!c.done()) return Error("text after the value");

    absl::StatusOr<std::pair<std::string, std::string>> part = Resolve(name);
    if (!part.ok()) return part.status();
    const auto& [family_name, suffix] = *part;
    if (absl::Status st = Enter(family_name); !st.ok()) return st;
    PromFamily& f = Family(family_name);
    if (!series_.insert(SeriesKey(name, s.labels)).second) {
      return Error("duplicate series " + SeriesKey(name, s.labels));
    }
    const bool has_le = s.labels.contains("le");
    const bool has_quantile = s.labels.contains("quantile");
    if (f.type == "counter" && (s.value < 0 || std::isnan(s.value))) {
      return Error(absl::StrCat("counter ", name, " is ", value_text));
    }
    if (f.type == "histogram") {
      if ((suffix == "_bucket") != has_le) {
        return Error(suffix == "_bucket" ? "a _bucket sample without le"
                                         : "le on a non-bucket sample");
      }
      PromLabels key = s.labels;
      key.erase("le");
      HistogramSeries& h = histograms_[SeriesKey(family_name, key)];
      if (h.first_line == 0) h.first_line = line_;
      if (s.value < 0 || std::isnan(s.value)) {
        return Error(absl::StrCat(name, " is ", value_text));
      }
      if (suffix == "_bucket") {
        std::optional<double> le = ParseValue(s.labels.at("le"));
        if (!le.has_value() || std::isnan(*le)) {
          return Error(
              absl::StrCat("le=\"", s.labels.at("le"), "\" is not a number"));
        }
        h.buckets.emplace_back(*le, s.value);
      } else if (suffix == "_sum") {
        h.sum = s.value;
      } else {
        h.count = s.value;
      }
    }
    if (f.type == "summary") {
      if (suffix.empty() != has_quantile) {
        return Error(suffix.empty() ? "a summary quantile without quantile"
                                    : "quantile on _sum or _count");
      }
      if (has_quantile) {
        std::optional<double> q = ParseValue(s.labels.at("quantile"));
        if (!q.has_value() || !(*q >= 0 && *q <= 1)) {
          return Error("quantile is not a number in [0, 1]");
        }
      }
    }
    f.samples.push_back(std::move(s));
    return absl::OkStatus();
  }

  absl::Status CheckHistograms() {
    for (auto& [series, h] : histograms_) {
      line_ = h.first_line;
      if (!h.sum.has_value()) return Error(series + ": no _sum");
      if (!h.count.has_value()) return Error(series + ": no _count");
      if (h.buckets.empty()) return Error(series + ": no buckets");
      std::vector<std::pair<double, double>> sorted = h.buckets;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 1; i < sorted.size(); ++i) {
        if (sorted[i].first == sorted[i - 1].first) {
          return Error(
              absl::StrCat(series, ": le=", sorted[i].first, " given twice"));
        }
        if (sorted[i].second < sorted[i - 1].second) {
          return Error(absl::StrCat(series, ": bucket le=", sorted[i].first,
                                    " counts ", sorted[i].second,
                                    ", less than le=", sorted[i - 1].first,
                                    " (", sorted[i - 1].second, ")"));
        }
      }
      if (!std::isinf(sorted.back().first) || sorted.back().first < 0) {
        return Error(series + ": no le=\"+Inf\" bucket");
      }
      if (sorted.back().second != *h.count) {
        return Error(absl::StrCat(series, ": +Inf bucket ",
                                  sorted.back().second, " != _count ",
                                  *h.count));
      }
    }
    return absl::OkStatus();
  }

  PromExposition out_;
  int line_ = 0;
  std::string current_;
  std::set<std::string> closed_;
  std::set<std::string> series_;
  std::map<std::string, HistogramSeries> histograms_;
};

}  // namespace

std::optional<double> PromExposition::Value(absl::string_view name,
                                            const PromLabels& labels) const {
  const PromFamily* f = FamilyOf(name);
  if (f == nullptr) return std::nullopt;
  for (const PromSample& s : f->samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

const PromFamily* PromExposition::FamilyOf(absl::string_view name) const {
  if (auto it = families.find(std::string(name)); it != families.end()) {
    return &it->second;
  }
  for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!absl::EndsWith(name, suffix)) continue;
    absl::string_view base = name;
    base.remove_suffix(suffix.size());
    if (auto it = families.find(std::string(base)); it != families.end()) {
      return &it->second;
    }
  }
  return nullptr;
}

absl::StatusOr<PromExposition> ParsePrometheusText(absl::string_view text) {
  return Parser().Run(text);
}

}  // namespace nearcache
