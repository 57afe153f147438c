// KeyLookup: resolves a batch of keys the way every front-end must — fresh
// entries from the cache, the rest from Redis in one Fetcher call, and a
// stale entry when Redis cannot be asked — and says how each one ended
// (HIT, MISS, STALE, ...), counting it once in LookupCounters.
//
//   KeyLookup batch;
//   batch.Add(key, FetchKind::kString);        // views must outlive Resolve
//   co_await batch.Resolve(cache, fetcher, counters);
//   for (const KeyResult& r : batch.results()) ...
#ifndef NEARCACHE_SERVICE_KEY_LOOKUP_H_
#define NEARCACHE_SERVICE_KEY_LOOKUP_H_

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "nearcache/cache.h"
#include "service/lookup_counters.h"
#include "service/lookup_service.h"

namespace nearcache {

enum class LookupResult : uint8_t {
  kHit,          // fresh value from the cache
  kNegativeHit,  // fresh "does not exist" from the cache
  kMiss,         // read from Redis now (value or Redis error reply)
  kStale,        // Redis unavailable: served a non-fresh cached entry
  kError,        // Redis unavailable and nothing usable cached
};

// HIT, MISS, STALE, NOT_FOUND or ERROR, as the HTTP API reports it.
const char* LookupResultName(LookupResult result, const Value* value);

struct KeyResult {
  absl::string_view key;
  FetchKind kind = FetchKind::kString;
  LookupResult result = LookupResult::kError;
  ValuePtr value;      // set unless `error` is
  std::string error;   // Redis's error text ("WRONGTYPE ...") or nearcache's
  absl::Duration age;  // how old `value` is (zero when just read)
  bool transport_error() const { return result == LookupResult::kError; }

  // Internal to Resolve.
  std::optional<CacheEntry> cached;
  int fetch_index = -1;
};

// Thread-compatible: one per connection or request; reusable via Clear(),
// which keeps the capacity so steady state allocates nothing on hits.
class KeyLookup {
 public:
  void Add(absl::string_view key, FetchKind kind);
  size_t size() const { return results_.size(); }
  bool empty() const { return results_.empty(); }

  boost::asio::awaitable<void> Resolve(ShardedLruCache* cache, Fetcher* fetcher,
                                       LookupCounters* counters);

  // Resolve() in two steps, so that a batch the cache answers entirely runs
  // without suspending (no coroutine frame, no trip through the event loop):
  // ResolveCached() looks every key up and returns true when all were
  // fresh; otherwise ResolveFetched() must be awaited to finish the batch.
  bool ResolveCached(ShardedLruCache* cache, LookupCounters* counters);
  boost::asio::awaitable<void> ResolveFetched(ShardedLruCache* cache,
                                              Fetcher* fetcher,
                                              LookupCounters* counters);

  absl::Span<const KeyResult> results() const { return results_; }
  const KeyResult& operator[](size_t i) const { return results_[i]; }
  void Clear() { results_.clear(); }

 private:
  std::vector<KeyResult> results_;
  std::vector<FetchRequest> fetches_;
};

}  // namespace nearcache

#endif  // NEARCACHE_SERVICE_KEY_LOOKUP_H_
