// Hit-ratio simulator for the cache core: replays Zipf-distributed request
// traces (the skew of online feature reads: a few hot entities, a long tail)
// through ShardedLruCache with a ManualClock and ttls long enough that only
// eviction matters, and prints a table. No Redis: a miss is a read-through
// that stores a 1 KiB value. Deterministic: fixed seed, no wall clock.
//
// Usage: hit_ratio_sim     (figures in docs/benchmarks.md, "Cache core")
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "tests/fakes/manual_clock.h"

namespace nearcache {
namespace {

constexpr int kKeys = 100000;
constexpr int kRequests = 1000000;
constexpr int kWarmup = kRequests / 10;
constexpr size_t kValueBytes = 1024;
constexpr uint64_t kSeed = 42;

// Ranks 0..kKeys-1 drawn with P(r) proportional to 1 / (r + 1)^s.
class Zipf {
 public:
  explicit Zipf(double s) : cdf_(kKeys) {
    double sum = 0;
    for (int r = 0; r < kKeys; ++r) {
      sum += 1.0 / std::pow(r + 1, s);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  int Sample(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<int>(it - cdf_.begin(), kKeys - 1);
  }
  // The share of requests that go to the `k` most popular keys: what a cache
  // that held exactly those keys would hit: the ceiling for any policy that
  // does not know the future, LRU included.
  double TopShare(int k) const { return k == 0 ? 0 : cdf_[k - 1]; }

 private:
  std::vector<double> cdf_;
};

struct Result {
  double hit_ratio;
  double warm_hit_ratio;  // after the first kWarmup requests
  uint64_t evictions;
};

Result Replay(const std::vector<int>& trace,
              const std::vector<std::string>& keys, size_t capacity_entries,
              int num_shards) {
  const ValuePtr value = Value::String(std::string(kValueBytes, 'v'));
  CacheOptions options;
  options.max_bytes =
      capacity_entries * ShardedLruCache::Charge(keys[0], *value);
  options.ttl = absl::Hours(24 * 365);  // nothing expires: eviction only
  options.negative_ttl = options.ttl;
  options.max_stale = options.ttl;
  options.num_shards = num_shards;
  ManualClock clock;
  ShardedLruCache cache(options, &clock);

  uint64_t hits = 0, warm_hits = 0;
  for (int i = 0; i < kRequests; ++i) {
    const std::string& key = keys[trace[i]];
    const auto entry = cache.Lookup(key);
    if (entry && entry->state == EntryState::kFresh) {
      ++hits;
      if (i >= kWarmup) ++warm_hits;
      continue;
    }
    cache.Insert(key, cache.BeginFetch(key), value);
    clock.Advance(absl::Microseconds(100));
  }
  return Result{static_cast<double>(hits) / kRequests,
                static_cast<double>(warm_hits) / (kRequests - kWarmup),
                cache.Stats().evictions_size};
}

void Run() {
  // Fixed-width keys, so that every entry is charged the same and the cache
  // holds exactly the intended number of entries.
  std::vector<std::string> keys(kKeys);
  for (int i = 0; i < kKeys; ++i) keys[i] = absl::StrFormat("entity:%06d", i);
  // Popularity is unrelated to the key's name (and so to its shard).
  std::mt19937_64 rng(kSeed);
  std::shuffle(keys.begin(), keys.end(), rng);

  absl::PrintF("Zipf traces: %d requests over %d keys, seed %d, %d B values\n",
               kRequests, kKeys, kSeed, kValueBytes);
  absl::PrintF("%-6s %-12s %-8s %-7s %-10s %-12s %-10s %-10s\n", "zipf_s",
               "cache", "entries", "shards", "hit_ratio", "warm_ratio",
               "evictions", "top_k_share");
  for (double s : {0.9, 0.99}) {
    const Zipf zipf(s);
    std::vector<int> trace(kRequests);
    rng.seed(kSeed);
    for (int& r : trace) r = zipf.Sample(rng);
    for (double fraction : {0.01, 0.10}) {
      const size_t entries = static_cast<size_t>(kKeys * fraction);
      for (int shards : {1, 16}) {
        const Result r = Replay(trace, keys, entries, shards);
        absl::PrintF("%-6.2f %-12s %-8d %-7d %-10.4f %-12.4f %-10d %-10.4f\n",
                     s, absl::StrFormat("%.0f%% keys", fraction * 100), entries,
                     shards, r.hit_ratio, r.warm_hit_ratio, r.evictions,
                     zipf.TopShare(entries));
      }
    }
  }
  absl::PrintF(
      "warm_ratio: hits after the first %d requests; top_k_share: requests to "
      "the `entries` most popular keys (a static cache's ceiling)\n",
      kWarmup);
}

}  // namespace
}  // namespace nearcache

int main() {
  nearcache::Run();
  return 0;
}
