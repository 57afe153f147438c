// UpstreamPool: a fixed number of pipelined RedisConnections kept up in the
// background, and a circuit breaker in front of them.
//
// Each of `pool_size` slots connects, runs `on_connect` (e.g. to turn on
// CLIENT TRACKING), and only then lends its connection to Execute(); when the
// connection dies the slot reconnects with exponential backoff and full
// jitter between reconnect_min and reconnect_max. Execute() picks the open
// connection with the fewest pending requests and never waits for a connect:
// callers fall back to stale data, so a fast kUnavailable beats a slow one.
//
// Circuit breaker, over transport failures only (network errors, timeouts;
// a Redis error reply is a success here):
//   closed    -> open      after `breaker_failures` consecutive failures, or
//                          at once when no connection is up
//   open      -> half-open after `breaker_cooldown`; exactly one request
//                          goes through as a probe, the others are rejected
//   half-open -> closed on the probe's success, -> open on its failure
//   any       -> closed    when a connection joins while none was up (its
//                          handshake and on_connect were a successful probe)
// Rejected requests fail at once with kUnavailable.
//
// For rediss:// one TLS context (CA, client certificate) is built at
// Start() and shared by every connection.
//
// Usage, on the upstream thread:
//   UpstreamPool pool(io.get_executor(), options);
//   pool.Start();
//   absl::StatusOr<RedisReply> r = co_await pool.Execute({"GET", key});
//   ...
//   pool.Stop();
#ifndef NEARCACHE_UPSTREAM_UPSTREAM_POOL_H_
#define NEARCACHE_UPSTREAM_UPSTREAM_POOL_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/redis_connection.h"
#include "upstream/redis_reply.h"

namespace nearcache {
namespace upstream_internal {
struct PoolState;
}  // namespace upstream_internal

struct UpstreamPoolOptions {
  // How to reach and authenticate to Redis.
  ConnectionOptions conn;
  // Connections kept up.
  int pool_size = 4;
  // Consecutive transport failures that open the breaker.
  int breaker_failures = 5;
  // How long the open breaker rejects everything before a probe.
  absl::Duration breaker_cooldown = absl::Seconds(1);
  // Reconnect delay bounds: attempt k waits a uniformly random time in
  // [reconnect_min, min(reconnect_max, reconnect_min * 2^(k+1))].
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(5);
  // Run on each new connection after the handshake, before it serves
  // requests; a failure drops the connection and retries with backoff.
  std::function<asio::awaitable<absl::Status>(RedisConnection&)> on_connect;
  // A connection that had served requests died (not called for Stop()).
  std::function<void(int64_t client_id, absl::Status reason)>
      on_connection_lost;
  // The pool went from no usable connection to some (true), or back (false).
  std::function<void(bool up)> on_state_change;
};

enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState state);

// A snapshot for metrics. Every Execute()/ExecuteBatch() call counts once,
// in exactly one of the four request counters.
struct UpstreamStats {
  uint64_t requests_ok = 0;        // Redis answered (error replies included)
  uint64_t requests_error = 0;     // transport failure other than a timeout
  uint64_t requests_timeout = 0;   // command_timeout passed
  uint64_t requests_rejected = 0;  // breaker open, no connection, stopped
  uint64_t connects_ok = 0;        // connections that joined the pool
  uint64_t connects_failed = 0;    // failed connects, handshakes, on_connect
  int connections_up = 0;
  bool up = false;
  BreakerState breaker = BreakerState::kOpen;
};

// Thread-compatible: construct, use and destroy it on the thread that runs
// `executor` (the upstream thread), which must be single-threaded. Callbacks
// run on that thread; none runs after Stop() returns, except an on_connect
// already in progress, whose connection Stop() closes.
class UpstreamPool {
 public:
  UpstreamPool(asio::any_io_executor executor, UpstreamPoolOptions options);
  // Calls Stop().
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Starts the slots' connect loops. Call once. When the TLS context
  // cannot be built (a file missing or invalid) no slot starts: every request
  // is rejected and last_connect_error() says why.
  void Start();

  // Closes every connection (pending requests fail with kUnavailable),
  // cancels reconnects and rejects later requests. Idempotent. Background
  // coroutines still suspended own the shared state and end when they next
  // run (or when the io_context is destroyed).
  void Stop();

  // See RedisConnection::Execute / ExecuteBatch; adds kUnavailable
  // rejections ("circuit breaker open", "no connection to Redis", followed
  // by the last connect error when there is one).
  // The pool may be destroyed while these run.
  asio::awaitable<absl::StatusOr<RedisReply>> Execute(
      std::vector<std::string> args);
  asio::awaitable<absl::StatusOr<std::vector<RedisReply>>> ExecuteBatch(
      std::vector<std::vector<std::string>> commands);

  // Runs `fn` on every connection that serves requests, one after another;
  // a connection for which it fails is closed (and reconnects). Used to
  // re-point client tracking at a new invalidation link.
  asio::awaitable<void> ForEachConnection(
      std::function<asio::awaitable<absl::Status>(RedisConnection&)> fn);

  // Why the last attempt to add a connection failed (connect, TLS,
  // handshake, on_connect); OK once one succeeds after it.
  absl::Status last_connect_error() const;
  // True while at least one connection serves requests.
  bool up() const;
  BreakerState breaker_state() const;
  UpstreamStats stats() const;

 private:
  // Owned jointly with the slot coroutines and requests in flight.
  std::shared_ptr<upstream_internal::PoolState> state_;
};

}  // namespace nearcache

#endif  // NEARCACHE_UPSTREAM_UPSTREAM_POOL_H_
