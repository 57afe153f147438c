// LatencyHistogram: an HDR-style log-linear histogram of nanosecond values.
// Every power of two is split into kSubBuckets linear buckets, so a recorded
// value is known to within 1/kSubBuckets (0.8%) of itself; values from 1 ns
// to ~18 minutes fit (larger ones are clamped and counted in max()).
//
// Thread-compatible: one per thread, merged with Merge() at the end.
#ifndef NEARCACHE_BENCH_LOADGEN_HISTOGRAM_H_
#define NEARCACHE_BENCH_LOADGEN_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace nearcache::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  static constexpr int kMaxExponent = 40;  // 2^40 ns ~ 18 minutes
  static constexpr size_t kBuckets =
      (kMaxExponent - kSubBucketBits + 2) * kSubBuckets;

  void Record(uint64_t ns) {
    ++counts_[IndexOf(ns)];
    ++count_;
    sum_ += ns;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t max() const { return count_ == 0 ? 0 : max_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const {
    return count_ == 0 ? 0 : static_cast<double>(sum_) / count_;
  }

  // The smallest recorded-bucket upper bound at or below which `q` (0..1) of
  // the values lie; never above max().
  uint64_t Quantile(double q) const {
    if (count_ == 0) return 0;
    const uint64_t rank = std::max<uint64_t>(
        1, static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperBoundOf(i), max_);
    }
    return max_;
  }

  static size_t IndexOf(uint64_t v) {
    if (v < kSubBuckets) return static_cast<size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    if (msb > kMaxExponent) return kBuckets - 1;
    const int shift = msb - kSubBucketBits;  // >= 0
    const uint64_t mantissa = v >> shift;    // in [kSubBuckets, 2*kSubBuckets)
    return static_cast<size_t>((shift + 1) * kSubBuckets +
                               (mantissa - kSubBuckets));
  }

  // The largest value that maps to bucket `i`.
  static uint64_t UpperBoundOf(size_t i) {
    if (i < kSubBuckets) return i;
    const uint64_t shift = i / kSubBuckets - 1;
    const uint64_t mantissa = kSubBuckets + i % kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace nearcache::bench

#endif  // NEARCACHE_BENCH_LOADGEN_HISTOGRAM_H_
