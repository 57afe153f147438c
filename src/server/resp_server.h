// RespServer: the RESP2 front-end. Accepts connections on a Unix socket (and
// optionally TCP), hands each to one of the worker io_contexts round-robin,
// and runs one coroutine per connection: read what the client sent, parse
// every complete command, run them as one batch (RespHandler), write all
// replies with one gathered write, repeat. A client that pipelines gets its
// replies in order; one that stops reading stops being read (its replies are
// bounded by what one read can ask for).
#ifndef NEARCACHE_SERVER_RESP_SERVER_H_
#define NEARCACHE_SERVER_RESP_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "resp/request_parser.h"
#include "server/resp_handler.h"

namespace nearcache {

struct RespServerOptions {
  std::string unix_path;  // empty: no Unix socket
  uint32_t socket_mode = 0660;
  std::string tcp_address;  // "host:port"; empty: no TCP
  int max_connections = 10000;
  resp::RequestParserOptions parser;
  // Reply bytes a connection may have pending (written by nearcache, not yet
  // taken by the kernel); beyond it the client is disconnected, as Redis's
  // client-output-buffer-limit does. Zero: no limit.
  size_t max_output_bytes = size_t{64} << 20;
  // A connection with no request for this long is closed. Zero: never.
  absl::Duration idle_timeout = absl::ZeroDuration();
  // Peer uids (SO_PEERCRED) allowed on the Unix socket; empty allows any.
  // TCP connections are not checked (bind TCP to localhost or not at all).
  std::vector<uint32_t> allowed_uids;
};

// Thread-safe: Start() and Stop() may be called from any thread, once each.
class RespServer {
 public:
  // REQUIRES: context and workers outlive the server; workers non-empty.
  RespServer(RespServerOptions options, FrontendContext* context,
             std::vector<boost::asio::io_context*> workers);
  ~RespServer();

  // Binds every listener (errors name the path or address), then accepts.
  absl::Status Start();

  // Stops accepting and removes the socket file (only one this server
  // created). Open connections go on until their io_context stops.
  // REQUIRES: after a successful Start(), workers[0] is running or stopped.
  void Stop();

  // After Stop(): closes idle connections and makes busy ones close once
  // their replies are written. FrontendContext::connected_clients reaches
  // zero when all are done. Returns at once.
  void Drain();

  struct WorkerSessions;

 private:
  struct Listeners;
  const RespServerOptions options_;
  FrontendContext* const context_;
  const std::vector<boost::asio::io_context*> workers_;
  std::unique_ptr<Listeners> listeners_;
};

}  // namespace nearcache

#endif  // NEARCACHE_SERVER_RESP_SERVER_H_
