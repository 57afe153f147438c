// Metric primitives for the data plane: plain atomics, created once at start
// and handed to the layers as pointers, never looked up by name on the hot
// path. The Prometheus exposition (src/app/prometheus_text.h) reads them at
// scrape time.
#ifndef NEARCACHE_METRICS_METRICS_H_
#define NEARCACHE_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace nearcache {

// Thread-safe: Observe() is a few relaxed atomic adds.
// Buckets fit a sidecar: 10 µs to 1 s.
class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = 16;
  static constexpr std::array<double, kBuckets> kUpperBounds = {
      10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3,
      5e-3,  10e-3, 25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0};

  void Observe(absl::Duration d);

  struct Snapshot {
    std::array<uint64_t, kBuckets + 1> counts{};  // per bucket; last: +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot Take() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// Thread-safe: a fixed set of counters, one per label value, indexed by the
// position of the label given at construction.
class LabeledCounters {
 public:
  explicit LabeledCounters(std::vector<std::string> labels);

  void Inc(size_t index, uint64_t n = 1) {
    values_[index].fetch_add(n, std::memory_order_relaxed);
  }
  size_t size() const { return labels_.size(); }
  const std::string& label(size_t index) const { return labels_[index]; }
  uint64_t value(size_t index) const {
    return values_[index].load(std::memory_order_relaxed);
  }

 private:
  std::vector<std::string> labels_;
  std::unique_ptr<std::atomic<uint64_t>[]> values_;
};

// What one front-end (resp or http) counts.
struct FrontendMetrics {
  explicit FrontendMetrics(std::vector<std::string> commands)
      : requests(std::move(commands)) {}
  LabeledCounters requests;   // nearcache_requests_total{command}
  LatencyHistogram duration;  // nearcache_request_duration_seconds
};

}  // namespace nearcache

#endif  // NEARCACHE_METRICS_METRICS_H_
