#include "upstream/upstream_pool.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"

namespace nearcache {
namespace {

using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// Floor for the backoff base, so that reconnect_min = 0 cannot spin.
constexpr absl::Duration kMinBackoffBase = absl::Milliseconds(1);

// One connection's place in the pool and its connect loop's state.
struct Slot {
  explicit Slot(const asio::any_io_executor& ex) : event(ex) {}

  // Backoff sleeps expire it; Stop() and the connection's close cancel it.
  asio::steady_timer event;
  std::shared_ptr<RedisConnection> conn;     // serving requests
  std::shared_ptr<RedisConnection> joining;  // inside on_connect
  bool closed = false;
  absl::Status close_reason;
};

}  // namespace

const char* BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

namespace upstream_internal {

// Shared by the pool object, its slot coroutines and in-flight requests, so
// that none of them outlives what it touches.
struct PoolState {
  PoolState(asio::any_io_executor ex, UpstreamPoolOptions opts)
      : executor(std::move(ex)), options(std::move(opts)) {
    int n = std::max(1, options.pool_size);
    for (int i = 0; i < n; ++i) {
      slots.push_back(std::make_unique<Slot>(executor));
    }
  }

  // Decides whether a request may go to Redis now; on success sets `*conn`
  // (the open connection with the fewest pending requests) and `*probe`
  // (this request is the half-open breaker's probe).
  absl::Status Admit(std::shared_ptr<RedisConnection>* conn, bool* probe) {
    *probe = false;
    if (stopped) return Reject("upstream pool stopped");
    if (connections_up == 0) return RejectNoConnection();
    if (breaker == BreakerState::kOpen) {
      if (SteadyClock::now() < open_until) {
        return Reject(absl::StrCat("circuit breaker open after ",
                                   consecutive_failures,
                                   " consecutive failures talking to Redis"));
      }
      breaker = BreakerState::kHalfOpen;
      probe_in_flight = false;
    }
    if (breaker == BreakerState::kHalfOpen) {
      if (probe_in_flight) {
        return Reject(
            "circuit breaker half-open: a probe request is in flight");
      }
      *probe = true;
    }
    RedisConnection* best = nullptr;
    for (const std::unique_ptr<Slot>& slot : slots) {
      RedisConnection* c = slot->conn.get();
      if (c != nullptr && c->is_open() &&
          (best == nullptr || c->pending() < best->pending())) {
        best = c;
      }
    }
    if (best == nullptr) {
      *probe = false;
      return RejectNoConnection();
    }
    if (*probe) probe_in_flight = true;
    *conn = best->shared_from_this();
    return absl::OkStatus();
  }

  absl::Status Reject(absl::string_view why) {
    ++counters.requests_rejected;
    return absl::UnavailableError(why);
  }

  // Says why there is none when a connect failed: a refused TLS certificate
  // or an ACL user without +client otherwise hides behind "no connection".
  absl::Status RejectNoConnection() {
    if (last_connect_error.ok()) return Reject("no connection to Redis");
    return Reject(absl::StrCat("no connection to Redis: last connect failed: ",
                               last_connect_error.message()));
  }

  // Feeds the outcome of an admitted request to the counters and the breaker.
  void Record(const absl::Status& status, bool probe) {
    if (probe) probe_in_flight = false;
    if (status.ok()) {
      ++counters.requests_ok;
      consecutive_failures = 0;
      if (probe && breaker == BreakerState::kHalfOpen) {
        breaker = BreakerState::kClosed;
      }
      return;
    }
    if (status.code() == absl::StatusCode::kDeadlineExceeded) {
      ++counters.requests_timeout;
    } else {
      ++counters.requests_error;
    }
    ++consecutive_failures;
    if (probe && breaker == BreakerState::kHalfOpen) {
      OpenBreaker();
    } else if (breaker == BreakerState::kClosed &&
               consecutive_failures >= std::max(1, options.breaker_failures)) {
      OpenBreaker();
    }
  }

  void OpenBreaker() {
    breaker = BreakerState::kOpen;
    open_until = SteadyClock::now() +
                 absl::ToChronoNanoseconds(options.breaker_cooldown);
    probe_in_flight = false;
  }

  void Joined() {
    ++counters.connects_ok;
    if (++connections_up == 1) {
      // The new connection's handshake (and on_connect) is a fresh probe.
      breaker = BreakerState::kClosed;
      consecutive_failures = 0;
      probe_in_flight = false;
      if (options.on_state_change) options.on_state_change(true);
    }
  }

  void Lost(int64_t client_id, const absl::Status& reason) {
    --connections_up;
    if (options.on_connection_lost) {
      options.on_connection_lost(client_id, reason);
    }
    if (connections_up == 0) {
      OpenBreaker();
      if (options.on_state_change && !stopped) options.on_state_change(false);
    }
  }

  void ConnectFailed(absl::Status why) {
    ++counters.connects_failed;
    last_connect_error = std::move(why);
  }

  absl::Duration Backoff(int attempt) {
    absl::Duration lo = options.reconnect_min;
    absl::Duration hi = std::max(options.reconnect_max, lo);
    absl::Duration ceiling = std::max(lo, kMinBackoffBase);
    for (int i = 0; i <= attempt && ceiling < hi; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, hi);
    int64_t lo_ns = absl::ToInt64Nanoseconds(lo);
    int64_t hi_ns = std::max(lo_ns, absl::ToInt64Nanoseconds(ceiling));
    return absl::Nanoseconds(
        absl::Uniform(absl::IntervalClosed, bitgen, lo_ns, hi_ns));
  }

  const asio::any_io_executor executor;
  const UpstreamPoolOptions options;
  std::vector<std::unique_ptr<Slot>> slots;
  bool started = false;
  bool stopped = false;
  int connections_up = 0;
  BreakerState breaker = BreakerState::kOpen;
  int consecutive_failures = 0;
  SteadyClock::time_point open_until = SteadyClock::time_point::min();
  bool probe_in_flight = false;
  // For rediss://: built once by Start(), shared by every connection.
  std::shared_ptr<asio::ssl::context> tls_context;
  absl::Status last_connect_error;
  UpstreamStats counters;
  absl::BitGen bitgen;
};

}  // namespace upstream_internal

namespace {

using State = upstream_internal::PoolState;

// Keeps slot `index` connected until the pool stops.
asio::awaitable<void> RunSlot(std::shared_ptr<State> s, size_t index) {
  Slot& slot = *s->slots[index];
  error_code ec;
  int failures = 0;  // consecutive failed attempts since the last join
  bool first = true;
  while (!s->stopped) {
    if (!first) {
      slot.event.expires_after(absl::ToChronoNanoseconds(s->Backoff(failures)));
      co_await slot.event.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
      if (s->stopped) break;
    }
    first = false;

    ConnectionOptions conn_options = s->options.conn;
    absl::StatusOr<std::shared_ptr<RedisConnection>> connected =
        co_await RedisConnection::Connect(s->executor, std::move(conn_options),
                                          s->tls_context);
    if (s->stopped) {
      if (connected.ok()) (*connected)->Close();
      break;
    }
    if (!connected.ok()) {
      s->ConnectFailed(connected.status());
      ++failures;
      continue;
    }
    std::shared_ptr<RedisConnection> conn = *std::move(connected);

    if (s->options.on_connect) {
      slot.joining = conn;
      absl::Status status = co_await s->options.on_connect(*conn);
      slot.joining.reset();
      if (s->stopped) {
        conn->Close();
        break;
      }
      if (!status.ok() || !conn->is_open()) {
        conn->Close();
        s->ConnectFailed(
            !status.ok()
                ? absl::Status(status.code(),
                               absl::StrCat("on_connect: ", status.message()))
                : absl::UnavailableError("connection closed in on_connect"));
        ++failures;
        continue;
      }
    }

    failures = 0;
    s->last_connect_error = absl::OkStatus();
    slot.closed = false;
    slot.close_reason = absl::OkStatus();
    slot.conn = conn;
    std::weak_ptr<State> weak = s;
    conn->OnClosed([weak, index](absl::Status reason) {
      std::shared_ptr<State> state = weak.lock();
      if (state == nullptr) return;
      Slot& sl = *state->slots[index];
      sl.closed = true;
      sl.close_reason = std::move(reason);
      sl.event.cancel();
    });
    s->Joined();

    while (!slot.closed && !s->stopped) {
      slot.event.expires_at(SteadyClock::time_point::max());
      co_await slot.event.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
    }
    slot.conn.reset();
    if (s->stopped) break;
    s->Lost(conn->client_id(), slot.close_reason);
  }
}

asio::awaitable<absl::StatusOr<RedisReply>> PoolExecute(
    std::shared_ptr<State> s, std::vector<std::string> args) {
  std::shared_ptr<RedisConnection> conn;
  bool probe = false;
  absl::Status admitted = s->Admit(&conn, &probe);
  if (!admitted.ok()) co_return admitted;
  absl::StatusOr<RedisReply> reply = co_await conn->Execute(std::move(args));
  s->Record(reply.status(), probe);
  co_return reply;
}

asio::awaitable<absl::StatusOr<std::vector<RedisReply>>> PoolExecuteBatch(
    std::shared_ptr<State> s, std::vector<std::vector<std::string>> commands) {
  if (commands.empty()) co_return std::vector<RedisReply>();
  std::shared_ptr<RedisConnection> conn;
  bool probe = false;
  absl::Status admitted = s->Admit(&conn, &probe);
  if (!admitted.ok()) co_return admitted;
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await conn->ExecuteBatch(std::move(commands));
  s->Record(replies.status(), probe);
  co_return replies;
}

}  // namespace

UpstreamPool::UpstreamPool(asio::any_io_executor executor,
                           UpstreamPoolOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {
}

UpstreamPool::~UpstreamPool() { Stop(); }

void UpstreamPool::Start() {
  if (state_->started || state_->stopped) return;
  state_->started = true;
  if (state_->options.conn.endpoint.transport ==
      RedisEndpoint::Transport::kTls) {
    absl::StatusOr<std::shared_ptr<asio::ssl::context>> tls =
        MakeTlsContext(state_->options.conn.tls);
    if (!tls.ok()) {
      // Retrying cannot fix a missing or bad file: no slot starts.
      state_->ConnectFailed(tls.status());
      return;
    }
    state_->tls_context = *std::move(tls);
  }
  for (size_t i = 0; i < state_->slots.size(); ++i) {
    asio::co_spawn(state_->executor, RunSlot(state_, i), asio::detached);
  }
}

void UpstreamPool::Stop() {
  State& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  for (const std::unique_ptr<Slot>& slot : s.slots) {
    slot->event.cancel();
    if (slot->conn != nullptr) slot->conn->Close();
    if (slot->joining != nullptr) slot->joining->Close();
  }
  s.connections_up = 0;
  s.breaker = BreakerState::kOpen;
}

asio::awaitable<absl::StatusOr<RedisReply>> UpstreamPool::Execute(
    std::vector<std::string> args) {
  return PoolExecute(state_, std::move(args));
}

asio::awaitable<absl::StatusOr<std::vector<RedisReply>>>
UpstreamPool::ExecuteBatch(std::vector<std::vector<std::string>> commands) {
  return PoolExecuteBatch(state_, std::move(commands));
}

asio::awaitable<void> UpstreamPool::ForEachConnection(
    std::function<asio::awaitable<absl::Status>(RedisConnection&)> fn) {
  std::shared_ptr<State> s = state_;
  // Snapshot first: slots may change while fn waits.
  std::vector<std::shared_ptr<RedisConnection>> conns;
  for (const std::unique_ptr<Slot>& slot : s->slots) {
    if (slot->conn != nullptr && slot->conn->is_open()) {
      conns.push_back(slot->conn);
    }
  }
  for (const std::shared_ptr<RedisConnection>& conn : conns) {
    if (s->stopped || !conn->is_open()) continue;
    absl::Status status = co_await fn(*conn);
    if (!status.ok()) conn->Close();
  }
}

absl::Status UpstreamPool::last_connect_error() const {
  return state_->last_connect_error;
}

bool UpstreamPool::up() const {
  return !state_->stopped && state_->connections_up > 0;
}

BreakerState UpstreamPool::breaker_state() const {
  const State& s = *state_;
  // An open breaker whose cooldown passed lets the next request through as
  // a probe; report it as such rather than waiting for that request.
  if (s.breaker == BreakerState::kOpen && s.connections_up > 0 && !s.stopped &&
      SteadyClock::now() >= s.open_until) {
    return BreakerState::kHalfOpen;
  }
  return s.breaker;
}

UpstreamStats UpstreamPool::stats() const {
  UpstreamStats out = state_->counters;
  out.connections_up = state_->connections_up;
  out.up = up();
  out.breaker = breaker_state();
  return out;
}

}  // namespace nearcache
