// LookupCounters: how each key lookup ended, counted by the front-ends.
// These become nearcache_lookups_total{result=...} in the metrics layer.
#ifndef NEARCACHE_SERVICE_LOOKUP_COUNTERS_H_
#define NEARCACHE_SERVICE_LOOKUP_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace nearcache {

// Thread-safe: relaxed atomic counters.
struct LookupCounters {
  std::atomic<uint64_t> hit{0};           // fresh value from the cache
  std::atomic<uint64_t> negative_hit{0};  // fresh "does not exist"
  std::atomic<uint64_t> miss{0};          // read from Redis now
  std::atomic<uint64_t> stale{0};         // Redis unavailable: served stale
  std::atomic<uint64_t> error{0};         // Redis unavailable, nothing usable

  static void Add(std::atomic<uint64_t>& c) {
    c.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace nearcache

#endif  // NEARCACHE_SERVICE_LOOKUP_COUNTERS_H_
