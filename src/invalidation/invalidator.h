// Invalidator: keeps the cache coherent with Redis.
//
// It owns one dedicated connection per Redis endpoint, the invalidation
// link, that SUBSCRIBEs to `__redis__:invalidate` (client tracking) and to
// the application channel. Tracking is either
//   - default mode: every data connection of the pool runs
//     `CLIENT TRACKING on REDIRECT <link id>` (TrackDataConnection, the
//     pool's on_connect hook), so Redis remembers the keys nearcache read and
//     sends their names to the link when they change; or
//   - BCAST mode (`tracking_prefixes` set): the link itself runs
//     `CLIENT TRACKING on REDIRECT <own id> BCAST PREFIX ...` and hears of
//     every change under those prefixes; data connections are not tracked.
//
// Messages: a tracking message (an array of keys) invalidates each key; the
// null message Redis sends for FLUSHALL/FLUSHDB invalidates everything; an
// application-channel message is one key, several keys one per line, or "*"
// for everything.
//
// Loss: when the link drops or misses a PING reply within ping_timeout, or
// (default mode) a tracked data connection drops — Redis then silently stops
// sending that connection's invalidations (redis/redis#11767) — changes may
// have been missed: every entry is invalidated (kept for stale-if-error).
// While no link is up, nothing is served as fresh: every read revalidates
// with Redis while Redis answers (ShardedLruCache::SetFreshnessAllowed).
// When the link is back, data connections are re-tracked to it, the cache is
// invalidated once more, and freshness resumes.
#ifndef NEARCACHE_INVALIDATION_INVALIDATOR_H_
#define NEARCACHE_INVALIDATION_INVALIDATOR_H_

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nearcache/cache.h"
#include "upstream/redis_connection.h"
#include "upstream/redis_reply.h"

namespace nearcache {

class LookupService;

struct InvalidatorOptions {
  // How to reach Redis (same endpoint and credentials as the pool). Its
  // command_timeout is replaced by ping_timeout for the link.
  ConnectionOptions conn;
  // Turn on client tracking; false leaves only the application channel.
  bool tracking = true;
  // Non-empty: BCAST mode with these prefixes.
  std::vector<std::string> tracking_prefixes;
  // Application channel; empty: none.
  std::string channel = "nearcache:invalidate";
  absl::Duration ping_interval = absl::Seconds(1);
  absl::Duration ping_timeout = absl::Seconds(1);
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(5);
  // Re-tracks every open data connection to a new link id (default mode):
  // `CLIENT TRACKING off` then `on REDIRECT id`. Set by the app to a pool
  // walk. Must close (not keep) a connection it could not re-track.
  std::function<boost::asio::awaitable<void>(int64_t link_id)>
      retrack_data_connections;
  // Link state changes, for logs and metrics.
  std::function<void(bool up)> on_link_change;
};

// Counts by source, for nearcache_invalidations_total{source=...}.
struct InvalidationCounters {
  std::atomic<uint64_t> tracking{0};   // keys named by tracking messages
  std::atomic<uint64_t> channel{0};    // keys named on the app channel
  std::atomic<uint64_t> flush{0};      // FLUSHALL/FLUSHDB or "*"
  std::atomic<uint64_t> reconnect{0};  // link or tracked connection lost
};

// Thread-compatible: construct, use and destroy on the upstream executor
// (single-threaded), like the pool. link_up() may be read from any thread.
class Invalidator {
 public:
  // REQUIRES: cache and service outlive the invalidator.
  Invalidator(boost::asio::any_io_executor executor, InvalidatorOptions options,
              ShardedLruCache* cache, LookupService* service);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Starts the link loop. With tracking off and no channel there is no link
  // and the cache relies on TTLs alone (freshness is allowed from the start).
  void Start();
  void Stop();

  // The pool's on_connect hook (default tracking mode): turns on tracking
  // redirected to the link. With no link up it does nothing: freshness is
  // off until the link is back and re-tracks every connection.
  boost::asio::awaitable<absl::Status> TrackDataConnection(
      RedisConnection& conn);

  // The pool's on_connection_lost hook: in default tracking mode the keys
  // read on that connection are no longer tracked, so all are invalidated.
  void OnDataConnectionLost(int64_t client_id);

  // Applies one message the link received (public for tests).
  void HandlePush(const RedisReply& message);

  bool link_up() const { return link_up_.load(std::memory_order_acquire); }
  int64_t link_id() const { return link_id_; }
  const InvalidationCounters& counters() const { return counters_; }
  bool default_tracking() const {
    return options_.tracking && options_.tracking_prefixes.empty();
  }

 private:
  struct State;
  boost::asio::awaitable<void> Run(std::shared_ptr<State> state);
  void LinkLost(absl::string_view why);
  void InvalidateAll(std::atomic<uint64_t>& source);

  const InvalidatorOptions options_;
  ShardedLruCache* const cache_;
  LookupService* const service_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
  InvalidationCounters counters_;
  std::atomic<bool> link_up_{false};
  int64_t link_id_ = -1;
};

}  // namespace nearcache

#endif  // NEARCACHE_INVALIDATION_INVALIDATOR_H_
