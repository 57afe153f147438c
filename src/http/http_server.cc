#include "http/http_server.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <future>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/listen_socket.h"
#include "util/log.h"

namespace nearcache {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::local::stream_protocol;

namespace {

// After an error response, how long and how much of what the client still
// sends is read and dropped before closing, so that closing with unread
// data does not reset the connection before the client reads the response.
constexpr absl::Duration kLingerTime = absl::Seconds(2);
constexpr size_t kLingerBytes = size_t{1} << 20;

// A connection as Drain() sees it. Its worker's thread only.
struct Session {
  // A request is being read past its header, handled or answered.
  bool busy = false;
  bool draining = false;
  std::function<void()> cancel;  // aborts the pending read
};

// The connections of one worker. That worker's thread only.
struct WorkerSessions {
  bool draining = false;
  absl::flat_hash_set<Session*> sessions;
};

}  // namespace

struct HttpServer::State {
  HttpServerOptions options;
  Handler handler;
  std::vector<asio::io_context*> workers;
  std::vector<WorkerSessions> sessions;  // one per worker
  // Open and closed on workers[0] (after Start()).
  std::optional<stream_protocol::acceptor> unix_acceptor;
  std::optional<tcp::acceptor> tcp_acceptor;
  bool listening = false;  // set by Start(), before any accept loop runs
  uint16_t tcp_port = 0;
  std::atomic<size_t> next_worker{0};
  std::atomic<int64_t> active{0};
  std::atomic<bool> stopped{false};
};

namespace {

using State = HttpServer::State;

template <typename Stream>
void SetDeadline(Stream& stream, absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    stream.expires_never();
  } else {
    stream.expires_after(absl::ToChronoNanoseconds(timeout));
  }
}

// The response to a request the parser refused, or nullopt when the client
// is gone or timed out and there is nobody to answer.
std::optional<HttpResponse> ResponseForReadError(
    const boost::system::error_code& ec, const HttpServerOptions& options) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return MakeJsonError(HttpStatus::request_header_fields_too_large,
                         absl::StrCat("request header too large (limit ",
                                      options.header_limit, " bytes)"));
  }
  if (ec == http::error::body_limit) {
    return MakeJsonError(HttpStatus::payload_too_large,
                         absl::StrCat("request body too large (limit ",
                                      options.body_limit, " bytes)"));
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == http::error::short_read) {
    return std::nullopt;
  }
  if (ec.category() ==
      http::make_error_code(http::error::bad_method).category()) {
    return MakeJsonError(HttpStatus::bad_request,
                         absl::StrCat("malformed request: ", ec.message()));
  }
  return std::nullopt;
}

asio::awaitable<HttpResponse> CallHandler(const HttpServer::Handler& handler,
                                          HttpRequest& request) {
  try {
    co_return co_await handler(request);
  } catch (const std::exception& e) {
    LOG_ERROR("http handler failed", {{"error", e.what()}});
  } catch (...) {
    LOG_ERROR("http handler failed", {{"error", "unknown exception"}});
  }
  co_return MakeJsonError(HttpStatus::internal_server_error, "internal error");
}

template <typename Stream>
asio::awaitable<void> LingeringClose(Stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
  SetDeadline(stream, kLingerTime);
  char sink[4096];
  size_t total = 0;
  while (!ec && total < kLingerBytes) {
    total += co_await stream.async_read_some(
        asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Answers a peer that listen.allowed_uids refuses: reads its request header
// (so that the answer follows a request, as HTTP clients expect), answers
// 403 and closes. Returns whether to close with a linger.
template <typename Stream>
asio::awaitable<bool> RefusePeer(Stream& stream, beast::flat_buffer& buffer,
                                 const HttpServerOptions& options) {
  boost::system::error_code ec;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(static_cast<uint32_t>(options.header_limit));
  SetDeadline(stream, options.idle_timeout);
  co_await http::async_read_header(
      stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec && !ResponseForReadError(ec, options).has_value()) co_return false;
  HttpResponse refused = MakeJsonError(HttpStatus::forbidden,
                                       "forbidden: this user may not connect "
                                       "(listen.allowed_uids)");
  refused.keep_alive(false);
  SetDeadline(stream, options.idle_timeout);
  co_await http::async_write(stream, refused,
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

template <typename Socket>
asio::awaitable<void> RunSession(std::shared_ptr<State> state, Socket socket,
                                 size_t worker, bool refused) {
  using Protocol = typename Socket::protocol_type;
  using Stream = beast::basic_stream<Protocol, typename Socket::executor_type>;
  const HttpServerOptions& options = state->options;
  Stream stream(std::move(socket));
  WorkerSessions& registry = state->sessions[worker];
  Session session;
  session.cancel = [&stream] { stream.cancel(); };
  struct Registration {
    State* state;
    WorkerSessions* registry;
    Session* session;
    ~Registration() {
      registry->sessions.erase(session);
      state->active.fetch_sub(1);
    }
  } registration{state.get(), &registry, &session};
  registry.sessions.insert(&session);
  session.draining = registry.draining;

  boost::system::error_code ec;
  if constexpr (std::is_same_v<Protocol, tcp>) {
    stream.socket().set_option(tcp::no_delay(true), ec);
  }
  beast::flat_buffer buffer;
  bool linger = false;
  if (refused) {
    session.busy = true;
    linger = co_await RefusePeer(stream, buffer, options);
  }
  while (!refused && !session.draining) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.header_limit));
    parser.body_limit(options.body_limit);
    std::optional<HttpResponse> refused;

    SetDeadline(stream, options.idle_timeout);
    co_await http::async_read_header(
        stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      session.busy = true;
      if (!parser.is_done() &&
          beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> proceed(HttpStatus::continue_, 11);
        SetDeadline(stream, options.idle_timeout);
        co_await http::async_write(
            stream, proceed, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      SetDeadline(stream, options.idle_timeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      refused = ResponseForReadError(ec, options);
      if (!refused.has_value()) break;
      session.busy = true;
      refused->keep_alive(false);
      SetDeadline(stream, options.idle_timeout);
      co_await http::async_write(stream, *refused,
                                 asio::redirect_error(asio::use_awaitable, ec));
      linger = !ec;
      break;
    }

    HttpRequest request = parser.release();
    HttpResponse response = co_await CallHandler(state->handler, request);
    const bool keep_alive = request.keep_alive() && !session.draining;
    response.version(request.version() == 10 ? 10 : 11);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    SetDeadline(stream, options.idle_timeout);
    co_await http::async_write(stream, response,
                               asio::redirect_error(asio::use_awaitable, ec));
    session.busy = false;
    if (ec || !keep_alive) break;
  }
  if (linger) {
    session.busy = false;
    co_await LingeringClose(stream);
  } else {
    stream.socket().shutdown(asio::socket_base::shutdown_both, ec);
  }
  stream.socket().close(ec);
}

// What a client beyond max_connections gets before its connection closes.
constexpr char kTooManyConnections[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Server: nearcache\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 32\r\n"
    "Connection: close\r\n"
    "\r\n"
    "{\"error\":\"too many connections\"}";

template <typename Acceptor>
asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state,
                                 Acceptor* acceptor) {
  for (;;) {
    const size_t index =
        state->next_worker.fetch_add(1) % state->workers.size();
    asio::io_context& worker = *state->workers[index];
    boost::system::error_code ec;
    auto socket = co_await acceptor->async_accept(
        worker, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) break;
      // E.g. EMFILE: wait for descriptors to free up rather than spin.
      asio::steady_timer pause(acceptor->get_executor(),
                               std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (state->active.fetch_add(1) >= state->options.max_connections) {
      state->active.fetch_sub(1);
      socket.write_some(
          asio::buffer(kTooManyConnections, sizeof(kTooManyConnections) - 1),
          ec);
      socket.close(ec);
      continue;
    }
    bool refused = false;
    if constexpr (std::is_same_v<typename Acceptor::protocol_type,
                                 stream_protocol>) {
      if (!PeerAllowed(socket.native_handle(), state->options.allowed_uids)) {
        refused = true;
        const std::optional<uint32_t> uid = PeerUid(socket.native_handle());
        LOG_WARN("http client refused: its uid is not in listen.allowed_uids",
                 {{"uid", uid.has_value() ? absl::StrCat(*uid) : "unknown"},
                  {"socket", state->options.unix_path}});
      }
    }
    asio::co_spawn(worker, RunSession(state, std::move(socket), index, refused),
                   asio::detached);
  }
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Handler handler,
                       std::vector<asio::io_context*> workers)
    : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->handler = std::move(handler);
  state_->workers = std::move(workers);
  state_->sessions.resize(state_->workers.size());
}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  State& s = *state_;
  asio::io_context& io = *s.workers[0];
  if (!s.options.unix_path.empty()) {
    auto acceptor = ListenUnix(io, s.options.unix_path, s.options.socket_mode);
    if (!acceptor.ok()) return acceptor.status();
    s.unix_acceptor.emplace(std::move(*acceptor));
  }
  if (!s.options.tcp_address.empty()) {
    auto acceptor = ListenTcp(io, s.options.tcp_address);
    if (!acceptor.ok()) {
      if (s.unix_acceptor) {
        boost::system::error_code ec;
        s.unix_acceptor->close(ec);
        s.unix_acceptor.reset();
        unlink(s.options.unix_path.c_str());
      }
      return acceptor.status();
    }
    s.tcp_acceptor.emplace(std::move(*acceptor));
    boost::system::error_code ec;
    s.tcp_port = s.tcp_acceptor->local_endpoint(ec).port();
  }
  s.listening = true;
  if (s.unix_acceptor) {
    asio::co_spawn(io, AcceptLoop(state_, &*s.unix_acceptor), asio::detached);
  }
  if (s.tcp_acceptor) {
    asio::co_spawn(io, AcceptLoop(state_, &*s.tcp_acceptor), asio::detached);
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  State& s = *state_;
  if (!s.listening || s.stopped.exchange(true)) return;
  auto close = [&s] {
    boost::system::error_code ec;
    if (s.unix_acceptor) s.unix_acceptor->close(ec);
    if (s.tcp_acceptor) s.tcp_acceptor->close(ec);
  };
  // The acceptors belong to workers[0]'s thread; wait so that nothing is
  // accepted once Stop() returns.
  asio::io_context& io = *s.workers[0];
  if (io.stopped() || io.get_executor().running_in_this_thread()) {
    close();
  } else {
    std::promise<void> done;
    asio::post(io, [&] {
      close();
      done.set_value();
    });
    done.get_future().wait();
  }
  if (s.unix_acceptor) unlink(s.options.unix_path.c_str());
}

void HttpServer::Drain() {
  for (size_t i = 0; i < state_->workers.size(); ++i) {
    asio::post(*state_->workers[i], [state = state_, i] {
      WorkerSessions& registry = state->sessions[i];
      registry.draining = true;
      for (Session* s : registry.sessions) {
        s->draining = true;
        if (!s->busy) s->cancel();
      }
    });
  }
}

uint16_t HttpServer::tcp_port() const { return state_->tcp_port; }

int64_t HttpServer::active_connections() const { return state_->active.load(); }

}  // namespace nearcache
