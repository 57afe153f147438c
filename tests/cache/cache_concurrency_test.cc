// ShardedLruCache under concurrent use: threads hammer a small cache for a
// bounded number of operations (CI runs this under ASan + UBSan) while a
// watcher samples the byte bound, and a coherence check plays Redis, its
// writers and its invalidations against readers to show that an invalidated
// value is never served as fresh. Nothing here measures or waits on time.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "tests/fakes/manual_clock.h"

namespace nearcache {
namespace {

constexpr int kWorkers = 6;
constexpr int kOpsPerWorker = 40000;
constexpr size_t kSmallBound = 8 * 1024;
constexpr size_t kLargeBound = 32 * 1024;

CacheOptions SmallCache() {
  CacheOptions options;
  options.max_bytes = kLargeBound;
  options.ttl = absl::Seconds(10);
  options.negative_ttl = absl::Seconds(1);
  options.max_stale = absl::Seconds(10);
  options.num_shards = 4;
  return options;
}

// Binary keys, like Feast's entity keys.
std::string KeyName(int i) {
  return absl::StrCat(absl::string_view("key\0", 4), i);
}

// Looks up every key: afterwards the cache holds exactly what was found, so
// its bytes must be the sum of those entries' charges.
void ExpectBytesAreSumOfLiveCharges(ShardedLruCache& cache, int num_keys) {
  uint64_t bytes = 0, entries = 0;
  for (int i = 0; i < num_keys; ++i) {
    const std::string key = KeyName(i);
    if (std::optional<CacheEntry> e = cache.Lookup(key)) {
      bytes += ShardedLruCache::Charge(key, *e->value);
      ++entries;
    }
  }
  const CacheStats stats = cache.Stats();
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_EQ(stats.entries, entries);
  EXPECT_LE(stats.bytes, stats.max_bytes);
}

// Samples Stats() until stopped; records the largest bytes seen.
class Watcher {
 public:
  explicit Watcher(const ShardedLruCache* cache)
      : thread_([this, cache] {
          while (!stop_.load()) {
            const CacheStats stats = cache->Stats();
            max_seen_ = std::max<uint64_t>(max_seen_, stats.bytes);
            samples_.fetch_add(1);
            std::this_thread::yield();
          }
        }) {}
  uint64_t Stop() {
    stop_.store(true);
    thread_.join();
    return max_seen_;
  }
  int samples() const { return samples_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> samples_{0};
  uint64_t max_seen_ = 0;  // written by the thread, read after join
  std::thread thread_;
};

TEST(CacheConcurrencyTest, HammeringKeepsTheByteBoundAndTheAccounting) {
  constexpr int kKeys = 200;
  ManualClock clock;
  ShardedLruCache cache(SmallCache(), &clock);
  Watcher watcher(&cache);

  std::vector<std::thread> threads;
  for (int t = 0; t < kWorkers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      auto below = [&rng](int n) {
        return std::uniform_int_distribution<int>(0, n - 1)(rng);
      };
      for (int op = 0; op < kOpsPerWorker; ++op) {
        const std::string key = KeyName(below(kKeys));
        const int dice = below(1000);
        if (dice < 450) {
          cache.Lookup(key);
        } else if (dice < 850) {
          const FetchTicket ticket = cache.BeginFetch(key);
          if (below(10) == 0) {
            cache.AbandonFetch(key, ticket);
          } else {
            const ValuePtr value =
                below(5) == 0 ? Value::NotFound()
                              : Value::String(std::string(below(1200), 'v'));
            cache.Insert(key, ticket, value);
          }
        } else if (dice < 930) {
          cache.Invalidate(key);
        } else if (dice < 960) {
          cache.Erase(key);
        } else if (dice < 962) {
          cache.InvalidateAll();
        } else if (dice < 970 && t == 0) {
          // One thread resizes, as a config reload does.
          cache.SetMaxBytes(below(2) ? kSmallBound : kLargeBound);
        } else if (dice < 975) {
          clock.Advance(absl::Milliseconds(below(200)));
        } else {
          cache.Stats();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const uint64_t max_seen = watcher.Stop();

  // Never above the largest bound ever set. (That each sample stays within
  // the bound it reports is StatsNeverShowBytesAboveMaxBytesDuringAResize.)
  EXPECT_GT(watcher.samples(), 0);
  EXPECT_LE(max_seen, kLargeBound);
  ExpectBytesAreSumOfLiveCharges(cache, kKeys);
  cache.SetMaxBytes(kSmallBound);
  EXPECT_LE(cache.Stats().bytes, kSmallBound);
  ExpectBytesAreSumOfLiveCharges(cache, kKeys);
  EXPECT_GT(cache.Stats().evictions_size, 0u);
}

// Plays Redis: writers bump a key's version and then invalidate it (or,
// like a lost invalidation stream, bump silently and later InvalidateAll).
// `floor[k]` is the newest version whose invalidation has completed. A
// reader that sees a fresh entry must see at least the floor read before
// its lookup began; a stale one would be an invalidated value served fresh.
TEST(CacheConcurrencyTest, NoInvalidatedValueIsServedAsFresh) {
  constexpr int kKeys = 16;
  constexpr int kWriters = 2;
  constexpr int kReaders = 4;
  ManualClock clock;
  CacheOptions options = SmallCache();
  options.ttl = absl::Hours(1);  // freshness here is about invalidation only
  ShardedLruCache cache(options, &clock);

  std::array<std::atomic<uint64_t>, kKeys> redis{};
  std::array<std::atomic<uint64_t>, kKeys> floor{};
  auto raise_floor = [&floor](int k, uint64_t v) {
    uint64_t cur = floor[k].load();
    while (cur < v && !floor[k].compare_exchange_weak(cur, v)) {
    }
  };
  std::atomic<int> fresh_checked{0};
  std::atomic<int> violations{0};
  std::atomic<int> writers_done{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      for (int op = 0; op < kOpsPerWorker / 2; ++op) {
        const int k = std::uniform_int_distribution<int>(0, kKeys - 1)(rng);
        if (w == 0 && op % 50 == 49) {
          // A missed invalidation, then the reconnect's InvalidateAll.
          redis[k].fetch_add(1);
          std::array<uint64_t, kKeys> snapshot;
          for (int i = 0; i < kKeys; ++i) snapshot[i] = redis[i].load();
          cache.InvalidateAll();
          for (int i = 0; i < kKeys; ++i) raise_floor(i, snapshot[i]);
        } else {
          const uint64_t v = redis[k].fetch_add(1) + 1;
          cache.Invalidate(KeyName(k));
          raise_floor(k, v);
        }
        if (w == 1 && op % 500 == 0) {
          cache.SetMaxBytes(op % 1000 == 0 ? kSmallBound / 4 : kLargeBound);
        }
        // Writes are rarer than reads: let readers see each write's effect.
        std::this_thread::yield();
      }
      writers_done.fetch_add(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(200 + r);
      // Read-through until the writers are done, and a bit beyond.
      for (int op = 0; op < 4 * kOpsPerWorker &&
                       (op < kOpsPerWorker || writers_done.load() < kWriters);
           ++op) {
        const int k = std::uniform_int_distribution<int>(0, kKeys - 1)(rng);
        const std::string key = KeyName(k);
        const uint64_t must_see = floor[k].load();
        if (std::optional<CacheEntry> e = cache.Lookup(key);
            e && e->state == EntryState::kFresh) {
          uint64_t seen = 0;
          // The version, then padding that varies the entry's size.
          const absl::string_view s = e->value->str();
          ASSERT_TRUE(absl::SimpleAtoi(s.substr(0, s.find(' ')), &seen)) << s;
          if (seen < must_see) {
            violations.fetch_add(1);
            ADD_FAILURE() << "key " << k << ": served version " << seen
                          << " as fresh after version " << must_see
                          << " was invalidated";
          }
          fresh_checked.fetch_add(1);
          continue;
        }
        const FetchTicket ticket = cache.BeginFetch(key);
        const uint64_t v = redis[k].load();  // the read from Redis
        // The reply takes a while: a round trip is long next to a write and
        // its invalidation, which is what opens the race.
        std::this_thread::yield();
        if (op % 50 == 0) {
          cache.AbandonFetch(key, ticket);
        } else {
          cache.Insert(key, ticket,
                       Value::String(absl::StrCat(
                           v, " ", std::string(op % 97 * 7, 'p'))));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(fresh_checked.load(), 1000) << "the check must not be vacuous";
  // Quiescent: every key's fresh entry, if any, holds Redis's latest version.
  for (int k = 0; k < kKeys; ++k) {
    if (std::optional<CacheEntry> e = cache.Lookup(KeyName(k));
        e && e->state == EntryState::kFresh) {
      EXPECT_EQ(e->value->str().substr(0, e->value->str().find(' ')),
                absl::StrCat(redis[k].load()))
          << "key " << k;
    }
  }
  EXPECT_LE(cache.Stats().bytes, cache.Stats().max_bytes);
}

// What a metrics scrape sees while a reload shrinks the cache: the bytes it
// reports must never be above the bound it reports.
// DISABLED until fixed: SetMaxBytes publishes a smaller bound before the
// shards have evicted down to it, and Stats() sums shards while a resize
// runs (fix: serialize SetMaxBytes and Stats() on one resize mutex).
TEST(CacheConcurrencyTest, StatsNeverShowBytesAboveMaxBytesDuringAResize) {
  constexpr int kKeys = 2000;
  ManualClock clock;
  CacheOptions options = SmallCache();
  options.num_shards = 16;
  ShardedLruCache cache(options, &clock);
  auto fill = [&cache] {
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = KeyName(i);
      cache.Insert(key, cache.BeginFetch(key),
                   Value::String(std::string(40, 'v')));
    }
  };
  std::atomic<bool> stop{false};
  std::atomic<int> over{0}, samples{0};
  std::thread scraper([&] {
    while (!stop.load()) {
      const CacheStats stats = cache.Stats();
      if (stats.bytes > stats.max_bytes) over.fetch_add(1);
      samples.fetch_add(1);
    }
  });
  for (int round = 0; round < 200; ++round) {
    fill();
    cache.SetMaxBytes(kSmallBound);
    cache.SetMaxBytes(kLargeBound);
  }
  stop.store(true);
  scraper.join();
  EXPECT_GT(samples.load(), 0);
  EXPECT_EQ(over.load(), 0) << "of " << samples.load() << " Stats() samples";
}

// Two reloads racing: when both SetMaxBytes calls have returned, the bound
// in force in every shard must be the one max_bytes() reports.
// DISABLED until fixed: concurrent SetMaxBytes calls interleave shard by
// shard, leaving shards at the other call's bound for good.
TEST(CacheConcurrencyTest, ConcurrentSetMaxBytesLeavesOneConsistentBound) {
  constexpr int kKeys = 2000;
  ManualClock clock;
  CacheOptions options = SmallCache();
  options.num_shards = 16;
  ShardedLruCache cache(options, &clock);
  for (int round = 0; round < 200; ++round) {
    std::thread a([&] { cache.SetMaxBytes(kSmallBound); });
    std::thread b([&] { cache.SetMaxBytes(kLargeBound); });
    a.join();
    b.join();
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = KeyName(i);
      cache.Insert(key, cache.BeginFetch(key),
                   Value::String(std::string(40, 'v')));
    }
    // Overfilled, every shard is full to within one entry of its share.
    const CacheStats stats = cache.Stats();
    const size_t charge = ShardedLruCache::Charge(
        KeyName(0), *Value::String(std::string(40, 'v')));
    ASSERT_LE(stats.bytes, stats.max_bytes) << "round " << round;
    ASSERT_GE(stats.bytes + 16 * (charge + 8), stats.max_bytes)
        << "round " << round;
  }
}

}  // namespace
}  // namespace nearcache
