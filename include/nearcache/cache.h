// ShardedLruCache: the cache core. A byte-bounded, TTL-bounded LRU of Redis
// values, split into shards with a mutex each (like leveldb's util/cache.cc).
//
// Freshness (see docs/architecture.md and the product design):
//   - fresh:       read less than `ttl` ago (`negative_ttl` for "does not
//                  exist"), not past the key's own Redis expiry (the
//                  `deadline` given at insert, from PTTL), not invalidated
//                  (by key or by InvalidateAll since it was read);
//   - expired / invalidated: still returned by Lookup, so that the caller can
//                  serve it marked stale when Redis is unavailable, until
//                  read_at + ttl + max_stale (negative_ttl + max_stale for
//                  "does not exist"); after that it is gone.
//
// The race of client-side caching: a read that was in flight when its key
// was invalidated must not store its (possibly old) result as fresh. Callers
// take a FetchTicket with BeginFetch() before asking Redis and hand it back
// to Insert(); an invalidation of that key (or InvalidateAll) between the two
// makes Insert store the value as invalidated: usable as stale only.
//
// Bytes: each entry is charged Charge(key, value) = key + value payload +
// kEntryOverhead. Every shard owns max_bytes / num_shards and evicts from its
// LRU tail before it inserts, so the total never exceeds max_bytes, not even
// briefly. An entry larger than a shard's share is not stored.
//
// No I/O here: time comes from the injected Clock.
#ifndef NEARCACHE_CACHE_H_
#define NEARCACHE_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nearcache/clock.h"
#include "nearcache/value.h"

namespace nearcache {

struct CacheOptions {
  // Upper bound on the bytes charged for all entries (see Charge()).
  size_t max_bytes = size_t{256} << 20;
  // How long a value read from Redis is served as fresh.
  absl::Duration ttl = absl::Seconds(30);
  // How long "does not exist" is served as fresh.
  absl::Duration negative_ttl = absl::Seconds(2);
  // How long past its ttl an entry may still be served as stale when Redis
  // is unavailable.
  absl::Duration max_stale = absl::Minutes(10);
  // Number of shards; rounded up to a power of two, at least 1.
  int num_shards = 16;
};

enum class EntryState : uint8_t {
  kFresh,        // serve it
  kExpired,      // past ttl / negative_ttl or the key's Redis expiry
  kInvalidated,  // Redis said it changed (or all entries were invalidated)
};

const char* EntryStateName(EntryState state);

// What Lookup() returns for a key that is present and within its stale window.
struct CacheEntry {
  ValuePtr value;
  EntryState state = EntryState::kFresh;
  absl::Duration age;  // now - when the value was read from Redis
};

// Taken before a read from Redis, handed back to Insert() or AbandonFetch().
// Every ticket must be finished exactly once by one of them.
struct FetchTicket {
  uint64_t epoch = 0;    // InvalidateAll() generation at BeginFetch
  uint64_t version = 0;  // per-key invalidation count at BeginFetch
  uint64_t seq = 0;      // global order of BeginFetch calls
  absl::Time started;    // when the fetch began (clock time)
};

enum class InsertResult : uint8_t {
  kStoredFresh,        // stored; served as fresh
  kStoredInvalidated,  // key invalidated during the fetch: stored stale-only
  kSuperseded,         // a fetch that began later already stored a value
  kTooLarge,           // larger than a shard's share of max_bytes
};

struct CacheStats {
  uint64_t hits = 0;               // Lookup found a fresh entry
  uint64_t misses = 0;             // Lookup found nothing fresh
  uint64_t stale_hits = 0;         // RecordStaleHit() calls
  uint64_t evictions_size = 0;     // evicted to make room or on Resize
  uint64_t evictions_expired = 0;  // dropped past their stale window
  uint64_t invalidations = 0;      // Invalidate() calls that marked an entry
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
};

// Thread-safe: every method may be called from any thread. Each shard has its
// own mutex; InvalidateAll() is a single atomic increment.
class ShardedLruCache {
 public:
  // Bytes charged per entry beyond key and value payload, as measured by
  // bench/cache_memory.cc (118 to 127 bytes of heap and of RSS per entry for
  // keys of 16-40 bytes and values of 32 B to 1 KiB, depending on the hash
  // tables' load): the entry node (links, value pointer, times, epoch,
  // sequence, key length; key inline, 60 bytes + key) with its malloc header
  // and rounding, its hash-table slot (9 bytes at a load of 7/16 to 7/8), and
  // the value's 16-byte header with its own malloc header and rounding.
  static constexpr size_t kEntryOverhead = 128;

  // REQUIRES: clock outlives the cache.
  ShardedLruCache(const CacheOptions& options, const Clock* clock);
  ~ShardedLruCache();
  ShardedLruCache(const ShardedLruCache&) = delete;
  ShardedLruCache& operator=(const ShardedLruCache&) = delete;

  // The bytes an entry for (key, value) is charged.
  static size_t Charge(absl::string_view key, const Value& value);

  // Returns the entry for `key` if it is within its stale window, fresh or
  // not (see EntryState), and marks it most recently used. Counts a hit when
  // it is fresh and a miss otherwise. An entry past its stale window is
  // dropped (an "expired" eviction) and nullopt returned.
  std::optional<CacheEntry> Lookup(absl::string_view key);

  // Counts one stale hit: the caller served a non-fresh entry because Redis
  // was unavailable.
  void RecordStaleHit();

  // Begins a read of `key` from Redis. See the file comment.
  FetchTicket BeginFetch(absl::string_view key);

  // Stores `value` read from Redis for `key` under `ticket` (taken by
  // BeginFetch for the same key). `deadline`, when set, is the key's own
  // expiry in Redis (from PTTL): the entry is never fresh past it.
  InsertResult Insert(absl::string_view key, const FetchTicket& ticket,
                      ValuePtr value,
                      std::optional<absl::Time> deadline = std::nullopt);

  // Finishes a ticket whose fetch failed; stores nothing.
  void AbandonFetch(absl::string_view key, const FetchTicket& ticket);

  // Marks `key` invalidated (its value is kept for stale-if-error) and makes
  // any fetch of it in flight store stale-only. Returns true when an entry
  // was present.
  bool Invalidate(absl::string_view key);

  // Invalidates every entry and every fetch in flight, in O(1).
  void InvalidateAll();

  // While `allowed` is false, Lookup reports entries that would be fresh as
  // kInvalidated, so every read revalidates with Redis; entries stay usable
  // as stale. For when no invalidation link is up and writes may go unseen.
  // Pair turning it back on with InvalidateAll(): what was stored meanwhile
  // was not covered by invalidations either.
  void SetFreshnessAllowed(bool allowed);

  // Removes `key` outright (no stale copy is kept).
  void Erase(absl::string_view key);

  // Changes the byte bound; a smaller bound evicts LRU entries down to it.
  void SetMaxBytes(size_t max_bytes);

  // Changes ttl, negative_ttl and max_stale; they apply to entries already
  // stored, since freshness is decided at lookup time.
  void SetTtls(absl::Duration ttl, absl::Duration negative_ttl,
               absl::Duration max_stale);

  CacheStats Stats() const;
  size_t max_bytes() const;
  int num_shards() const { return static_cast<int>(shards_.size()); }

 private:
  class Shard;
  struct Ttls {  // nanoseconds
    int64_t ttl, negative_ttl, max_stale;
  };

  Shard& ShardFor(size_t hash) const;
  Ttls LoadTtls() const;

  const Clock* const clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  uint32_t shard_shift_ = 0;
  std::atomic<uint64_t> epoch_{1};
  std::atomic<uint64_t> next_seq_{1};
  std::atomic<size_t> max_bytes_;
  // Serializes SetMaxBytes() calls, and Stats() against them, so that the
  // shards always share one bound and no snapshot shows bytes above it.
  mutable absl::Mutex resize_mu_;
  // Durations as nanoseconds so that reload can change them without a lock.
  std::atomic<int64_t> ttl_ns_, negative_ttl_ns_, max_stale_ns_;
  std::atomic<uint64_t> stale_hits_{0};
  std::atomic<bool> fresh_allowed_{true};
};

}  // namespace nearcache

#endif  // NEARCACHE_CACHE_H_
