#include "metrics/metrics.h"

#include <algorithm>

namespace nearcache {

void LatencyHistogram::Observe(absl::Duration d) {
  const double seconds = absl::ToDoubleSeconds(d);
  const size_t bucket =
      std::lower_bound(kUpperBounds.begin(), kUpperBounds.end(), seconds) -
      kUpperBounds.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  sum_ns_.fetch_add(ns > 0 ? static_cast<uint64_t>(ns) : 0,
                    std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::Take() const {
  Snapshot s;
  for (size_t i = 0; i < counts_.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum_seconds =
      static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

LabeledCounters::LabeledCounters(std::vector<std::string> labels)
    : labels_(std::move(labels)),
      values_(new std::atomic<uint64_t>[labels_.size()]) {
  for (size_t i = 0; i < labels_.size(); ++i) values_[i].store(0);
}

}  // namespace nearcache
