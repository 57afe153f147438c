// The contract of ShardedLruCache (include/nearcache/cache.h), one behaviour
// per test: LRU order, byte accounting, ttl / Redis expiry, the stale window,
// invalidation and the in-flight fetch race, resizing. Time comes from a
// ManualClock; nothing here depends on wall-clock time.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "tests/fakes/manual_clock.h"

namespace nearcache {
namespace {

using std::string_literals::operator""s;

constexpr absl::Duration kTtl = absl::Seconds(10);
constexpr absl::Duration kNegativeTtl = absl::Seconds(2);
constexpr absl::Duration kMaxStale = absl::Seconds(60);
constexpr absl::Duration kNs = absl::Nanoseconds(1);

// The LRU tests use entries charged exactly this much, three to a cache.
constexpr size_t kEntryCharge = 200;

ValuePtr Str(absl::string_view bytes) {
  return Value::String(std::string(bytes));
}

// A string value whose entry under `key` is charged exactly `charge` bytes.
ValuePtr ValueCharged(absl::string_view key, size_t charge) {
  return Value::String(
      std::string(charge - key.size() - ShardedLruCache::kEntryOverhead, 'v'));
}

class ShardedLruCacheTest : public testing::Test {
 protected:
  ShardedLruCacheTest() { Reset(Options()); }

  static CacheOptions Options(size_t max_bytes = 3 * kEntryCharge,
                              int num_shards = 1) {
    CacheOptions options;
    options.max_bytes = max_bytes;
    options.ttl = kTtl;
    options.negative_ttl = kNegativeTtl;
    options.max_stale = kMaxStale;
    options.num_shards = num_shards;
    return options;
  }

  void Reset(const CacheOptions& options) {
    cache_ = std::make_unique<ShardedLruCache>(options, &clock_);
  }

  // A read-through with nothing racing it: ticket, Redis answers, Insert.
  InsertResult Put(absl::string_view key, ValuePtr value,
                   std::optional<absl::Time> deadline = std::nullopt) {
    const FetchTicket ticket = cache_->BeginFetch(key);
    return cache_->Insert(key, ticket, std::move(value), deadline);
  }
  InsertResult Put(absl::string_view key, absl::string_view value) {
    return Put(key, Str(value));
  }
  // Stores a kEntryCharge-byte entry.
  InsertResult PutEntry(absl::string_view key) {
    return Put(key, ValueCharged(key, kEntryCharge));
  }

  // Lookup as a word: "fresh", "expired", "invalidated" or "absent".
  std::string State(absl::string_view key) {
    const std::optional<CacheEntry> e = cache_->Lookup(key);
    return e ? EntryStateName(e->state) : "absent";
  }
  // The cached string, whatever its state, or "absent".
  std::string Get(absl::string_view key) {
    const std::optional<CacheEntry> e = cache_->Lookup(key);
    return e ? std::string(e->value->str()) : "absent";
  }
  bool Contains(absl::string_view key) {
    return cache_->Lookup(key).has_value();
  }
  CacheStats Stats() const { return cache_->Stats(); }

  ManualClock clock_;
  std::unique_ptr<ShardedLruCache> cache_;
};

// ---------------------------------------------------------------------------
// LRU order (one shard, room for three entries).

TEST_F(ShardedLruCacheTest, EvictsTheLeastRecentlyInsertedFirst) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  PutEntry("d");
  EXPECT_FALSE(Contains("a"));
  EXPECT_TRUE(Contains("b"));
  EXPECT_TRUE(Contains("c"));
  EXPECT_TRUE(Contains("d"));
  EXPECT_EQ(Stats().evictions_size, 1u);
}

TEST_F(ShardedLruCacheTest, LookupMakesAnEntryMostRecentlyUsed) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  ASSERT_TRUE(Contains("a"));
  PutEntry("d");
  EXPECT_TRUE(Contains("a"));
  EXPECT_FALSE(Contains("b"));
}

TEST_F(ShardedLruCacheTest, InsertMakesAnEntryMostRecentlyUsed) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  PutEntry("a");
  PutEntry("d");
  EXPECT_TRUE(Contains("a"));
  EXPECT_FALSE(Contains("b"));
  EXPECT_EQ(Stats().evictions_size, 1u);
}

TEST_F(ShardedLruCacheTest, LookupOfANonFreshEntryAlsoMakesItMostRecent) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  clock_.Advance(kTtl);
  ASSERT_EQ(State("a"), "expired");
  PutEntry("d");
  EXPECT_TRUE(Contains("a"));
  EXPECT_FALSE(Contains("b"));
}

TEST_F(ShardedLruCacheTest, InvalidateAndMissesDoNotChangeRecency) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  cache_->Invalidate("a");
  EXPECT_FALSE(Contains("zzz"));
  PutEntry("d");
  EXPECT_FALSE(Contains("a"));
  EXPECT_TRUE(Contains("b"));
}

TEST_F(ShardedLruCacheTest, EvictsAsManyEntriesAsTheNewOneNeeds) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  Put("d", ValueCharged("d", 2 * kEntryCharge));
  EXPECT_FALSE(Contains("a"));
  EXPECT_FALSE(Contains("b"));
  EXPECT_TRUE(Contains("c"));
  EXPECT_TRUE(Contains("d"));
  EXPECT_EQ(Stats().evictions_size, 2u);
}

// ---------------------------------------------------------------------------
// Bytes.

TEST_F(ShardedLruCacheTest, ChargeIsKeyPlusPayloadPlusOverhead) {
  constexpr size_t kOverhead = ShardedLruCache::kEntryOverhead;
  EXPECT_EQ(ShardedLruCache::Charge("key", *Str("hello")), 3 + 5 + kOverhead);
  EXPECT_EQ(ShardedLruCache::Charge("k\0y"s, *Str("\0\0"s)), 3 + 2 + kOverhead);
  EXPECT_EQ(ShardedLruCache::Charge("key", *Value::NotFound()), 3 + kOverhead);
  const ValuePtr hash = Value::Hash({{"f1", "one"}, {"\0f"s, ""}});
  EXPECT_EQ(ShardedLruCache::Charge("h", *hash),
            1 + (2 + 3) + (2 + 0) + 2 * Value::kPerFieldOverhead + kOverhead);
}

TEST_F(ShardedLruCacheTest, BytesAreTheSumOfTheLiveEntriesCharges) {
  Reset(Options(/*max_bytes=*/100000));
  const ValuePtr hash = Value::Hash({{"f", "value"}, {"g", ""}});
  Put("s", "hello");
  Put("h", hash);
  Put("n", Value::NotFound());
  EXPECT_EQ(Stats().bytes,
            ShardedLruCache::Charge("s", *Str("hello")) +
                ShardedLruCache::Charge("h", *hash) +
                ShardedLruCache::Charge("n", *Value::NotFound()));
  EXPECT_EQ(Stats().entries, 3u);

  Put("s", "a much longer value than before");  // replaced: new charge only
  cache_->Erase("h");
  EXPECT_EQ(
      Stats().bytes,
      ShardedLruCache::Charge("s", *Str("a much longer value than before")) +
          ShardedLruCache::Charge("n", *Value::NotFound()));
  EXPECT_EQ(Stats().entries, 2u);
}

TEST_F(ShardedLruCacheTest, InvalidatedAndExpiredEntriesStillCountUntilGone) {
  PutEntry("a");
  PutEntry("b");
  cache_->Invalidate("a");
  clock_.Advance(kTtl);
  EXPECT_EQ(Stats().bytes, 2 * kEntryCharge);
  clock_.Advance(kMaxStale);
  EXPECT_FALSE(Contains("a"));
  EXPECT_FALSE(Contains("b"));
  EXPECT_EQ(Stats().bytes, 0u);
  EXPECT_EQ(Stats().entries, 0u);
}

TEST_F(ShardedLruCacheTest, AnEntryExactlyFillingTheCacheIsStored) {
  EXPECT_EQ(Put("a", ValueCharged("a", 3 * kEntryCharge)),
            InsertResult::kStoredFresh);
  EXPECT_EQ(Stats().bytes, 3 * kEntryCharge);
}

TEST_F(ShardedLruCacheTest, TooLargeEntryIsRejectedAndEvictsNothing) {
  PutEntry("a");
  PutEntry("b");
  EXPECT_EQ(Put("big", ValueCharged("big", 3 * kEntryCharge + 1)),
            InsertResult::kTooLarge);
  EXPECT_FALSE(Contains("big"));
  EXPECT_TRUE(Contains("a"));
  EXPECT_TRUE(Contains("b"));
  EXPECT_EQ(Stats().bytes, 2 * kEntryCharge);
  EXPECT_EQ(Stats().evictions_size, 0u);
}

TEST_F(ShardedLruCacheTest, TooLargeMeansLargerThanAShardsShare) {
  Reset(Options(/*max_bytes=*/4000, /*num_shards=*/4));
  ASSERT_EQ(cache_->num_shards(), 4);
  EXPECT_EQ(Put("a", ValueCharged("a", 1001)), InsertResult::kTooLarge);
  EXPECT_EQ(Put("a", ValueCharged("a", 1000)), InsertResult::kStoredFresh);
}

TEST_F(ShardedLruCacheTest, NumShardsIsRoundedUpToAPowerOfTwo) {
  Reset(Options(1 << 20, /*num_shards=*/3));
  EXPECT_EQ(cache_->num_shards(), 4);
  Reset(Options(1 << 20, /*num_shards=*/0));
  EXPECT_EQ(cache_->num_shards(), 1);
  Reset(Options(1 << 20, /*num_shards=*/16));
  EXPECT_EQ(cache_->num_shards(), 16);
}

TEST_F(ShardedLruCacheTest, BytesNeverExceedMaxBytesWithManyShards) {
  Reset(Options(/*max_bytes=*/16 * 1024, /*num_shards=*/8));
  for (int i = 0; i < 2000; ++i) {
    Put("key" + std::to_string(i), std::string(i % 700, 'x'));
    ASSERT_LE(Stats().bytes, Stats().max_bytes) << "after insert " << i;
  }
  EXPECT_GT(Stats().evictions_size, 0u);
}

TEST_F(ShardedLruCacheTest, KeysAndValuesAreBinarySafe) {
  Reset(Options(/*max_bytes=*/100000));
  Put("a\0b"s, "one\0"s);
  Put("a\0c"s, "two");
  Put("a", "three");
  EXPECT_EQ(Get("a\0b"s), "one\0"s);
  EXPECT_EQ(Get("a\0c"s), "two");
  EXPECT_EQ(Get("a"), "three");
  EXPECT_EQ(Get("a\0"s), "absent");
  EXPECT_EQ(Stats().bytes, ShardedLruCache::Charge("a\0b"s, *Str("one\0"s)) +
                               ShardedLruCache::Charge("a\0c"s, *Str("two")) +
                               ShardedLruCache::Charge("a", *Str("three")));
}

TEST_F(ShardedLruCacheTest, HashesAndNotFoundAreReturnedAsStored) {
  Reset(Options(/*max_bytes=*/100000));
  Put("h", Value::Hash({{"\0f"s, "v\0"s}, {"g", "w"}}));
  Put("n", Value::NotFound());
  const std::optional<CacheEntry> h = cache_->Lookup("h");
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(h->value->is_hash());
  EXPECT_EQ(*h->value->FindField("\0f"s), "v\0"s);
  const std::optional<CacheEntry> n = cache_->Lookup("n");
  ASSERT_TRUE(n.has_value());
  EXPECT_FALSE(n->value->exists());
  EXPECT_EQ(n->state, EntryState::kFresh);
}

// ---------------------------------------------------------------------------
// Freshness: ttl, negative_ttl, the key's Redis expiry.

TEST_F(ShardedLruCacheTest, FreshForLessThanTtlThenExpired) {
  Put("a", "v");
  clock_.Advance(kTtl - kNs);
  EXPECT_EQ(State("a"), "fresh");
  clock_.Advance(kNs);
  EXPECT_EQ(State("a"), "expired");
  EXPECT_EQ(Get("a"), "v");  // kept for stale-if-error
}

TEST_F(ShardedLruCacheTest, AgeIsTimeSinceTheFetchBegan) {
  const FetchTicket ticket = cache_->BeginFetch("a");
  clock_.Advance(absl::Seconds(3));  // Redis is slow to answer
  cache_->Insert("a", ticket, Str("v"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(cache_->Lookup("a")->age, absl::Seconds(4));
  clock_.Advance(kTtl - absl::Seconds(4));
  EXPECT_EQ(State("a"), "expired");
}

TEST_F(ShardedLruCacheTest, RedisExpiryEarlierThanTtlCapsFreshness) {
  Put("a", Str("v"), clock_.Now() + absl::Seconds(3));
  clock_.Advance(absl::Seconds(3) - kNs);
  EXPECT_EQ(State("a"), "fresh");
  clock_.Advance(kNs);
  EXPECT_EQ(State("a"), "expired");
  // Still usable as stale for the usual window.
  clock_.Advance(kTtl + kMaxStale - absl::Seconds(3) - kNs);
  EXPECT_EQ(State("a"), "expired");
}

TEST_F(ShardedLruCacheTest, RedisExpiryLaterThanTtlDoesNotExtendFreshness) {
  Put("a", Str("v"), clock_.Now() + absl::Hours(1));
  clock_.Advance(kTtl);
  EXPECT_EQ(State("a"), "expired");
}

TEST_F(ShardedLruCacheTest, RedisExpiryAlreadyPastIsNeverFresh) {
  const absl::Time deadline = clock_.Now();
  Put("a", Str("v"), deadline);
  EXPECT_EQ(State("a"), "expired");
}

TEST_F(ShardedLruCacheTest, NotFoundIsFreshForNegativeTtlOnly) {
  Put("missing", Value::NotFound());
  Put("present", "v");
  clock_.Advance(kNegativeTtl - kNs);
  EXPECT_EQ(State("missing"), "fresh");
  clock_.Advance(kNs);
  EXPECT_EQ(State("missing"), "expired");
  EXPECT_EQ(State("present"), "fresh");
}

// The stale window of "does not exist" is negative_ttl + max_stale.
TEST_F(ShardedLruCacheTest, NotFoundStaleWindowFollowsNegativeTtl) {
  Put("missing", Value::NotFound());
  clock_.Advance(kNegativeTtl + kMaxStale - kNs);
  EXPECT_EQ(State("missing"), "expired");
  clock_.Advance(kNs);
  EXPECT_EQ(State("missing"), "absent");
}

TEST_F(ShardedLruCacheTest, SetTtlsAppliesToEntriesAlreadyStored) {
  Put("a", "v");
  Put("n", Value::NotFound());
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(State("a"), "fresh");
  cache_->SetTtls(absl::Seconds(3), kNegativeTtl, kMaxStale);
  EXPECT_EQ(State("a"), "expired");
  cache_->SetTtls(absl::Seconds(20), absl::Seconds(20), kMaxStale);
  EXPECT_EQ(State("a"), "fresh");
  EXPECT_EQ(State("n"), "fresh");
  cache_->SetTtls(absl::Seconds(3), kNegativeTtl, absl::Seconds(2));
  EXPECT_EQ(State("a"), "absent");  // past 3s + 2s of stale window
}

// ---------------------------------------------------------------------------
// The stale window and the counters.

TEST_F(ShardedLruCacheTest, ReturnedUntilTtlPlusMaxStaleThenDropped) {
  Put("a", "v");
  clock_.Advance(kTtl + kMaxStale - kNs);
  const std::optional<CacheEntry> e = cache_->Lookup("a");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, EntryState::kExpired);
  EXPECT_EQ(e->value->str(), "v");
  EXPECT_EQ(e->age, kTtl + kMaxStale - kNs);

  clock_.Advance(kNs);
  EXPECT_FALSE(cache_->Lookup("a").has_value());
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.evictions_expired, 1u);
  EXPECT_EQ(stats.evictions_size, 0u);
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
}

TEST_F(ShardedLruCacheTest, InvalidatedEntryIsDroppedAfterTheSameWindow) {
  Put("a", "v");
  cache_->Invalidate("a");
  clock_.Advance(kTtl + kMaxStale - kNs);
  EXPECT_EQ(State("a"), "invalidated");
  clock_.Advance(kNs);
  EXPECT_EQ(State("a"), "absent");
  EXPECT_EQ(Stats().evictions_expired, 1u);
}

TEST_F(ShardedLruCacheTest, CountsHitsMissesAndStaleHits) {
  Put("a", "v");
  cache_->Lookup("a");        // hit
  cache_->Lookup("nothing");  // miss
  clock_.Advance(kTtl);
  cache_->Lookup("a");  // miss: expired
  cache_->RecordStaleHit();
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.stale_hits, 1u);
}

// ---------------------------------------------------------------------------
// Invalidation.

TEST_F(ShardedLruCacheTest, InvalidateKeepsTheValueButNeverServesItFresh) {
  Put("a", "v1");
  EXPECT_TRUE(cache_->Invalidate("a"));
  const std::optional<CacheEntry> e = cache_->Lookup("a");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, EntryState::kInvalidated);
  EXPECT_EQ(e->value->str(), "v1");
  EXPECT_EQ(Stats().invalidations, 1u);
  EXPECT_EQ(Stats().misses, 1u);
}

TEST_F(ShardedLruCacheTest, InvalidateOfAnAbsentKeyReturnsFalse) {
  EXPECT_FALSE(cache_->Invalidate("nothing"));
  EXPECT_EQ(Stats().invalidations, 0u);
}

TEST_F(ShardedLruCacheTest, InvalidationWinsOverExpiry) {
  Put("a", "v");
  cache_->Invalidate("a");
  clock_.Advance(kTtl);
  EXPECT_EQ(State("a"), "invalidated");
}

TEST_F(ShardedLruCacheTest, RefetchAfterInvalidateIsFreshAgain) {
  Put("a", "v1");
  cache_->Invalidate("a");
  EXPECT_EQ(Put("a", "v2"), InsertResult::kStoredFresh);
  EXPECT_EQ(State("a"), "fresh");
  EXPECT_EQ(Get("a"), "v2");
}

TEST_F(ShardedLruCacheTest, InvalidateAllInvalidatesEveryEntry) {
  Reset(Options(/*max_bytes=*/100000, /*num_shards=*/4));
  for (int i = 0; i < 50; ++i) Put("k" + std::to_string(i), "v");
  cache_->InvalidateAll();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(State("k" + std::to_string(i)), "invalidated") << i;
  }
  EXPECT_EQ(Put("k0", "v2"), InsertResult::kStoredFresh);
  EXPECT_EQ(State("k0"), "fresh");
  EXPECT_EQ(State("k1"), "invalidated");
}

// InvalidateAll is O(1): it touches no entry, so sizes, counters and the
// LRU order are exactly as before (bench/cache_bench.cc shows the flat cost).
TEST_F(ShardedLruCacheTest, InvalidateAllTouchesNoEntry) {
  PutEntry("a");
  PutEntry("b");
  PutEntry("c");
  Contains("a");  // order, least recent first: b c a
  const CacheStats before = Stats();
  cache_->InvalidateAll();
  const CacheStats after = Stats();
  EXPECT_EQ(after.entries, before.entries);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.invalidations, before.invalidations);
  EXPECT_EQ(after.evictions_size + after.evictions_expired, 0u);
  PutEntry("d");
  EXPECT_FALSE(Contains("b"));
  PutEntry("e");
  EXPECT_FALSE(Contains("c"));
  EXPECT_EQ(State("a"), "invalidated");
}

// Without an invalidation link, nothing may be trusted as fresh: entries
// that would be fresh are reported invalidated (kept for stale-if-error).
TEST_F(ShardedLruCacheTest, FreshnessNotAllowedReportsFreshAsInvalidated) {
  Put("a", "v");
  Put("old", "w");
  clock_.Advance(kTtl);
  Put("b", "v");
  cache_->SetFreshnessAllowed(false);
  EXPECT_EQ(State("a"), "expired");
  EXPECT_EQ(State("b"), "invalidated");
  EXPECT_EQ(Get("b"), "v");
  EXPECT_EQ(Stats().hits, 0u);
  // A read-through meanwhile stores, but cannot be served fresh either.
  EXPECT_EQ(Put("c", "v"), InsertResult::kStoredFresh);
  EXPECT_EQ(State("c"), "invalidated");

  cache_->SetFreshnessAllowed(true);
  EXPECT_EQ(State("b"), "fresh");
  EXPECT_EQ(State("c"), "fresh");
  EXPECT_EQ(State("a"), "expired");
}

TEST_F(ShardedLruCacheTest, FreshnessBackOnWithInvalidateAllRevalidates) {
  cache_->SetFreshnessAllowed(false);
  Put("a", "v");
  cache_->SetFreshnessAllowed(true);
  cache_->InvalidateAll();
  EXPECT_EQ(State("a"), "invalidated");
  EXPECT_EQ(Put("a", "v2"), InsertResult::kStoredFresh);
  EXPECT_EQ(State("a"), "fresh");
}

// ---------------------------------------------------------------------------
// The in-flight fetch race (FetchTicket).

TEST_F(ShardedLruCacheTest, InvalidateDuringAFetchOfAPresentKeyStoresStale) {
  Put("a", "v1");
  const FetchTicket ticket = cache_->BeginFetch("a");
  cache_->Invalidate("a");
  EXPECT_EQ(cache_->Insert("a", ticket, Str("v2")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(State("a"), "invalidated");
  EXPECT_EQ(Get("a"), "v2");
}

TEST_F(ShardedLruCacheTest, InvalidateDuringAFetchOfAnAbsentKeyStoresStale) {
  const FetchTicket ticket = cache_->BeginFetch("a");
  EXPECT_FALSE(cache_->Invalidate("a"));
  EXPECT_EQ(cache_->Insert("a", ticket, Str("v")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(State("a"), "invalidated");
}

TEST_F(ShardedLruCacheTest, InvalidateAllDuringAFetchStoresStale) {
  const FetchTicket ticket = cache_->BeginFetch("a");
  cache_->InvalidateAll();
  EXPECT_EQ(cache_->Insert("a", ticket, Str("v")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(State("a"), "invalidated");
}

TEST_F(ShardedLruCacheTest, InvalidateOfAnotherKeyDoesNotAffectAFetch) {
  const FetchTicket ticket = cache_->BeginFetch("a");
  cache_->Invalidate("b");
  EXPECT_EQ(cache_->Insert("a", ticket, Str("v")), InsertResult::kStoredFresh);
}

TEST_F(ShardedLruCacheTest, TicketTakenAfterAnInvalidationStoresFresh) {
  Put("a", "v1");
  cache_->Invalidate("a");
  cache_->InvalidateAll();
  const FetchTicket ticket = cache_->BeginFetch("a");
  EXPECT_EQ(cache_->Insert("a", ticket, Str("v2")), InsertResult::kStoredFresh);
  EXPECT_EQ(State("a"), "fresh");
}

TEST_F(ShardedLruCacheTest, EveryOverlappingFetchSeesTheInvalidation) {
  const FetchTicket first = cache_->BeginFetch("a");
  const FetchTicket second = cache_->BeginFetch("a");
  cache_->Invalidate("a");
  EXPECT_EQ(cache_->Insert("a", first, Str("v1")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(cache_->Insert("a", second, Str("v2")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(State("a"), "invalidated");
}

TEST_F(ShardedLruCacheTest, LaterFetchStoredFirstSupersedesTheEarlierOne) {
  const FetchTicket earlier = cache_->BeginFetch("a");
  const FetchTicket later = cache_->BeginFetch("a");
  EXPECT_EQ(cache_->Insert("a", later, Str("new")), InsertResult::kStoredFresh);
  EXPECT_EQ(cache_->Insert("a", earlier, Str("old")),
            InsertResult::kSuperseded);
  EXPECT_EQ(Get("a"), "new");
  EXPECT_EQ(State("a"), "fresh");
  EXPECT_EQ(Stats().entries, 1u);
}

TEST_F(ShardedLruCacheTest, LaterFetchReplacesAnEarlierOneStoredFirst) {
  const FetchTicket earlier = cache_->BeginFetch("a");
  const FetchTicket later = cache_->BeginFetch("a");
  EXPECT_EQ(cache_->Insert("a", earlier, Str("old")),
            InsertResult::kStoredFresh);
  EXPECT_EQ(cache_->Insert("a", later, Str("new")), InsertResult::kStoredFresh);
  EXPECT_EQ(Get("a"), "new");
}

// The fetch begun before the invalidation loses to the one begun after it,
// whichever stores first.
TEST_F(ShardedLruCacheTest, FetchBegunAfterAnInvalidationWins) {
  {
    const FetchTicket before = cache_->BeginFetch("a");
    cache_->Invalidate("a");
    const FetchTicket after = cache_->BeginFetch("a");
    EXPECT_EQ(cache_->Insert("a", after, Str("new")),
              InsertResult::kStoredFresh);
    EXPECT_EQ(cache_->Insert("a", before, Str("old")),
              InsertResult::kSuperseded);
    EXPECT_EQ(Get("a"), "new");
    EXPECT_EQ(State("a"), "fresh");
  }
  {
    const FetchTicket before = cache_->BeginFetch("b");
    cache_->Invalidate("b");
    const FetchTicket after = cache_->BeginFetch("b");
    EXPECT_EQ(cache_->Insert("b", before, Str("old")),
              InsertResult::kStoredInvalidated);
    EXPECT_EQ(cache_->Insert("b", after, Str("new")),
              InsertResult::kStoredFresh);
    EXPECT_EQ(Get("b"), "new");
    EXPECT_EQ(State("b"), "fresh");
  }
}

TEST_F(ShardedLruCacheTest, AbandonedFetchLeavesNothingBehind) {
  const FetchTicket failed = cache_->BeginFetch("a");
  cache_->AbandonFetch("a", failed);
  EXPECT_EQ(State("a"), "absent");
  EXPECT_EQ(Stats().entries, 0u);
  EXPECT_EQ(Stats().bytes, 0u);
  EXPECT_EQ(Put("a", "v"), InsertResult::kStoredFresh);
  EXPECT_EQ(State("a"), "fresh");
}

TEST_F(ShardedLruCacheTest, AbandonOfOneTicketKeepsTrackingTheOthers) {
  const FetchTicket failed = cache_->BeginFetch("a");
  const FetchTicket pending = cache_->BeginFetch("a");
  cache_->AbandonFetch("a", failed);
  cache_->Invalidate("a");
  EXPECT_EQ(cache_->Insert("a", pending, Str("v")),
            InsertResult::kStoredInvalidated);
}

TEST_F(ShardedLruCacheTest, TooLargeResultStillFinishesItsTicket) {
  ASSERT_EQ(Put("a", ValueCharged("a", 3 * kEntryCharge + 1)),
            InsertResult::kTooLarge);
  EXPECT_EQ(Put("a", "small"), InsertResult::kStoredFresh);
}

// ---------------------------------------------------------------------------
// Resizing.

TEST_F(ShardedLruCacheTest, SetMaxBytesDownEvictsLeastRecentFirst) {
  Reset(Options(/*max_bytes=*/5 * kEntryCharge));
  for (const char* key : {"a", "b", "c", "d", "e"}) PutEntry(key);
  Contains("a");
  Contains("b");  // order, least recent first: c d e a b
  cache_->SetMaxBytes(3 * kEntryCharge);
  CacheStats stats = Stats();
  EXPECT_EQ(stats.max_bytes, 3 * kEntryCharge);
  EXPECT_EQ(cache_->max_bytes(), 3 * kEntryCharge);
  EXPECT_EQ(stats.bytes, 3 * kEntryCharge);
  EXPECT_EQ(stats.evictions_size, 2u);
  EXPECT_FALSE(Contains("c"));
  EXPECT_FALSE(Contains("d"));
  EXPECT_TRUE(Contains("e"));
  EXPECT_TRUE(Contains("a"));
  EXPECT_TRUE(Contains("b"));

  cache_->SetMaxBytes(0);
  stats = Stats();
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
  EXPECT_EQ(stats.evictions_size, 5u);
}

TEST_F(ShardedLruCacheTest, SetMaxBytesUpMakesRoomForMore) {
  cache_->SetMaxBytes(6 * kEntryCharge);
  for (const char* key : {"a", "b", "c", "d", "e", "f"}) PutEntry(key);
  EXPECT_EQ(Stats().entries, 6u);
  EXPECT_EQ(Stats().evictions_size, 0u);
  EXPECT_EQ(Put("g", ValueCharged("g", 6 * kEntryCharge)),
            InsertResult::kStoredFresh);
}

TEST_F(ShardedLruCacheTest, SetMaxBytesDownWithManyShardsHoldsTheBound) {
  Reset(Options(/*max_bytes=*/64 * 1024, /*num_shards=*/8));
  for (int i = 0; i < 1000; ++i) Put("key" + std::to_string(i), "0123456789");
  for (size_t bound : {32 * 1024, 8 * 1024, 1024, 0}) {
    cache_->SetMaxBytes(bound);
    EXPECT_LE(Stats().bytes, bound);
    EXPECT_EQ(Stats().max_bytes, bound);
  }
  EXPECT_EQ(Stats().entries, 0u);
}

TEST(EntryStateNameTest, NamesEachState) {
  EXPECT_STREQ(EntryStateName(EntryState::kFresh), "fresh");
  EXPECT_STREQ(EntryStateName(EntryState::kExpired), "expired");
  EXPECT_STREQ(EntryStateName(EntryState::kInvalidated), "invalidated");
}

}  // namespace
}  // namespace nearcache
