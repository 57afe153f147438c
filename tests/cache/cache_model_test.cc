// Model-based tests of ShardedLruCache: long random sequences of operations
// (lookups, fetches that race invalidations, erasures, resizes, ttl changes,
// freshness switched off and on, clock jumps; binary keys; strings, hashes and
// "does not exist" of random sizes) checked after every step.
//
//  - One shard: every result is compared with ReferenceCache
//    (tests/fakes/reference_cache.h), a plain list + map model of the same
//    contract: Lookup presence, state, value and age, Insert and Invalidate
//    results, and all the stats.
//  - Many shards: the eviction order is not observable, so an oracle tracks
//    what each key may hold and checks what does not depend on it: the byte
//    bound, bytes == sum of live charges, the state and age of whatever is
//    returned, and above all that nothing invalidated is ever served fresh.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fakes/reference_cache.h"

namespace nearcache {
namespace {

constexpr int kOpsPerSeed = 60000;

// Random keys, values and durations for one run.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {
    // A small key space so that operations collide; binary keys with NULs,
    // the empty key, and keys that are prefixes of others.
    keys_ = {"",  std::string(1, '\0'),  std::string(2, '\0'),
             "a", std::string("a\0", 2), std::string("a\0b", 3),
             "ab"};
    while (keys_.size() < 32) {
      std::string key = Bytes(1 + Below(12));
      if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) {
        keys_.push_back(std::move(key));
      }
    }
  }

  int Below(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }
  bool OneIn(int n) { return Below(n) == 0; }
  const std::string& Key() { return keys_[Below(keys_.size())]; }
  const std::vector<std::string>& keys() const { return keys_; }

  std::string Bytes(int n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(OneIn(4) ? 0 : Below(256));
    return s;
  }

  ValuePtr Val() {
    const int kind = Below(20);
    if (kind < 3) return Value::NotFound();
    if (kind < 14) {
      // Mostly small; now and then larger than a shard's share.
      return Value::String(Bytes(OneIn(60) ? Below(6000) : Below(400)));
    }
    std::vector<Value::Field> fields(Below(7));
    for (auto& [field, value] : fields) {
      field = Bytes(Below(6));
      value = Bytes(Below(120));
    }
    return Value::Hash(std::move(fields));
  }

  // Up to `max_ms`, in steps of 50 ms: clock, ttls and deadlines on one
  // grid, so that lookups often land exactly on a boundary.
  absl::Duration Millis(int max_ms) {
    return absl::Milliseconds(50 * Below(max_ms / 50 + 1));
  }

  // The key's own Redis expiry: mostly none, sometimes before the ttl, now
  // and then already past.
  std::optional<absl::Time> Deadline(absl::Time now) {
    if (Below(2) == 0) return std::nullopt;
    return now - absl::Seconds(1) + Millis(12000);
  }

  // Now and then too small for anything, mostly room for a few dozen.
  size_t MaxBytes() {
    if (OneIn(10)) return OneIn(2) ? 0 : 300;
    static constexpr size_t kSizes[] = {2500, 8000, 16000, 30000, 30000};
    return kSizes[Below(std::size(kSizes))];
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> keys_;
};

CacheOptions ModelOptions(int num_shards) {
  CacheOptions options;
  options.max_bytes = 16000;
  options.ttl = absl::Seconds(5);
  options.negative_ttl = absl::Seconds(1);
  options.max_stale = absl::Seconds(10);
  options.num_shards = num_shards;
  return options;
}

const char* Name(InsertResult result) {
  switch (result) {
    case InsertResult::kStoredFresh:
      return "kStoredFresh";
    case InsertResult::kStoredInvalidated:
      return "kStoredInvalidated";
    case InsertResult::kSuperseded:
      return "kSuperseded";
    case InsertResult::kTooLarge:
      return "kTooLarge";
  }
  return "?";
}

std::string Show(const std::optional<CacheEntry>& e) {
  if (!e) return "absent";
  std::string value =
      !e->value->exists() ? "NotFound"
      : e->value->is_string()
          ? absl::StrCat("\"", absl::CEscape(e->value->str()), "\"")
          : absl::StrCat("hash(", e->value->fields().size(), ")");
  return absl::StrCat(EntryStateName(e->state), " ", value,
                      " age=", absl::FormatDuration(e->age));
}

testing::AssertionResult SameEntry(const std::optional<CacheEntry>& got,
                                   const std::optional<CacheEntry>& want) {
  const bool same =
      got.has_value() == want.has_value() &&
      (!got || (got->state == want->state && *got->value == *want->value &&
                got->age == want->age));
  if (same) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "cache: " << Show(got) << "\nmodel: " << Show(want);
}

testing::AssertionResult SameStats(const CacheStats& got,
                                   const CacheStats& want) {
  auto fail = testing::AssertionFailure();
  bool ok = true;
  auto check = [&](const char* name, uint64_t g, uint64_t w) {
    if (g != w) {
      ok = false;
      fail << name << ": cache " << g << ", model " << w << "; ";
    }
  };
  check("hits", got.hits, want.hits);
  check("misses", got.misses, want.misses);
  check("evictions_size", got.evictions_size, want.evictions_size);
  check("evictions_expired", got.evictions_expired, want.evictions_expired);
  check("invalidations", got.invalidations, want.invalidations);
  check("entries", got.entries, want.entries);
  check("bytes", got.bytes, want.bytes);
  check("max_bytes", got.max_bytes, want.max_bytes);
  return ok ? testing::AssertionSuccess() : fail;
}

// ---------------------------------------------------------------------------
// One shard against the reference model.

class CacheMatchesModelTest : public testing::TestWithParam<uint64_t> {};

TEST_P(CacheMatchesModelTest, RandomOperations) {
  Generator gen(GetParam());
  ManualClock clock;
  const CacheOptions options = ModelOptions(/*num_shards=*/1);
  ShardedLruCache cache(options, &clock);
  ReferenceCache model(options, &clock);
  struct Fetch {
    std::string key;
    FetchTicket real, model;
  };
  std::vector<Fetch> in_flight;
  std::map<std::string, int> seen;  // outcomes, so the run is not vacuous

  for (int op = 0; op < kOpsPerSeed; ++op) {
    const int dice = gen.Below(100);
    const std::string& key = gen.Key();
    std::string what;
    if (dice < 35) {
      what = "Lookup";
      const std::optional<CacheEntry> got = cache.Lookup(key);
      ASSERT_TRUE(SameEntry(got, model.Lookup(key)))
          << "op " << op << ": Lookup(\"" << absl::CEscape(key) << "\")";
      ++seen[got ? EntryStateName(got->state) : "absent"];
    } else if (dice < 52 && in_flight.size() < 24) {
      what = "BeginFetch";
      in_flight.push_back({key, cache.BeginFetch(key), model.BeginFetch(key)});
    } else if (dice < 70 && !in_flight.empty()) {
      what = "Insert";
      // Any fetch in flight may finish next: overlapping fetches of a key
      // finish in any order.
      const size_t i = gen.Below(in_flight.size());
      const Fetch f = in_flight[i];
      in_flight.erase(in_flight.begin() + i);
      const ValuePtr value = gen.Val();
      const std::optional<absl::Time> deadline = gen.Deadline(clock.Now());
      const InsertResult got = cache.Insert(f.key, f.real, value, deadline);
      const InsertResult want = model.Insert(f.key, f.model, value, deadline);
      ASSERT_STREQ(Name(got), Name(want))
          << "op " << op << ": Insert(\"" << absl::CEscape(f.key) << "\")";
      ++seen[Name(got)];
    } else if (dice < 73 && !in_flight.empty()) {
      what = "AbandonFetch";
      const size_t i = gen.Below(in_flight.size());
      cache.AbandonFetch(in_flight[i].key, in_flight[i].real);
      model.AbandonFetch(in_flight[i].key, in_flight[i].model);
      in_flight.erase(in_flight.begin() + i);
    } else if (dice < 81) {
      what = "Invalidate";
      ASSERT_EQ(cache.Invalidate(key), model.Invalidate(key))
          << "op " << op << ": Invalidate(\"" << absl::CEscape(key) << "\")";
    } else if (dice < 82 && gen.OneIn(3)) {
      what = "InvalidateAll";
      cache.InvalidateAll();
      model.InvalidateAll();
    } else if (dice < 85) {
      what = "Erase";
      cache.Erase(key);
      model.Erase(key);
    } else if (dice < 86) {
      what = "SetMaxBytes";
      const size_t max_bytes = gen.MaxBytes();
      cache.SetMaxBytes(max_bytes);
      model.SetMaxBytes(max_bytes);
    } else if (dice < 87 && gen.OneIn(4)) {
      what = "SetFreshnessAllowed";
      const bool allowed = !gen.OneIn(3);
      cache.SetFreshnessAllowed(allowed);
      model.SetFreshnessAllowed(allowed);
    } else if (dice < 87 && gen.OneIn(2)) {
      what = "SetTtls";
      const absl::Duration ttl = absl::Seconds(1) + gen.Millis(9000);
      const absl::Duration negative_ttl = gen.Millis(3000);
      const absl::Duration max_stale =
          gen.OneIn(3) ? absl::ZeroDuration() : gen.Millis(20000);
      cache.SetTtls(ttl, negative_ttl, max_stale);
      model.SetTtls(ttl, negative_ttl, max_stale);
    } else {
      what = "Advance";
      clock.Advance(gen.OneIn(200) ? absl::Seconds(30) : gen.Millis(300));
    }
    const CacheStats stats = cache.Stats();
    ASSERT_TRUE(SameStats(stats, model.Stats())) << "op " << op << " " << what;
    ASSERT_LE(stats.bytes, stats.max_bytes) << "op " << op << " " << what;
  }
  // Every key one last time, then the fetches still open.
  for (const std::string& key : gen.keys()) {
    ASSERT_TRUE(SameEntry(cache.Lookup(key), model.Lookup(key)));
  }
  for (const auto& f : in_flight) {
    const ValuePtr value = gen.Val();
    ASSERT_STREQ(Name(cache.Insert(f.key, f.real, value)),
                 Name(model.Insert(f.key, f.model, value)));
  }
  ASSERT_TRUE(SameStats(cache.Stats(), model.Stats()));
  EXPECT_GT(cache.Stats().evictions_size, 0u);
  EXPECT_GT(cache.Stats().evictions_expired, 0u);
  for (const char* outcome :
       {"absent", "fresh", "expired", "invalidated", "kStoredFresh",
        "kStoredInvalidated", "kSuperseded", "kTooLarge"}) {
    EXPECT_GT(seen[outcome], 20) << outcome;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CacheMatchesModelTest,
                         testing::Values(1, 2, 3, 20240611));

// ---------------------------------------------------------------------------
// Many shards against an oracle of what each key may hold.

// What the oracle knows of a key's entry: not whether it is still there
// (eviction picks victims per shard), but what it holds if it is.
struct Stored {
  ValuePtr value;
  absl::Time read_at;
  absl::Time deadline;
  bool invalidated;
  uint64_t fetch_order;  // BeginFetch order of the fetch that stored it
};

struct OracleFetch {
  std::string key;
  FetchTicket ticket;
  uint64_t order;
  bool invalidated = false;  // key invalidated / erased / all invalidated
};

class ShardedCacheInvariantsTest : public testing::TestWithParam<uint64_t> {
 protected:
  // Checks a Lookup result against the oracle and updates the oracle.
  testing::AssertionResult CheckLookup(const std::string& key,
                                       const std::optional<CacheEntry>& got) {
    auto it = stored_.find(key);
    if (!got) {
      if (it != stored_.end()) stored_.erase(it);  // evicted or dropped
      return testing::AssertionSuccess();
    }
    if (it == stored_.end()) {
      return testing::AssertionFailure() << "returned an entry never stored";
    }
    const Stored& s = it->second;
    const absl::Time now = clock_.Now();
    const absl::Duration ttl = s.value->exists() ? ttl_ : negative_ttl_;
    if (got->value != s.value) {
      return testing::AssertionFailure() << "not the value stored last";
    }
    if (got->age != now - s.read_at) {
      return testing::AssertionFailure() << "age " << got->age;
    }
    if (now >= s.read_at + ttl + max_stale_) {
      return testing::AssertionFailure() << "returned past its stale window";
    }
    const EntryState want = s.invalidated ? EntryState::kInvalidated
                            : (now >= s.read_at + ttl || now >= s.deadline)
                                ? EntryState::kExpired
                            : fresh_allowed_ ? EntryState::kFresh
                                             : EntryState::kInvalidated;
    if (got->state != want) {
      return testing::AssertionFailure()
             << "state " << EntryStateName(got->state) << ", want "
             << EntryStateName(want)
             << (s.invalidated && got->state == EntryState::kFresh
                     ? " (an invalidated entry served as fresh)"
                     : "");
    }
    return testing::AssertionSuccess();
  }

  // Looks every key up; afterwards the cache holds exactly what was found,
  // so its bytes must be the sum of their charges.
  testing::AssertionResult Sweep(ShardedLruCache& cache) {
    uint64_t bytes = 0, entries = 0;
    for (const std::string& key : keys_) {
      const std::optional<CacheEntry> got = cache.Lookup(key);
      testing::AssertionResult ok = CheckLookup(key, got);
      if (!ok) return ok << " (sweep, key \"" << absl::CEscape(key) << "\")";
      if (got) {
        bytes += ShardedLruCache::Charge(key, *got->value);
        ++entries;
      }
    }
    const CacheStats stats = cache.Stats();
    if (stats.bytes != bytes || stats.entries != entries) {
      return testing::AssertionFailure()
             << "stats say " << stats.entries << " entries, " << stats.bytes
             << " bytes; live entries: " << entries << ", " << bytes;
    }
    return testing::AssertionSuccess();
  }

  ManualClock clock_;
  absl::Duration ttl_, negative_ttl_, max_stale_;
  bool fresh_allowed_ = true;
  std::vector<std::string> keys_;
  std::map<std::string, Stored> stored_;
};

TEST_P(ShardedCacheInvariantsTest, RandomOperations) {
  Generator gen(GetParam());
  keys_ = gen.keys();
  const CacheOptions options = ModelOptions(/*num_shards=*/8);
  ttl_ = options.ttl;
  negative_ttl_ = options.negative_ttl;
  max_stale_ = options.max_stale;
  // Larger budgets: each of the 8 shards gets an eighth.
  ShardedLruCache cache(options, &clock_);
  cache.SetMaxBytes(8 * 16000);
  std::vector<OracleFetch> in_flight;
  uint64_t next_order = 0;

  for (int op = 0; op < kOpsPerSeed; ++op) {
    const int dice = gen.Below(100);
    const std::string& key = gen.Key();
    if (dice < 35) {
      ASSERT_TRUE(CheckLookup(key, cache.Lookup(key)))
          << "op " << op << ": Lookup(\"" << absl::CEscape(key) << "\")";
    } else if (dice < 52 && in_flight.size() < 24) {
      in_flight.push_back({key, cache.BeginFetch(key), next_order++});
    } else if (dice < 70 && !in_flight.empty()) {
      const size_t i = gen.Below(in_flight.size());
      const OracleFetch f = in_flight[i];
      in_flight.erase(in_flight.begin() + i);
      const ValuePtr value = gen.Val();
      const std::optional<absl::Time> deadline = gen.Deadline(clock_.Now());
      const InsertResult result =
          cache.Insert(f.key, f.ticket, value, deadline);
      const bool too_large = ShardedLruCache::Charge(f.key, *value) >
                             cache.max_bytes() / cache.num_shards();
      auto it = stored_.find(f.key);
      const bool later_stored =
          it != stored_.end() && it->second.fetch_order > f.order;
      SCOPED_TRACE(absl::StrCat("op ", op, ": Insert(\"", absl::CEscape(f.key),
                                "\") -> ", Name(result)));
      switch (result) {
        case InsertResult::kSuperseded:
          ASSERT_TRUE(later_stored);
          break;
        case InsertResult::kTooLarge:
          ASSERT_TRUE(too_large);
          stored_.erase(f.key);  // a newer value exists: the old one goes
          break;
        case InsertResult::kStoredFresh:
        case InsertResult::kStoredInvalidated:
          ASSERT_FALSE(too_large);
          ASSERT_EQ(result == InsertResult::kStoredInvalidated, f.invalidated)
              << "the key was " << (f.invalidated ? "" : "not ")
              << "invalidated during the fetch";
          stored_[f.key] = Stored{value, f.ticket.started,
                                  deadline.value_or(absl::InfiniteFuture()),
                                  f.invalidated, f.order};
          break;
      }
    } else if (dice < 73 && !in_flight.empty()) {
      const size_t i = gen.Below(in_flight.size());
      cache.AbandonFetch(in_flight[i].key, in_flight[i].ticket);
      in_flight.erase(in_flight.begin() + i);
    } else if (dice < 81) {
      const bool present = cache.Invalidate(key);
      auto it = stored_.find(key);
      if (present) {
        ASSERT_NE(it, stored_.end()) << "op " << op;
      }
      if (it != stored_.end()) {
        if (present) {
          it->second.invalidated = true;
        } else {
          stored_.erase(it);  // evicted meanwhile
        }
      }
      for (auto& f : in_flight) f.invalidated |= f.key == key;
    } else if (dice < 82 && gen.OneIn(3)) {
      cache.InvalidateAll();
      for (auto& [k, s] : stored_) s.invalidated = true;
      for (auto& f : in_flight) f.invalidated = true;
    } else if (dice < 85) {
      cache.Erase(key);
      stored_.erase(key);
      // An erased key's fetch in flight may carry the erased value.
      for (auto& f : in_flight) f.invalidated |= f.key == key;
    } else if (dice < 86) {
      cache.SetMaxBytes(8 * gen.MaxBytes());
    } else if (dice < 87 && gen.OneIn(4)) {
      fresh_allowed_ = !gen.OneIn(3);
      cache.SetFreshnessAllowed(fresh_allowed_);
    } else if (dice < 87 && gen.OneIn(2)) {
      ttl_ = absl::Seconds(1) + gen.Millis(9000);
      negative_ttl_ = gen.Millis(3000);
      max_stale_ = gen.OneIn(3) ? absl::ZeroDuration() : gen.Millis(20000);
      cache.SetTtls(ttl_, negative_ttl_, max_stale_);
    } else {
      clock_.Advance(gen.OneIn(200) ? absl::Seconds(30) : gen.Millis(300));
    }
    const CacheStats stats = cache.Stats();
    ASSERT_LE(stats.bytes, stats.max_bytes) << "op " << op;
    ASSERT_LE(stats.entries, stored_.size()) << "op " << op;
    if (op % 1000 == 999) {
      ASSERT_TRUE(Sweep(cache)) << "op " << op;
    }
  }
  ASSERT_TRUE(Sweep(cache));
  EXPECT_GT(cache.Stats().evictions_size, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ShardedCacheInvariantsTest,
                         testing::Values(7, 8, 9));

}  // namespace
}  // namespace nearcache
