#include "server/resp_server.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "nearcache/clock.h"
#include "server/listen_socket.h"

namespace nearcache {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Most buffers one gathered write takes (IOV_MAX is 1024).
constexpr size_t kMaxWriteChunks = 256;

template <typename Socket>
asio::awaitable<bool> WriteAll(Socket& socket, resp::ReplyWriter& out) {
  std::vector<absl::string_view> chunks;
  std::vector<asio::const_buffer> buffers;
  while (!out.empty()) {
    out.GetChunks(&chunks, kMaxWriteChunks);
    buffers.clear();
    for (absl::string_view c : chunks) {
      buffers.emplace_back(c.data(), c.size());
    }
    boost::system::error_code ec;
    const size_t n = co_await asio::async_write(
        socket, buffers, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    out.Consume(n);
  }
  co_return true;
}

// A session as Drain() sees it. Worker thread only.
struct SessionState {
  bool busy = false;  // a batch is being executed or written
  bool draining = false;
  absl::AnyInvocable<void()> cancel;  // aborts a pending read
};

}  // namespace

// The sessions of one worker. Worker thread only; shared with each session's
// coroutine so that neither outlives the other's use of it.
struct RespServer::WorkerSessions {
  absl::flat_hash_set<SessionState*> sessions;
};

namespace {

template <typename Socket>
asio::awaitable<void> RunSession(
    Socket socket, FrontendContext* context,
    resp::RequestParserOptions parser_options,
    std::shared_ptr<RespServer::WorkerSessions> registry) {
  SessionState state;
  state.cancel = [&socket] {
    boost::system::error_code ignored;
    socket.cancel(ignored);
  };
  struct Registration {
    FrontendContext* c;
    RespServer::WorkerSessions* r;
    SessionState* s;
    ~Registration() {
      r->sessions.erase(s);
      c->connected_clients.fetch_sub(1);
    }
  } registration{context, registry.get(), &state};
  registry->sessions.insert(&state);

  resp::RequestParser parser(parser_options);
  RespHandler handler(context);
  resp::ReplyWriter out;
  while (!state.draining) {
    absl::Span<char> space = parser.PrepareWrite();
    boost::system::error_code ec;
    const size_t n = co_await socket.async_read_some(
        asio::buffer(space.data(), space.size()),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    state.busy = true;
    parser.Commit(n);
    const auto [stop, protocol_error] = handler.AddParsed(parser);
    if (!handler.empty()) {
      const absl::Time start = SystemClock()->Now();
      const size_t commands = handler.size();
      co_await handler.Run(&out);
      if (context->metrics != nullptr) {
        // Each command waited for the whole batch it came in.
        const absl::Duration took = SystemClock()->Now() - start;
        for (size_t i = 0; i < commands; ++i) {
          context->metrics->duration.Observe(took);
        }
      }
    }
    if (protocol_error) out.AppendError(parser.status().message());
    if (!co_await WriteAll(socket, out)) break;
    state.busy = false;
    if (stop || handler.close_after_write()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

struct RespServer::Listeners {
  std::optional<stream_protocol::acceptor> unix_acceptor;
  std::optional<asio::ip::tcp::acceptor> tcp_acceptor;
  std::atomic<size_t> next_worker{0};
  std::atomic<bool> stopped{false};
  // The accept loops run on workers_[0]: from then on the acceptors belong
  // to that thread. Before (or when Start() failed) they are ours alone.
  std::atomic<bool> accepting{false};
  // We created the socket file at unix_path: only then may Stop() remove it
  // (a failed Start() must not remove a live process's socket, or a file
  // that is not a socket).
  std::atomic<bool> owns_unix_path{false};
  std::vector<std::shared_ptr<WorkerSessions>> sessions;  // one per worker
};

RespServer::RespServer(RespServerOptions options, FrontendContext* context,
                       std::vector<asio::io_context*> workers)
    : options_(std::move(options)),
      context_(context),
      workers_(std::move(workers)),
      listeners_(std::make_unique<Listeners>()) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    listeners_->sessions.push_back(std::make_shared<WorkerSessions>());
  }
}

RespServer::~RespServer() { Stop(); }

namespace {

template <typename Acceptor>
asio::awaitable<void> AcceptLoop(
    Acceptor& acceptor, FrontendContext* context,
    const RespServerOptions& options,
    const std::vector<asio::io_context*>& workers,
    const std::vector<std::shared_ptr<RespServer::WorkerSessions>>& sessions,
    std::atomic<size_t>& next_worker) {
  for (;;) {
    const size_t index = next_worker.fetch_add(1) % workers.size();
    asio::io_context& worker = *workers[index];
    boost::system::error_code ec;
    auto socket = co_await acceptor.async_accept(
        worker, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      continue;  // e.g. EMFILE: keep accepting once descriptors free up
    }
    if (context->connected_clients.fetch_add(1) >= options.max_connections) {
      context->connected_clients.fetch_sub(1);
      static constexpr char kFull[] = "-ERR max number of clients reached\r\n";
      socket.write_some(asio::buffer(kFull, sizeof(kFull) - 1), ec);
      socket.close(ec);
      continue;
    }
    asio::co_spawn(
        worker,
        RunSession(std::move(socket), context, options.parser, sessions[index]),
        asio::detached);
  }
}

}  // namespace

absl::Status RespServer::Start() {
  asio::io_context& io = *workers_[0];
  if (!options_.unix_path.empty()) {
    auto acceptor = ListenUnix(io, options_.unix_path, options_.socket_mode);
    if (!acceptor.ok()) return acceptor.status();
    listeners_->unix_acceptor.emplace(std::move(*acceptor));
    listeners_->owns_unix_path = true;
  }
  if (!options_.tcp_address.empty()) {
    auto acceptor = ListenTcp(io, options_.tcp_address);
    if (!acceptor.ok()) {
      Stop();
      return acceptor.status();
    }
    listeners_->tcp_acceptor.emplace(std::move(*acceptor));
  }
  if (listeners_->unix_acceptor) {
    asio::co_spawn(
        io,
        AcceptLoop(*listeners_->unix_acceptor, context_, options_, workers_,
                   listeners_->sessions, listeners_->next_worker),
        asio::detached);
  }
  if (listeners_->tcp_acceptor) {
    asio::co_spawn(
        io,
        AcceptLoop(*listeners_->tcp_acceptor, context_, options_, workers_,
                   listeners_->sessions, listeners_->next_worker),
        asio::detached);
  }
  listeners_->accepting = true;
  return absl::OkStatus();
}

void RespServer::Drain() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    asio::post(*workers_[i], [registry = listeners_->sessions[i]] {
      for (SessionState* s : registry->sessions) {
        s->draining = true;
        if (!s->busy) s->cancel();  // idle: stop waiting for a request
      }
    });
  }
}

void RespServer::Stop() {
  if (listeners_->stopped.exchange(true)) return;
  // Close on the acceptors' own thread; wait so the file is gone on return.
  std::promise<void> done;
  auto close = [this, &done] {
    boost::system::error_code ec;
    if (listeners_->unix_acceptor) listeners_->unix_acceptor->close(ec);
    if (listeners_->tcp_acceptor) listeners_->tcp_acceptor->close(ec);
    done.set_value();
  };
  // Without accept loops (Start() failed or never ran) the worker may never
  // run: waiting for it would hang.
  if (!listeners_->accepting || workers_[0]->stopped()) {
    close();
  } else {
    asio::post(*workers_[0], close);
    done.get_future().wait();
  }
  if (listeners_->owns_unix_path) unlink(options_.unix_path.c_str());
}

}  // namespace nearcache
