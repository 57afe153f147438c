#include "service/key_lookup.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace nearcache {

const char* LookupResultName(LookupResult result, const Value* value) {
  switch (result) {
    case LookupResult::kHit:
    case LookupResult::kMiss:
    case LookupResult::kStale:
      if (value != nullptr && !value->exists()) return "NOT_FOUND";
      return result == LookupResult::kHit    ? "HIT"
             : result == LookupResult::kMiss ? "MISS"
                                             : "STALE";
    case LookupResult::kNegativeHit:
      return "NOT_FOUND";
    case LookupResult::kError:
      return "ERROR";
  }
  return "ERROR";
}

void KeyLookup::Add(absl::string_view key, FetchKind kind) {
  KeyResult& r = results_.emplace_back();
  r.key = key;
  r.kind = kind;
}

boost::asio::awaitable<void> KeyLookup::Resolve(ShardedLruCache* cache,
                                                Fetcher* fetcher,
                                                LookupCounters* counters) {
  if (ResolveCached(cache, counters)) co_return;
  co_await ResolveFetched(cache, fetcher, counters);
}

bool KeyLookup::ResolveCached(ShardedLruCache* cache,
                              LookupCounters* counters) {
  fetches_.clear();
  for (KeyResult& r : results_) {
    r.cached = cache->Lookup(r.key);
    if (r.cached.has_value() && r.cached->state == EntryState::kFresh) {
      r.value = std::move(r.cached->value);
      r.age = r.cached->age;
      r.cached.reset();
      if (r.value->exists()) {
        r.result = LookupResult::kHit;
        LookupCounters::Add(counters->hit);
      } else {
        r.result = LookupResult::kNegativeHit;
        LookupCounters::Add(counters->negative_hit);
      }
    } else {
      r.fetch_index = static_cast<int>(fetches_.size());
      fetches_.push_back(FetchRequest{std::string(r.key), r.kind});
    }
  }
  return fetches_.empty();
}

boost::asio::awaitable<void> KeyLookup::ResolveFetched(
    ShardedLruCache* cache, Fetcher* fetcher, LookupCounters* counters) {
  if (fetches_.empty()) co_return;
  std::vector<FetchOutcome> outcomes =
      co_await fetcher->Fetch(std::move(fetches_));
  fetches_ = {};
  for (KeyResult& r : results_) {
    if (r.fetch_index < 0) continue;
    const FetchOutcome& outcome = outcomes[r.fetch_index];
    if (outcome.status.ok()) {
      r.result = LookupResult::kMiss;
      LookupCounters::Add(counters->miss);
      r.age = absl::ZeroDuration();
      if (outcome.redis_error.empty()) {
        r.value = outcome.value;
      } else {
        r.error = outcome.redis_error;
      }
    } else if (r.cached.has_value()) {
      // Stale-if-error: Lookup returned it, so it is within its window.
      r.result = LookupResult::kStale;
      r.value = r.cached->value;
      r.age = r.cached->age;
      cache->RecordStaleHit();
      LookupCounters::Add(counters->stale);
    } else {
      r.result = LookupResult::kError;
      LookupCounters::Add(counters->error);
      r.error = absl::StrCat("ERR nearcache: Redis unavailable (",
                             outcome.status.message(),
                             ") and no cached value to serve");
    }
  }
}

}  // namespace nearcache
