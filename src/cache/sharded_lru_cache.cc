// The sharded LRU behind include/nearcache/cache.h.
//
// Each shard is an absl::flat_hash_set of Entry pointers (looked up by key
// through a transparent hash, with the hash computed once per call and shared
// with the shard choice) plus a circular doubly-linked LRU list through the
// entries (head.next = most recent), guarded by the shard's lock.
//
// An Entry is one allocation: links, the value (one counted reference),
// times as int64 nanoseconds since absl::UnixEpoch() (exact: absl::Time
// arithmetic on the clock's values, saturated), the epoch (0 once
// invalidated), the sequence number, the key's length, then the key's bytes
// and, only when the key has a Redis expiry, its deadline.
// Its charge is recomputed from key and value, not stored.
//
// Fetches in flight are tracked per shard in `pending_`: key -> (number of
// open tickets, invalidation count). Invalidate() bumps the count, so a ticket
// that saw an older count knows its result may predate a write.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "nearcache/cache.h"

namespace nearcache {
namespace {

constexpr int64_t kInfinite = std::numeric_limits<int64_t>::max();

int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? kInfinite : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// A mutex of one 32-bit word: an uncontended lock and unlock are one atomic
// each, inline; a contended lock spins briefly, then sleeps on the word
// (std::atomic::wait, a futex on Linux). Unlock wakes a sleeper only when
// one announced itself (state 2), as in Drepper's "Futexes Are Tricky".
// absl::Mutex costs more here: Debian's abseil is built without NDEBUG, so
// every lock runs its deadlock-detection bookkeeping.
class ABSL_LOCKABLE SpinFutexMutex {
 public:
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      LockSlow();
    }
  }
  void unlock() ABSL_UNLOCK_FUNCTION() {
    if (state_.exchange(0, std::memory_order_release) == 2) {
      state_.notify_one();
    }
  }

 private:
  void LockSlow() {
    for (int i = 0; i < 100; ++i) {
      uint32_t expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      state_.wait(2, std::memory_order_relaxed);
    }
  }

  std::atomic<uint32_t> state_{0};  // 0 free, 1 locked, 2 locked + sleepers
};

class ABSL_SCOPED_LOCKABLE Lock {
 public:
  explicit Lock(SpinFutexMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->lock();
  }
  ~Lock() ABSL_UNLOCK_FUNCTION() { mu_->unlock(); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  SpinFutexMutex* const mu_;
};

struct Entry {
  Entry* prev;
  Entry* next;
  const Value* value;  // one reference, dropped by Destroy()
  uint64_t seq;        // BeginFetch order of the fetch that produced it
  int64_t read_at;     // when that fetch began (ns since UnixEpoch)
  uint64_t epoch;      // InvalidateAll generation it was stored in; 0 when
                       // invalidated (epochs start at 1)
  uint32_t key_size;   // kHasDeadline | the key's length
  // The key's bytes follow key_size; then, when the key has a Redis expiry,
  // its deadline (int64 ns, unaligned): most keys have none and save 8 bytes.

  static constexpr uint32_t kHasDeadline = uint32_t{1} << 31;
  static const size_t kKeyOffset;
  const char* key_data() const {
    return reinterpret_cast<const char*>(this) + kKeyOffset;
  }
  size_t key_length() const { return key_size & ~kHasDeadline; }
  absl::string_view key() const {
    return absl::string_view(key_data(), key_length());
  }
  // The key's Redis expiry (ns), kInfinite when none.
  int64_t deadline() const {
    if ((key_size & kHasDeadline) == 0) return kInfinite;
    int64_t d;
    std::memcpy(&d, key_data() + key_length(), sizeof(d));
    return d;
  }

  // REQUIRES: key.size() < 2 GiB (Redis keys are at most 512 MiB).
  static Entry* Create(absl::string_view key, ValuePtr value,
                       int64_t deadline) {
    const bool has_deadline = deadline != kInfinite;
    const size_t extra = has_deadline ? sizeof(deadline) : 0;
    void* memory = ::operator new(
        std::max(sizeof(Entry), kKeyOffset + key.size() + extra));
    Entry* e = new (memory) Entry{};
    e->value = value.Release();
    e->key_size =
        static_cast<uint32_t>(key.size()) | (has_deadline ? kHasDeadline : 0);
    char* bytes = reinterpret_cast<char*>(e) + kKeyOffset;
    if (!key.empty()) std::memcpy(bytes, key.data(), key.size());
    if (has_deadline) {
      std::memcpy(bytes + key.size(), &deadline, sizeof(deadline));
    }
    return e;
  }
  static void Destroy(Entry* e) {
    ValuePtr::Adopt(e->value);  // dropped here
    e->~Entry();
    ::operator delete(e);
  }
};
static_assert(std::is_standard_layout_v<Entry>);
constexpr size_t Entry::kKeyOffset =
    offsetof(Entry, key_size) + sizeof(uint32_t);

struct KeyHash {
  using is_transparent = void;
  size_t operator()(absl::string_view key) const {
    return absl::Hash<absl::string_view>{}(key);
  }
  size_t operator()(const Entry* e) const { return (*this)(e->key()); }
};
struct KeyEq {
  using is_transparent = void;
  static absl::string_view KeyOf(absl::string_view key) { return key; }
  static absl::string_view KeyOf(const Entry* e) { return e->key(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return KeyOf(a) == KeyOf(b);
  }
};

struct Pending {
  uint32_t tickets = 0;
  uint64_t version = 0;
};

size_t HashKey(absl::string_view key) { return KeyHash{}(key); }

}  // namespace

const char* EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kFresh:
      return "fresh";
    case EntryState::kExpired:
      return "expired";
    case EntryState::kInvalidated:
      return "invalidated";
  }
  return "unknown";
}

// Thread-safe: every member function takes mu_.
class alignas(64) ShardedLruCache::Shard {
 public:
  Shard() { head_.next = head_.prev = &head_; }
  ~Shard() {
    for (Entry* e = head_.next; e != &head_;) {
      Entry* next = e->next;
      Entry::Destroy(e);
      e = next;
    }
  }

  std::optional<CacheEntry> Lookup(absl::string_view key, size_t hash,
                                   int64_t now, const Ttls& ttls,
                                   uint64_t epoch, bool fresh_allowed) {
    Lock lock(&mu_);
    auto it = table_.find(key, hash);
    if (it == table_.end()) {
      ++misses_;
      return std::nullopt;
    }
    Entry* e = *it;
    if (!StaleUsable(*e, now, ttls)) {
      ++evictions_expired_;
      Remove(e);
      ++misses_;
      return std::nullopt;
    }
    EntryState state = StateOf(*e, now, ttls, epoch);
    if (state == EntryState::kFresh && !fresh_allowed) {
      state = EntryState::kInvalidated;
    }
    if (head_.next != e) {
      Unlink(e);
      LinkFront(e);
    }
    if (state == EntryState::kFresh) {
      ++hits_;
    } else {
      ++misses_;
    }
    return CacheEntry{ValuePtr::Share(e->value), state,
                      absl::Nanoseconds(now - e->read_at)};
  }

  void BeginFetch(absl::string_view key, FetchTicket* ticket) {
    Lock lock(&mu_);
    auto it = pending_.find(key);
    if (it == pending_.end()) it = pending_.emplace(key, Pending{}).first;
    ++it->second.tickets;
    ticket->version = it->second.version;
  }

  // Closes `ticket`; returns true when the key was invalidated since it was
  // taken (or the ticket was never opened, which is a caller bug treated
  // conservatively).
  bool FinishTicket(absl::string_view key, const FetchTicket& ticket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return true;
    const bool invalidated = it->second.version != ticket.version;
    if (--it->second.tickets == 0) pending_.erase(it);
    return invalidated;
  }

  void AbandonFetch(absl::string_view key, const FetchTicket& ticket) {
    Lock lock(&mu_);
    FinishTicket(key, ticket);
  }

  InsertResult Insert(absl::string_view key, size_t hash,
                      const FetchTicket& ticket, ValuePtr value,
                      int64_t deadline, size_t charge, int64_t now,
                      const Ttls& ttls, const std::atomic<uint64_t>& epoch) {
    // Built before the lock: an allocation and a copy of the key.
    Entry* e = Entry::Create(key, std::move(value), deadline);
    e->seq = ticket.seq;
    e->read_at = absl::ToUnixNanos(ticket.started);
    InsertResult result;
    {
      Lock lock(&mu_);
      result = InsertLocked(e, hash, ticket, charge, now, ttls, epoch);
    }
    if (result == InsertResult::kSuperseded ||
        result == InsertResult::kTooLarge) {
      Entry::Destroy(e);
    }
    return result;
  }

  bool Invalidate(absl::string_view key, size_t hash) {
    Lock lock(&mu_);
    BumpPending(key);
    auto it = table_.find(key, hash);
    if (it == table_.end()) return false;
    (*it)->epoch = 0;
    ++invalidations_;
    return true;
  }

  void Erase(absl::string_view key, size_t hash) {
    Lock lock(&mu_);
    BumpPending(key);
    auto it = table_.find(key, hash);
    if (it != table_.end()) Remove(*it);
  }

  void SetCapacity(size_t capacity, int64_t now, const Ttls& ttls) {
    Lock lock(&mu_);
    capacity_ = capacity;
    EvictFor(0, now, ttls);
  }

  void AddStats(CacheStats* stats) {
    Lock lock(&mu_);
    stats->hits += hits_;
    stats->misses += misses_;
    stats->evictions_size += evictions_size_;
    stats->evictions_expired += evictions_expired_;
    stats->invalidations += invalidations_;
    stats->entries += table_.size();
    stats->bytes += usage_;
  }

 private:
  InsertResult InsertLocked(Entry* e, size_t hash, const FetchTicket& ticket,
                            size_t charge, int64_t now, const Ttls& ttls,
                            const std::atomic<uint64_t>& epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::string_view key = e->key();
    bool invalidated = FinishTicket(key, ticket);
    auto it = table_.find(key, hash);
    if (it != table_.end()) {
      if ((*it)->seq > ticket.seq) return InsertResult::kSuperseded;
      // The entry is older than this result: never let it outlive it.
      Remove(*it);
    }
    if (charge > capacity_) return InsertResult::kTooLarge;
    EvictFor(charge, now, ttls);
    // Read the epoch under the lock, after the ticket: an InvalidateAll that
    // lands after this load leaves entry->epoch behind the current one.
    const uint64_t current_epoch = epoch.load(std::memory_order_acquire);
    if (ticket.epoch != current_epoch) invalidated = true;
    e->epoch = invalidated ? 0 : current_epoch;
    table_.insert(e);
    LinkFront(e);
    usage_ += charge;
    return invalidated ? InsertResult::kStoredInvalidated
                       : InsertResult::kStoredFresh;
  }

  static size_t ChargeOf(const Entry& e) {
    return e.key_length() + e.value->ByteSize() + kEntryOverhead;
  }
  static int64_t TtlFor(const Entry& e, const Ttls& ttls) {
    return e.value->exists() ? ttls.ttl : ttls.negative_ttl;
  }
  static bool StaleUsable(const Entry& e, int64_t now, const Ttls& ttls) {
    return now < SatAdd(SatAdd(e.read_at, TtlFor(e, ttls)), ttls.max_stale);
  }
  static EntryState StateOf(const Entry& e, int64_t now, const Ttls& ttls,
                            uint64_t epoch) {
    if (e.epoch != epoch) return EntryState::kInvalidated;
    if (now >= SatAdd(e.read_at, TtlFor(e, ttls)) || now >= e.deadline()) {
      return EntryState::kExpired;
    }
    return EntryState::kFresh;
  }

  void BumpPending(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(key);
    if (it != pending_.end()) ++it->second.version;
  }

  // Evicts from the LRU tail until `charge` more bytes fit.
  void EvictFor(size_t charge, int64_t now, const Ttls& ttls)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (usage_ + charge > capacity_ && head_.prev != &head_) {
      Entry* victim = head_.prev;
      if (StaleUsable(*victim, now, ttls)) {
        ++evictions_size_;
      } else {
        ++evictions_expired_;
      }
      Remove(victim);
    }
  }

  void Remove(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    table_.erase(e->key());
    Unlink(e);
    usage_ -= ChargeOf(*e);
    Entry::Destroy(e);
  }
  static void Unlink(Entry* e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
  }
  void LinkFront(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    e->next = head_.next;
    e->prev = &head_;
    head_.next->prev = e;
    head_.next = e;
  }

  SpinFutexMutex mu_;
  absl::flat_hash_set<Entry*, KeyHash, KeyEq> table_ ABSL_GUARDED_BY(mu_);
  Entry head_ ABSL_GUARDED_BY(mu_) = {};  // LRU sentinel: links only
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  size_t capacity_ ABSL_GUARDED_BY(mu_) = 0;
  size_t usage_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evictions_size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t evictions_expired_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t invalidations_ ABSL_GUARDED_BY(mu_) = 0;
};

ShardedLruCache::ShardedLruCache(const CacheOptions& options,
                                 const Clock* clock)
    : clock_(clock),
      max_bytes_(options.max_bytes),
      ttl_ns_(absl::ToInt64Nanoseconds(options.ttl)),
      negative_ttl_ns_(absl::ToInt64Nanoseconds(options.negative_ttl)),
      max_stale_ns_(absl::ToInt64Nanoseconds(options.max_stale)) {
  int shards = 1;
  while (shards < options.num_shards && shards < (1 << 16)) shards *= 2;
  uint32_t bits = 0;
  while ((1 << bits) < shards) ++bits;
  shard_shift_ = bits;
  shards_.reserve(shards);
  for (int i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
  SetMaxBytes(options.max_bytes);
}

ShardedLruCache::~ShardedLruCache() = default;

size_t ShardedLruCache::Charge(absl::string_view key, const Value& value) {
  return key.size() + value.ByteSize() + kEntryOverhead;
}

ShardedLruCache::Shard& ShardedLruCache::ShardFor(size_t hash) const {
  if (shard_shift_ == 0) return *shards_[0];
  return *shards_[static_cast<uint64_t>(hash) >> (64 - shard_shift_)];
}

ShardedLruCache::Ttls ShardedLruCache::LoadTtls() const {
  return Ttls{ttl_ns_.load(std::memory_order_relaxed),
              negative_ttl_ns_.load(std::memory_order_relaxed),
              max_stale_ns_.load(std::memory_order_relaxed)};
}

std::optional<CacheEntry> ShardedLruCache::Lookup(absl::string_view key) {
  const size_t hash = HashKey(key);
  return ShardFor(hash).Lookup(key, hash, clock_->NowNanos(), LoadTtls(),
                               epoch_.load(std::memory_order_acquire),
                               fresh_allowed_.load(std::memory_order_acquire));
}

void ShardedLruCache::RecordStaleHit() {
  stale_hits_.fetch_add(1, std::memory_order_relaxed);
}

FetchTicket ShardedLruCache::BeginFetch(absl::string_view key) {
  FetchTicket ticket;
  // The epoch is read before the fetch is registered and the request is
  // sent, so an InvalidateAll racing with it can only make it stale-only.
  ticket.epoch = epoch_.load(std::memory_order_acquire);
  ticket.seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  ticket.started = clock_->Now();
  ShardFor(HashKey(key)).BeginFetch(key, &ticket);
  return ticket;
}

InsertResult ShardedLruCache::Insert(absl::string_view key,
                                     const FetchTicket& ticket, ValuePtr value,
                                     std::optional<absl::Time> deadline) {
  const size_t charge = Charge(key, *value);
  const size_t hash = HashKey(key);
  const int64_t deadline_ns =
      deadline.has_value() ? absl::ToUnixNanos(*deadline) : kInfinite;
  return ShardFor(hash).Insert(key, hash, ticket, std::move(value), deadline_ns,
                               charge, clock_->NowNanos(), LoadTtls(), epoch_);
}

void ShardedLruCache::AbandonFetch(absl::string_view key,
                                   const FetchTicket& ticket) {
  ShardFor(HashKey(key)).AbandonFetch(key, ticket);
}

bool ShardedLruCache::Invalidate(absl::string_view key) {
  const size_t hash = HashKey(key);
  return ShardFor(hash).Invalidate(key, hash);
}

void ShardedLruCache::InvalidateAll() {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
}

void ShardedLruCache::SetFreshnessAllowed(bool allowed) {
  fresh_allowed_.store(allowed, std::memory_order_release);
}

void ShardedLruCache::Erase(absl::string_view key) {
  const size_t hash = HashKey(key);
  ShardFor(hash).Erase(key, hash);
}

void ShardedLruCache::SetMaxBytes(size_t max_bytes) {
  absl::MutexLock lock(&resize_mu_);
  max_bytes_.store(max_bytes, std::memory_order_relaxed);
  const size_t per_shard = max_bytes / shards_.size();
  const int64_t now = clock_->NowNanos();
  const Ttls ttls = LoadTtls();
  for (auto& shard : shards_) shard->SetCapacity(per_shard, now, ttls);
}

void ShardedLruCache::SetTtls(absl::Duration ttl, absl::Duration negative_ttl,
                              absl::Duration max_stale) {
  ttl_ns_.store(absl::ToInt64Nanoseconds(ttl), std::memory_order_relaxed);
  negative_ttl_ns_.store(absl::ToInt64Nanoseconds(negative_ttl),
                         std::memory_order_relaxed);
  max_stale_ns_.store(absl::ToInt64Nanoseconds(max_stale),
                      std::memory_order_relaxed);
}

CacheStats ShardedLruCache::Stats() const {
  absl::MutexLock lock(&resize_mu_);
  CacheStats stats;
  for (const auto& shard : shards_) shard->AddStats(&stats);
  stats.stale_hits = stale_hits_.load(std::memory_order_relaxed);
  stats.max_bytes = max_bytes_.load(std::memory_order_relaxed);
  return stats;
}

size_t ShardedLruCache::max_bytes() const {
  return max_bytes_.load(std::memory_order_relaxed);
}

}  // namespace nearcache
