// ReferenceCache: a deliberately simple model of ShardedLruCache with one
// shard, for model-based tests. It follows the contract in
// include/nearcache/cache.h with the plainest data structures (a std::list in
// LRU order and a std::map), no sharding and no cleverness, so that it can be
// checked by reading: every operation is a few lines.
//
// Where the header leaves a choice open, the model fixes it as follows (and
// the model-based test therefore pins these choices down):
//   - an entry's age and ttl count from BeginFetch (`ticket.started`), the
//     conservative bound on when Redis answered;
//   - the stale window of a "does not exist" entry is negative_ttl + max_stale;
//   - an entry is expired when now >= read_at + ttl or now >= deadline;
//   - an Insert that replaces an older entry drops the old one first (even
//     when the new value turns out kTooLarge), without counting an eviction;
//   - entries past their stale window linger until a Lookup drops them or
//     eviction reaches them; an evicted one counts as an "expired" eviction.
//
// Not thread-safe.
#ifndef NEARCACHE_TESTS_FAKES_REFERENCE_CACHE_H_
#define NEARCACHE_TESTS_FAKES_REFERENCE_CACHE_H_

#include <cstdint>
#include <iterator>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nearcache/cache.h"
#include "nearcache/clock.h"
#include "nearcache/value.h"

namespace nearcache {

class ReferenceCache {
 public:
  ReferenceCache(const CacheOptions& options, const Clock* clock)
      : clock_(clock),
        max_bytes_(options.max_bytes),
        ttl_(options.ttl),
        negative_ttl_(options.negative_ttl),
        max_stale_(options.max_stale) {}

  std::optional<CacheEntry> Lookup(absl::string_view key) {
    const absl::Time now = clock_->Now();
    auto it = index_.find(std::string(key));
    if (it == index_.end()) {
      ++stats_.misses;
      return std::nullopt;
    }
    auto node = it->second;
    if (!WithinStaleWindow(*node, now)) {
      ++stats_.evictions_expired;
      Remove(node);
      ++stats_.misses;
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, node);  // most recently used
    const EntryState state = StateOf(*node, now);
    if (state == EntryState::kFresh) {
      ++stats_.hits;
    } else {
      ++stats_.misses;
    }
    return CacheEntry{node->value, state, now - node->read_at};
  }

  FetchTicket BeginFetch(absl::string_view key) {
    Pending& p = pending_[std::string(key)];
    ++p.tickets;
    return FetchTicket{epoch_, p.version, next_seq_++, clock_->Now()};
  }

  InsertResult Insert(absl::string_view key, const FetchTicket& ticket,
                      ValuePtr value,
                      std::optional<absl::Time> deadline = std::nullopt) {
    const std::string k(key);
    bool invalidated = FinishTicket(k, ticket) || ticket.epoch != epoch_;
    auto it = index_.find(k);
    if (it != index_.end()) {
      if (it->second->seq > ticket.seq) return InsertResult::kSuperseded;
      Remove(it->second);
    }
    const size_t charge = ShardedLruCache::Charge(key, *value);
    if (charge > max_bytes_) return InsertResult::kTooLarge;
    EvictUntilFits(charge);
    lru_.push_front(Entry{k, std::move(value), ticket.started,
                          deadline.value_or(absl::InfiniteFuture()), epoch_,
                          ticket.seq, charge, invalidated});
    index_[k] = lru_.begin();
    bytes_ += charge;
    return invalidated ? InsertResult::kStoredInvalidated
                       : InsertResult::kStoredFresh;
  }

  void AbandonFetch(absl::string_view key, const FetchTicket& ticket) {
    FinishTicket(std::string(key), ticket);
  }

  bool Invalidate(absl::string_view key) {
    BumpPending(std::string(key));
    auto it = index_.find(std::string(key));
    if (it == index_.end()) return false;
    it->second->invalidated = true;
    ++stats_.invalidations;
    return true;
  }

  void InvalidateAll() { ++epoch_; }

  void SetFreshnessAllowed(bool allowed) { fresh_allowed_ = allowed; }

  void Erase(absl::string_view key) {
    BumpPending(std::string(key));
    auto it = index_.find(std::string(key));
    if (it != index_.end()) Remove(it->second);
  }

  void SetMaxBytes(size_t max_bytes) {
    max_bytes_ = max_bytes;
    EvictUntilFits(0);
  }

  void SetTtls(absl::Duration ttl, absl::Duration negative_ttl,
               absl::Duration max_stale) {
    ttl_ = ttl;
    negative_ttl_ = negative_ttl;
    max_stale_ = max_stale;
  }

  CacheStats Stats() const {
    CacheStats s = stats_;
    s.entries = lru_.size();
    s.bytes = bytes_;
    s.max_bytes = max_bytes_;
    return s;
  }

  // Keys from least to most recently used.
  std::list<std::string> KeysLruFirst() const {
    std::list<std::string> keys;
    for (const Entry& e : lru_) keys.push_front(e.key);
    return keys;
  }

 private:
  struct Entry {
    std::string key;
    ValuePtr value;
    absl::Time read_at;
    absl::Time deadline;
    uint64_t epoch;
    uint64_t seq;
    size_t charge;
    bool invalidated;
  };
  struct Pending {
    int tickets = 0;
    uint64_t version = 0;
  };
  using Node = std::list<Entry>::iterator;

  absl::Duration TtlOf(const Entry& e) const {
    return e.value->exists() ? ttl_ : negative_ttl_;
  }
  bool WithinStaleWindow(const Entry& e, absl::Time now) const {
    return now < e.read_at + TtlOf(e) + max_stale_;
  }
  EntryState StateOf(const Entry& e, absl::Time now) const {
    if (e.invalidated || e.epoch != epoch_) return EntryState::kInvalidated;
    if (now >= e.read_at + TtlOf(e) || now >= e.deadline) {
      return EntryState::kExpired;
    }
    return fresh_allowed_ ? EntryState::kFresh : EntryState::kInvalidated;
  }

  // Returns true when `key` was invalidated since the ticket was taken.
  bool FinishTicket(const std::string& key, const FetchTicket& ticket) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return true;
    const bool invalidated = it->second.version != ticket.version;
    if (--it->second.tickets == 0) pending_.erase(it);
    return invalidated;
  }
  void BumpPending(const std::string& key) {
    auto it = pending_.find(key);
    if (it != pending_.end()) ++it->second.version;
  }

  void EvictUntilFits(size_t charge) {
    const absl::Time now = clock_->Now();
    while (bytes_ + charge > max_bytes_ && !lru_.empty()) {
      Node victim = std::prev(lru_.end());
      if (WithinStaleWindow(*victim, now)) {
        ++stats_.evictions_size;
      } else {
        ++stats_.evictions_expired;
      }
      Remove(victim);
    }
  }
  void Remove(Node node) {
    bytes_ -= node->charge;
    index_.erase(node->key);
    lru_.erase(node);
  }

  const Clock* const clock_;
  size_t max_bytes_;
  absl::Duration ttl_, negative_ttl_, max_stale_;
  uint64_t epoch_ = 1;
  bool fresh_allowed_ = true;
  uint64_t next_seq_ = 1;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // front: most recently used
  std::map<std::string, Node> index_;
  std::map<std::string, Pending> pending_;
  CacheStats stats_;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FAKES_REFERENCE_CACHE_H_
