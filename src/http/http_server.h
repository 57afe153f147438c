// HttpServer: a generic HTTP/1.1 server (boost.beast) on a Unix socket
// and/or TCP, for the JSON API and the admin port. Connections are handed
// to the worker io_contexts round-robin; each runs one coroutine that reads
// a request (request_parser with header and body limits, a read deadline),
// awaits the handler, writes the response, and repeats while the client
// keeps the connection alive. Pipelined requests are answered in order, one
// at a time. A request the parser refuses gets 400, 413 (body too large) or
// 431 (header too large) with a JSON {"error": ...} body, and its
// connection closes. "Expect: 100-continue" is answered before the body is
// read. With allowed_uids set, a Unix-socket client of another user gets
// 403 for its first request and is disconnected.
//
//   HttpServerOptions options;
//   options.unix_path = "/var/run/nearcache/http.sock";
//   HttpServer server(options, MakeApiHandler(&api), workers);
//   if (absl::Status s = server.Start(); !s.ok()) ...
//   ...                 // on SIGTERM:
//   server.Stop();      // no new connections; the socket file is removed
//   server.Drain();     // idle connections close, busy ones after replying
//   ... wait for server.active_connections() == 0 (bounded) ...
#ifndef NEARCACHE_HTTP_HTTP_SERVER_H_
#define NEARCACHE_HTTP_HTTP_SERVER_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "http/http_message.h"

namespace nearcache {

struct HttpServerOptions {
  std::string unix_path;          // empty: no Unix socket
  uint32_t socket_mode = 0660;    // file mode of the Unix socket
  std::string tcp_address;        // "host:port"; empty: no TCP
  int max_connections = 10000;    // beyond this a client gets 503 + close
  size_t header_limit = 8 << 10;  // request line + headers; else 431
  size_t body_limit = 1 << 20;    // request body; else 413
  // How long a keep-alive connection may wait for its next request, and the
  // bound on reading one request and on writing one response. Zero: never.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Peer uids (SO_PEERCRED) allowed on the Unix socket; empty allows any.
  // A refused peer's request is answered 403 with a JSON error, then the
  // connection closes. TCP connections are not checked.
  std::vector<uint32_t> allowed_uids;
};

// Thread-safe: Start() once, then Stop() and Drain() from any thread.
class HttpServer {
 public:
  // Turns a request into a response. Runs on the connection's worker; may
  // modify the request (e.g. move its body out). Should not throw: an
  // exception becomes a 500.
  using Handler =
      std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

  // REQUIRES: workers non-empty and running (Stop() waits for workers[0])
  // until the server is destroyed and its connections are gone; whatever
  // `handler` refers to outlives the connections.
  HttpServer(HttpServerOptions options, Handler handler,
             std::vector<boost::asio::io_context*> workers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds every listener (errors name the path or address), then accepts
  // on workers[0]. An error leaves nothing bound.
  absl::Status Start();

  // Stops accepting and removes the socket file this server created.
  // Connections go on. Returns once the listeners are closed. Idempotent.
  void Stop();

  // After Stop(): connections waiting for a request are closed; a request
  // being read or handled is answered (with "Connection: close") and then
  // its connection closes. Returns at once; active_connections() reaches
  // zero when all are done.
  void Drain();

  // Open client connections.
  int64_t active_connections() const;

  // After Start(): the bound TCP port (useful with port 0); 0 without TCP.
  uint16_t tcp_port() const;

  // Shared by the server, its accept loops and its connections, so that
  // none of them outlives what it uses. Internal.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nearcache

#endif  // NEARCACHE_HTTP_HTTP_SERVER_H_
