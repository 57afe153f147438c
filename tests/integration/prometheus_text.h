// A strict parser of the Prometheus text exposition format (version 0.0.4)
// for tests: it refuses whatever a Prometheus server would refuse or
// silently mangle, so that a test scraping /metrics fails on a malformed
// exposition instead of reading a wrong number.
//
// Checked:
//   - "# HELP name text" (escapes \\ and \n only) and "# TYPE name type"
//     (counter, gauge, histogram, summary, untyped), at most one of each per
//     family, TYPE before the family's first sample; other "#" lines are
//     comments;
//   - metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
//     (not starting with "__"), label values quoted with the escapes \\ \"
//     \n only, no label given twice, an optional trailing comma;
//   - values as Go's ParseFloat reads them (incl. NaN, +Inf, -Inf), an
//     optional integer timestamp, nothing else on the line;
//   - every sample belongs to a TYPE'd family (counter/gauge/untyped: the
//     family name; histogram: _bucket with le, _sum, _count; summary: the
//     name with quantile, _sum, _count), a family's lines are contiguous,
//     no series (name + label set) appears twice;
//   - counters, histogram counts and sums are not negative; for each
//     histogram series: le values are numbers, cumulative bucket counts do
//     not decrease as le grows, a +Inf bucket exists and equals _count, and
//     _sum and _count are present;
//   - the text ends with a newline.
//
//   absl::StatusOr<PromExposition> e = ParsePrometheusText(body);
//   ASSERT_TRUE(e.ok()) << e.status();
//   std::optional<double> hits =
//       e->Value("nearcache_lookups_total", {{"result", "hit"}});
#ifndef NEARCACHE_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_
#define NEARCACHE_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nearcache {

// Label name -> value; a map, so that label order does not matter.
using PromLabels = std::map<std::string, std::string>;

struct PromSample {
  std::string name;  // as written: "x_bucket", "x_sum", ...
  PromLabels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct PromFamily {
  std::string name;
  std::string type;  // "counter", "gauge", "histogram", "summary", "untyped"
  std::optional<std::string> help;  // unescaped
  std::vector<PromSample> samples;  // in the order they appeared
};

// Thread-compatible plain data.
struct PromExposition {
  std::map<std::string, PromFamily> families;  // by family name

  // The value of the sample `name` with exactly `labels`; nullopt when
  // there is none.
  std::optional<double> Value(absl::string_view name,
                              const PromLabels& labels = {}) const;
  // The family a sample name belongs to, or nullptr.
  const PromFamily* FamilyOf(absl::string_view sample_name) const;
};

// Parses `text`; the error names the line number and what is wrong.
absl::StatusOr<PromExposition> ParsePrometheusText(absl::string_view text);

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_INTEGRATION_PROMETHEUS_TEXT_H_
