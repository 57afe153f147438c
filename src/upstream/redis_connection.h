// RedisConnection: one pipelined RESP2 connection to Redis over TCP, TLS
// (rediss://) or a Unix socket, built on asio coroutines with hiredis's
// reader as the parser.
//
// Many coroutines may Execute() at once: each request is encoded as a RESP
// multibulk and appended to one write buffer, so requests issued while a
// write is in flight go out together in the next write; one reader coroutine
// matches replies to requests in FIFO order. A request that waits longer than
// `command_timeout` breaks the connection (every later reply would be matched
// to the wrong request): the connection closes, the late request fails with
// kDeadlineExceeded and every other pending request with kUnavailable.
//
// A Redis error reply (-ERR, -WRONGTYPE, -NOAUTH ...) is a RedisReply of
// type kError, not a failed Status. Statuses are for the transport:
//   kUnavailable       connect refused, connection lost or closed, TLS
//                      handshake failed (e.g. the server wants a client
//                      certificate)
//   kDeadlineExceeded  connect_timeout (TCP + TLS handshake) or
//                      command_timeout passed
//   kUnauthenticated   AUTH refused, or Redis wants a password (NOAUTH)
//   kPermissionDenied  the ACL user may not run a handshake command
//   kFailedPrecondition the server certificate failed verification (the
//                      message says why: unknown CA, name mismatch,
//                      expired...), or another handshake command failed
//                      (e.g. SELECT 99)
//   kInvalidArgument   the TLS files could not be loaded (see MakeTlsContext)
//
// Subscriber mode (the invalidation link): SetPushHandler(), then
// Subscribe(). From the first subscribe confirmation on, "message",
// "pmessage" and "smessage" arrays go to the push handler while other replies
// (confirmations, ["pong", ""] for Ping()) still answer requests in order.
//
// Usage, on the upstream executor:
//   auto conn = co_await RedisConnection::Connect(ex, options);
//   if (!conn.ok()) ...;
//   absl::StatusOr<RedisReply> r = co_await (*conn)->Execute({"GET", key});
#ifndef NEARCACHE_UPSTREAM_REDIS_CONNECTION_H_
#define NEARCACHE_UPSTREAM_REDIS_CONNECTION_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nearcache/redis_endpoint.h"
#include "upstream/redis_reply.h"
#include "upstream/tls_context.h"

namespace nearcache {

namespace asio = boost::asio;

struct ConnectionOptions {
  RedisEndpoint endpoint;
  // ACL user for AUTH; empty: the default user.
  std::string username;
  // AUTH password; empty: no AUTH is sent. Never logged.
  std::string password;
  // Bounds name resolution plus the TCP/Unix connect.
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // Bounds each request (and the handshake: AUTH/SELECT/CLIENT as one batch).
  // Zero or infinite: no timeout.
  absl::Duration command_timeout = absl::Milliseconds(50);
  // CLIENT SETNAME after connecting (shows in CLIENT LIST); empty: skipped.
  std::string client_name = "nearcache";
  // CA, client certificate, server name and verification for rediss://.
  TlsOptions tls;
};

// Thread-compatible: every method, and the destructor, must run on the
// executor given to Connect(), which must not run handlers concurrently (one
// thread, or a strand). Handlers are invoked on that executor.
//
// Lifetime: while open, the connection's reader keeps it alive; Close() (or
// the connection dying) releases it. Execute() keeps it alive until it returns.
class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  // Resolves and connects (and for rediss:// completes the TLS handshake)
  // within connect_timeout, then sends in one batch: AUTH (`AUTH user pass`
  // when a username is set, else `AUTH pass` when a password is set), SELECT
  // db (db != 0), CLIENT SETNAME and CLIENT ID.
  //
  // `tls_context` (from MakeTlsContext(options.tls)) is used for rediss://
  // and ignored otherwise; when null, one is built for this connection.
  static asio::awaitable<absl::StatusOr<std::shared_ptr<RedisConnection>>>
  Connect(asio::any_io_executor executor, ConnectionOptions options,
          std::shared_ptr<asio::ssl::context> tls_context = nullptr);

  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and returns its reply (see the file comment for the
  // Status codes). Fails at once with kUnavailable when the connection is
  // closed.
  asio::awaitable<absl::StatusOr<RedisReply>> Execute(
      std::vector<std::string> args);

  // Sends `commands` in one write and returns their replies in order; the
  // whole batch shares one command_timeout. An empty batch returns {}.
  asio::awaitable<absl::StatusOr<std::vector<RedisReply>>> ExecuteBatch(
      std::vector<std::vector<std::string>> commands);

  // Receives replies that answer no request: pub/sub messages once
  // subscribed (dropped while no handler is set: they must never be matched
  // to a request), and any reply that arrives when nothing is pending
  // (without a handler, a protocol error that closes the connection).
  // Called inline from the reader: it must not block; it may call Close().
  void SetPushHandler(absl::AnyInvocable<void(RedisReply)> handler);

  // SUBSCRIBE to `channels` and wait for every confirmation. Set the push
  // handler first: messages may follow the confirmations at once. An error
  // reply (e.g. -NOPERM) fails with kPermissionDenied / kFailedPrecondition.
  asio::awaitable<absl::Status> Subscribe(std::vector<std::string> channels);

  // PING that works in both modes: +PONG normally, ["pong", ""] once
  // subscribed. An error reply (e.g. -LOADING) fails with kUnavailable.
  asio::awaitable<absl::Status> Ping();

  // `handler` is called once, posted to the executor, with the reason the
  // connection closed (EOF, I/O or protocol error, timeout, Close()); at once
  // (posted) when it is already closed. Replaces an earlier handler. Not
  // called when the connection is destroyed while open (io_context teardown).
  void OnClosed(absl::AnyInvocable<void(absl::Status)> handler);

  // Closes the socket and fails every pending request with kUnavailable.
  // Idempotent.
  void Close();

  bool is_open() const { return state_ == State::kOpen; }
  // True once Redis confirmed a subscription (RESP2 subscriber mode).
  bool subscribed() const { return subscribed_; }
  // The CLIENT ID Redis gave this connection (for CLIENT TRACKING REDIRECT).
  int64_t client_id() const { return client_id_; }
  // Requests (an ExecuteBatch counts as one) waiting for replies.
  size_t pending() const { return pending_.size(); }
  const ConnectionOptions& options() const { return options_; }
  const asio::any_io_executor& executor() const { return executor_; }

 private:
  enum class State : uint8_t { kConnecting, kOpen, kClosed };
  struct Io;       // stream, resolver, timers, reader: asio stays in the .cc
  struct Request;  // one pending request (or batch, or SUBSCRIBE)

  RedisConnection(asio::any_io_executor executor, ConnectionOptions options);

  asio::awaitable<absl::Status> Open(
      std::shared_ptr<asio::ssl::context> tls_context);
  asio::awaitable<absl::Status> ConnectSocket();
  asio::awaitable<absl::Status> TlsHandshake(asio::ssl::context& context);
  asio::awaitable<absl::Status> Handshake();
  static asio::awaitable<void> ConnectWatchdog(
      std::shared_ptr<RedisConnection> self);
  static asio::awaitable<void> ReadLoop(std::shared_ptr<RedisConnection> self);
  static asio::awaitable<void> WriteLoop(std::shared_ptr<RedisConnection> self);

  // Queues `commands`, whose replies complete the request after `expected`
  // of them (or after the first error reply when `subscribe`).
  asio::awaitable<absl::StatusOr<std::vector<RedisReply>>> Send(
      std::vector<std::vector<std::string>> commands, size_t expected,
      bool subscribe);
  void DispatchReply(RedisReply reply);
  // Closes the socket, fails pending requests with kUnavailable carrying
  // `reason`'s message, and notifies the OnClosed handler with `reason`.
  void Shutdown(absl::Status reason);

  const asio::any_io_executor executor_;
  const ConnectionOptions options_;
  const std::string peer_;  // endpoint for messages; never secret
  std::unique_ptr<Io> io_;
  State state_ = State::kConnecting;
  bool writing_ = false;
  bool subscribed_ = false;
  bool connect_timed_out_ = false;
  // What Open() is doing, for the connect timeout's message.
  const char* connect_step_ = "connect";
  int64_t client_id_ = -1;
  std::deque<std::shared_ptr<Request>> pending_;
  absl::AnyInvocable<void(RedisReply)> push_handler_;
  absl::AnyInvocable<void(absl::Status)> on_closed_;
  absl::Status close_reason_;
};

}  // namespace nearcache

#endif  // NEARCACHE_UPSTREAM_REDIS_CONNECTION_H_
