// The sharded LRU behind include/nearcache/cache.h.
//
// Each shard is a hash table of intrusive, heap-allocated entries plus a
// circular doubly-linked LRU list through them (head.next = most recent),
// guarded by the shard's mutex. Keys in the table are views of the entry's own
// key bytes, which never move while the entry lives.
//
// Fetches in flight are tracked per shard in `pending_`: key -> (number of
// open tickets, invalidation count). Invalidate() bumps the count, so a ticket
// that saw an older count knows its result may predate a write.

#include <algorithm>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "nearcache/cache.h"

namespace nearcache {
namespace {

struct Entry {
  Entry* prev = nullptr;
  Entry* next = nullptr;
  std::string key;
  ValuePtr value;
  absl::Time read_at;  // when the fetch that produced it began
  absl::Time deadline = absl::InfiniteFuture();  // the key's Redis expiry
  uint64_t epoch = 0;  // InvalidateAll generation it was stored in
  uint64_t seq = 0;    // BeginFetch order of the fetch that produced it
  size_t charge = 0;
  bool invalidated = false;
};

struct Pending {
  uint32_t tickets = 0;
  uint64_t version = 0;
};

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
class ShardedLruCache::Shard {
 public:
  Shard() { head_.next = head_.prev = &head_; }
  ~Shard() {
    for (Entry* e = head_.next; e != &head_;) {
      Entry* next = e->next;
      delete e;
      e = next;
    }
  }

  std::optional<CacheEntry> Lookup(absl::string_view key, absl::Time now,
                                   const Ttls& ttls, uint64_t epoch,
                                   bool fresh_allowed) {
    absl::MutexLock lock(&mu_);
    auto it = table_.find(key);
    if (it == table_.end()) {
      ++misses_;
      return std::nullopt;
    }
    Entry* e = it->second;
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
    Unlink(e);
    LinkFront(e);
    if (state == EntryState::kFresh) {
      ++hits_;
    } else {
      ++misses_;
    }
    return CacheEntry{e->value, state, now - e->read_at};
  }

  void BeginFetch(absl::string_view key, FetchTicket* ticket) {
    absl::MutexLock lock(&mu_);
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
    absl::MutexLock lock(&mu_);
    FinishTicket(key, ticket);
  }

  InsertResult Insert(absl::string_view key, const FetchTicket& ticket,
                      ValuePtr value, std::optional<absl::Time> deadline,
                      size_t charge, absl::Time now, const Ttls& ttls,
                      const std::atomic<uint64_t>& epoch) {
    absl::MutexLock lock(&mu_);
    bool invalidated = FinishTicket(key, ticket);
    auto it = table_.find(key);
    if (it != table_.end()) {
      if (it->second->seq > ticket.seq) return InsertResult::kSuperseded;
      // The entry is older than this result: never let it outlive it.
      Remove(it->second);
    }
    if (charge > capacity_) return InsertResult::kTooLarge;
    EvictFor(charge, now, ttls);
    // Read the epoch under the lock, after the ticket: an InvalidateAll that
    // lands after this load leaves entry->epoch behind the current one.
    const uint64_t current_epoch = epoch.load(std::memory_order_acquire);
    if (ticket.epoch != current_epoch) invalidated = true;

    auto* e = new Entry;
    e->key.assign(key.data(), key.size());
    e->value = std::move(value);
    e->read_at = ticket.started;
    if (deadline.has_value()) e->deadline = *deadline;
    e->epoch = current_epoch;
    e->seq = ticket.seq;
    e->charge = charge;
    e->invalidated = invalidated;
    table_.emplace(absl::string_view(e->key), e);
    LinkFront(e);
    usage_ += charge;
    return invalidated ? InsertResult::kStoredInvalidated
                       : InsertResult::kStoredFresh;
  }

  bool Invalidate(absl::string_view key) {
    absl::MutexLock lock(&mu_);
    BumpPending(key);
    auto it = table_.find(key);
    if (it == table_.end()) return false;
    it->second->invalidated = true;
    ++invalidations_;
    return true;
  }

  void Erase(absl::string_view key) {
    absl::MutexLock lock(&mu_);
    BumpPending(key);
    auto it = table_.find(key);
    if (it != table_.end()) Remove(it->second);
  }

  void SetCapacity(size_t capacity, absl::Time now, const Ttls& ttls) {
    absl::MutexLock lock(&mu_);
    capacity_ = capacity;
    EvictFor(0, now, ttls);
  }

  void AddStats(CacheStats* stats) const {
    absl::MutexLock lock(&mu_);
    stats->hits += hits_;
    stats->misses += misses_;
    stats->evictions_size += evictions_size_;
    stats->evictions_expired += evictions_expired_;
    stats->invalidations += invalidations_;
    stats->entries += table_.size();
    stats->bytes += usage_;
  }

 private:
  static absl::Duration TtlFor(const Entry& e, const Ttls& ttls) {
    return e.value->exists() ? ttls.ttl : ttls.negative_ttl;
  }
  static bool StaleUsable(const Entry& e, absl::Time now, const Ttls& ttls) {
    return now < e.read_at + TtlFor(e, ttls) + ttls.max_stale;
  }
  static EntryState StateOf(const Entry& e, absl::Time now, const Ttls& ttls,
                            uint64_t epoch) {
    if (e.invalidated || e.epoch != epoch) return EntryState::kInvalidated;
    if (now >= e.read_at + TtlFor(e, ttls) || now >= e.deadline) {
      return EntryState::kExpired;
    }
    return EntryState::kFresh;
  }

  void BumpPending(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(key);
    if (it != pending_.end()) ++it->second.version;
  }

  // Evicts from the LRU tail until `charge` more bytes fit.
  void EvictFor(size_t charge, absl::Time now, const Ttls& ttls)
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
    table_.erase(absl::string_view(e->key));
    Unlink(e);
    usage_ -= e->charge;
    delete e;
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

  mutable absl::Mutex mu_;
  absl::flat_hash_map<absl::string_view, Entry*> table_ ABSL_GUARDED_BY(mu_);
  Entry head_ ABSL_GUARDED_BY(mu_);  // LRU sentinel
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

ShardedLruCache::Shard& ShardedLruCache::ShardFor(absl::string_view key) const {
  if (shard_shift_ == 0) return *shards_[0];
  const uint64_t h = absl::Hash<absl::string_view>{}(key);
  return *shards_[h >> (64 - shard_shift_)];
}

ShardedLruCache::Ttls ShardedLruCache::LoadTtls() const {
  return Ttls{
      absl::Nanoseconds(ttl_ns_.load(std::memory_order_relaxed)),
      absl::Nanoseconds(negative_ttl_ns_.load(std::memory_order_relaxed)),
      absl::Nanoseconds(max_stale_ns_.load(std::memory_order_relaxed))};
}

std::optional<CacheEntry> ShardedLruCache::Lookup(absl::string_view key) {
  return ShardFor(key).Lookup(key, clock_->Now(), LoadTtls(),
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
  ShardFor(key).BeginFetch(key, &ticket);
  return ticket;
}

InsertResult ShardedLruCache::Insert(absl::string_view key,
                                     const FetchTicket& ticket, ValuePtr value,
                                     std::optional<absl::Time> deadline) {
  const size_t charge = Charge(key, *value);
  return ShardFor(key).Insert(key, ticket, std::move(value), deadline, charge,
                              clock_->Now(), LoadTtls(), epoch_);
}

void ShardedLruCache::AbandonFetch(absl::string_view key,
                                   const FetchTicket& ticket) {
  ShardFor(key).AbandonFetch(key, ticket);
}

bool ShardedLruCache::Invalidate(absl::string_view key) {
  return ShardFor(key).Invalidate(key);
}

void ShardedLruCache::InvalidateAll() {
  epoch_.fetch_add(1, std::memory_order_acq_rel);
}

void ShardedLruCache::SetFreshnessAllowed(bool allowed) {
  fresh_allowed_.store(allowed, std::memory_order_release);
}

void ShardedLruCache::Erase(absl::string_view key) { ShardFor(key).Erase(key); }

void ShardedLruCache::SetMaxBytes(size_t max_bytes) {
  absl::MutexLock lock(&resize_mu_);
  max_bytes_.store(max_bytes, std::memory_order_relaxed);
  const size_t per_shard = max_bytes / shards_.size();
  const absl::Time now = clock_->Now();
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
