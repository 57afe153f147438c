#include "server/resp_server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "nearcache/clock.h"
#include "server/listen_socket.h"
#include "util/log.h"

namespace nearcache {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Most buffers one gathered write takes (IOV_MAX is 1024).
constexpr size_t kMaxWriteChunks = 256;

// A session as Drain() and the idle sweep see it. Worker thread only.
struct SessionState {
  bool busy = false;       // a batch is being executed or written
  bool waiting = false;    // suspended until the socket is readable/writable
  bool draining = false;   // close once the current batch is written
  bool expired = false;    // the idle sweep closed it
  uint64_t last_tick = 0;  // WorkerSessions::tick at its last progress
  absl::AnyInvocable<void()> cancel;  // aborts a pending wait
};

}  // namespace

// The sessions of one worker. Worker thread only; shared with each session's
// coroutine (and the idle sweep) so that neither outlives the other's use of
// it.
struct RespServer::WorkerSessions {
  absl::flat_hash_set<SessionState*> sessions;
  // The idle sweep's clock: incremented once per sweep period. Sessions
  // record it on every read or write that made progress, so the hot path
  // reads no clock for the idle timeout.
  uint64_t tick = 0;
  bool stopping = false;
  asio::steady_timer* sweep_timer = nullptr;  // while the sweep waits
};

namespace {

// Why a session ended, for the log and the disconnect counters.
enum class EndReason { kClient, kOutputLimit, kIdle, kDrain };

// Writes what `out` holds while the kernel takes it, without waiting.
// Returns false on a write error (the connection is gone); what stays in
// `out` is what the socket buffer had no room for. The vectors are the
// session's, reused so that steady state allocates nothing.
template <typename Socket>
bool WriteNow(Socket& socket, resp::ReplyWriter& out,
              std::vector<absl::string_view>& chunks,
              std::vector<asio::const_buffer>& buffers) {
  while (!out.empty()) {
    out.GetChunks(&chunks, kMaxWriteChunks);
    buffers.clear();
    for (absl::string_view c : chunks) buffers.emplace_back(c.data(), c.size());
    boost::system::error_code ec;
    const size_t n = socket.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      return true;
    }
    if (ec) return false;
    out.Consume(n);
  }
  return true;
}

// The slow path of a reply: the socket buffer is full. Waits for
// writability and writes until `out` is empty. Returns false when the
// connection must close: a write error, the idle sweep, or more than
// `max_output` bytes still pending (a client that does not read its
// replies, as Redis's client-output-buffer-limit).
template <typename Socket>
asio::awaitable<bool> Flush(Socket& socket, resp::ReplyWriter& out,
                            size_t max_output, SessionState& state,
                            const RespServer::WorkerSessions& registry,
                            std::vector<absl::string_view>& chunks,
                            std::vector<asio::const_buffer>& buffers,
                            EndReason* reason) {
  while (!out.empty()) {
    if (max_output > 0 && out.size() > max_output) {
      *reason = EndReason::kOutputLimit;
      co_return false;
    }
    boost::system::error_code ec;
    state.waiting = true;
    co_await socket.async_wait(asio::socket_base::wait_write,
                               asio::redirect_error(asio::use_awaitable, ec));
    state.waiting = false;
    if (state.expired) *reason = EndReason::kIdle;
    if (ec || state.expired) co_return false;
    const size_t before = out.size();
    if (!WriteNow(socket, out, chunks, buffers)) co_return false;
    if (out.size() < before) state.last_tick = registry.tick;
  }
  co_return true;
}

template <typename Socket>
asio::awaitable<void> RunSession(
    Socket socket, FrontendContext* context, const RespServerOptions* options,
    std::shared_ptr<RespServer::WorkerSessions> registry) {
  SessionState state;
  state.cancel = [&socket] {
    boost::system::error_code ignored;
    socket.cancel(ignored);
  };
  state.last_tick = registry->tick;
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

  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  resp::RequestParser parser(options->parser);
  RespHandler handler(context);
  resp::ReplyWriter out;
  std::vector<absl::string_view> chunks;
  std::vector<asio::const_buffer> buffers;
  EndReason reason = EndReason::kClient;
  // asio's reactor knows when a socket was drained by the last read and
  // then waits for readiness without trying a read that would find nothing
  // (and without re-arming epoll), so each request costs one read and one
  // write, as in redis-server. Only when a read filled the whole buffer is
  // the next one tried at once, without going through the event loop.
  bool read_now = false;
  size_t n = 0;
  while (!state.draining) {
    absl::Span<char> space = parser.PrepareWrite();
    if (read_now) {
      n = socket.read_some(asio::buffer(space.data(), space.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        read_now = false;
        continue;
      }
    } else {
      state.waiting = true;
      n = co_await socket.async_read_some(
          asio::buffer(space.data(), space.size()),
          asio::redirect_error(asio::use_awaitable, ec));
      state.waiting = false;
      if (state.expired) reason = EndReason::kIdle;
      if (state.draining) reason = EndReason::kDrain;
      if (state.expired || state.draining) break;
    }
    if (ec) break;  // EOF or reset
    state.busy = true;
    state.last_tick = registry->tick;
    parser.Commit(n);
    read_now = n == space.size();
    const auto [stop, protocol_error] = handler.AddParsed(parser);
    if (!handler.empty()) {
      const absl::Time start = SystemClock()->Now();
      const size_t commands = handler.size();
      // A batch the cache answers runs without suspending.
      if (!handler.RunCached(&out)) co_await handler.RunFetched(&out);
      if (context->metrics != nullptr) {
        // Each command waited for the whole batch it came in.
        const absl::Duration took = SystemClock()->Now() - start;
        for (size_t i = 0; i < commands; ++i) {
          context->metrics->duration.Observe(took);
        }
      }
    }
    if (protocol_error) out.AppendError(parser.status().message());
    if (!WriteNow(socket, out, chunks, buffers)) break;
    if (!out.empty()) {
      if (!co_await Flush(socket, out, options->max_output_bytes, state,
                          *registry, chunks, buffers, &reason)) {
        break;
      }
    }
    state.busy = false;
    if (stop || handler.close_after_write()) break;
  }
  switch (reason) {
    case EndReason::kOutputLimit:
      context->disconnects_output_limit.fetch_add(1, std::memory_order_relaxed);
      LOG_WARN("client closed: output buffer limit reached",
               {{"client_id", absl::StrCat(handler.client_id())},
                {"pending_bytes", absl::StrCat(out.size())},
                {"max_output_bytes", absl::StrCat(options->max_output_bytes)}});
      break;
    case EndReason::kIdle:
      context->disconnects_idle.fetch_add(1, std::memory_order_relaxed);
      break;
    case EndReason::kClient:
    case EndReason::kDrain:
      break;
  }
  boost::system::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}

// Closes sessions that made no progress for `idle`: every period the tick
// advances; a session waiting on its socket whose last progress is more than
// `idle` of ticks ago is cancelled. Ends when the server stops.
asio::awaitable<void> IdleSweep(
    std::shared_ptr<RespServer::WorkerSessions> registry, absl::Duration idle) {
  const absl::Duration period =
      std::clamp(idle / 4, absl::Milliseconds(1), absl::Seconds(1));
  // Ticks that must pass: a session is closed between idle and idle+period
  // after its last progress.
  const uint64_t limit =
      static_cast<uint64_t>(absl::Ceil(idle, period) / period);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  registry->sweep_timer = &timer;
  while (!registry->stopping) {
    timer.expires_after(absl::ToChronoNanoseconds(period));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (registry->stopping) break;
    ++registry->tick;
    for (SessionState* s : registry->sessions) {
      if (s->waiting && !s->expired && registry->tick - s->last_tick > limit) {
        s->expired = true;
        s->cancel();
      }
    }
  }
  registry->sweep_timer = nullptr;
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
    if constexpr (std::is_same_v<Acceptor, stream_protocol::acceptor>) {
      if (!PeerAllowed(socket.native_handle(), options.allowed_uids)) {
        context->disconnects_peer_uid.fetch_add(1, std::memory_order_relaxed);
        const std::optional<uint32_t> uid = PeerUid(socket.native_handle());
        LOG_WARN("client refused: peer uid not in listen.allowed_uids",
                 {{"uid", uid ? absl::StrCat(*uid) : "unknown"}});
        static constexpr char kDenied[] =
            "-NOPERM nearcache: this user (peer uid) may not connect\r\n";
        socket.write_some(asio::buffer(kDenied, sizeof(kDenied) - 1), ec);
        socket.close(ec);
        continue;
      }
    }
    if (context->connected_clients.fetch_add(1) >= options.max_connections) {
      context->connected_clients.fetch_sub(1);
      context->disconnects_max_clients.fetch_add(1, std::memory_order_relaxed);
      static constexpr char kFull[] = "-ERR max number of clients reached\r\n";
      socket.write_some(asio::buffer(kFull, sizeof(kFull) - 1), ec);
      socket.close(ec);
      continue;
    }
    asio::co_spawn(
        worker,
        RunSession(std::move(socket), context, &options, sessions[index]),
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
  if (options_.idle_timeout > absl::ZeroDuration()) {
    for (size_t i = 0; i < workers_.size(); ++i) {
      asio::co_spawn(*workers_[i],
                     IdleSweep(listeners_->sessions[i], options_.idle_timeout),
                     asio::detached);
    }
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
  for (size_t i = 0; i < workers_.size(); ++i) {
    asio::post(*workers_[i], [registry = listeners_->sessions[i]] {
      registry->stopping = true;
      if (registry->sweep_timer != nullptr) registry->sweep_timer->cancel();
    });
  }
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
