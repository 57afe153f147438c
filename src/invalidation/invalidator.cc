#include "invalidation/invalidator.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "service/lookup_service.h"
#include "util/log.h"

namespace nearcache {

namespace asio = boost::asio;

namespace {
constexpr absl::string_view kTrackingChannel = "__redis__:invalidate";
}  // namespace

// Shared by the Invalidator and its link coroutine, which may outlive it
// until the io_context runs it once more.
struct Invalidator::State {
  explicit State(asio::any_io_executor ex) : timer(ex) {}
  bool stopped = false;
  std::shared_ptr<RedisConnection> conn;
  asio::steady_timer timer;
  absl::BitGen rng;
};

Invalidator::Invalidator(asio::any_io_executor executor,
                         InvalidatorOptions options, ShardedLruCache* cache,
                         LookupService* service)
    : options_(std::move(options)),
      cache_(cache),
      service_(service),
      executor_(std::move(executor)),
      state_(std::make_shared<State>(executor_)) {}

Invalidator::~Invalidator() { Stop(); }

void Invalidator::Start() {
  if (!options_.tracking && options_.channel.empty()) {
    // Nothing to listen to: TTLs alone bound staleness.
    cache_->SetFreshnessAllowed(true);
    return;
  }
  // Until the link is up, writes could go unseen: revalidate every read.
  cache_->SetFreshnessAllowed(false);
  asio::co_spawn(executor_, Run(state_), asio::detached);
}

void Invalidator::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->timer.cancel();
  if (state_->conn != nullptr) state_->conn->Close();
  state_->conn.reset();
  link_up_.store(false, std::memory_order_release);
}

void Invalidator::InvalidateAll(std::atomic<uint64_t>& source) {
  service_->InvalidateAll();
  source.fetch_add(1, std::memory_order_relaxed);
}

void Invalidator::LinkLost(absl::string_view why) {
  const bool was_up = link_up_.exchange(false, std::memory_order_acq_rel);
  link_id_ = -1;
  cache_->SetFreshnessAllowed(false);
  InvalidateAll(counters_.reconnect);
  if (was_up) {
    LOG_WARN("invalidation link down; every read revalidates until it is back",
             {{"reason", std::string(why)}});
    if (options_.on_link_change) options_.on_link_change(false);
  }
}

asio::awaitable<void> Invalidator::Run(std::shared_ptr<State> st) {
  int attempt = 0;
  auto backoff = [&]() -> asio::awaitable<void> {
    const absl::Duration cap = std::min(
        options_.reconnect_max,
        options_.reconnect_min * (int64_t{1} << std::min(attempt, 20)));
    ++attempt;
    const absl::Duration wait = absl::Nanoseconds(absl::Uniform<int64_t>(
        st->rng, absl::ToInt64Nanoseconds(options_.reconnect_min),
        absl::ToInt64Nanoseconds(cap) + 1));
    st->timer.expires_after(absl::ToChronoNanoseconds(wait));
    boost::system::error_code ec;
    co_await st->timer.async_wait(
        asio::redirect_error(asio::use_awaitable, ec));
  };

  while (!st->stopped) {
    ConnectionOptions conn_options = options_.conn;
    conn_options.command_timeout = options_.ping_timeout;
    conn_options.client_name = "nearcache-invalidation";
    auto connected = co_await RedisConnection::Connect(executor_, conn_options);
    if (st->stopped) {
      if (connected.ok()) (*connected)->Close();
      break;
    }
    if (!connected.ok()) {
      LOG_DEBUG("invalidation link connect failed",
                {{"error", std::string(connected.status().message())}});
      co_await backoff();
      continue;
    }
    std::shared_ptr<RedisConnection> conn = std::move(*connected);
    st->conn = conn;
    conn->SetPushHandler([this, st](RedisReply message) {
      if (!st->stopped) HandlePush(message);
    });
    conn->OnClosed([st](absl::Status) { st->timer.cancel(); });

    absl::Status status;
    if (options_.tracking && !options_.tracking_prefixes.empty()) {
      std::vector<std::string> args = {"CLIENT",
                                       "TRACKING",
                                       "on",
                                       "REDIRECT",
                                       absl::StrCat(conn->client_id()),
                                       "BCAST"};
      for (const std::string& p : options_.tracking_prefixes) {
        args.push_back("PREFIX");
        args.push_back(p);
      }
      auto reply = co_await conn->Execute(std::move(args));
      if (!reply.ok()) {
        status = reply.status();
      } else if (reply->is_error()) {
        status = absl::FailedPreconditionError(reply->str);
      }
    }
    if (status.ok()) {
      std::vector<std::string> channels;
      if (options_.tracking) channels.emplace_back(kTrackingChannel);
      if (!options_.channel.empty()) channels.push_back(options_.channel);
      status = co_await conn->Subscribe(std::move(channels));
    }
    if (status.ok()) {
      link_id_ = conn->client_id();
      if (default_tracking() && options_.retrack_data_connections) {
        co_await options_.retrack_data_connections(link_id_);
      }
      if (!conn->is_open()) status = absl::UnavailableError("link closed");
    }
    if (st->stopped) break;
    if (!status.ok()) {
      LOG_WARN("invalidation link setup failed",
               {{"error", std::string(status.message())}});
      conn->Close();
      st->conn.reset();
      link_id_ = -1;
      co_await backoff();
      continue;
    }

    // Whatever was stored before now was not covered by this link.
    InvalidateAll(counters_.reconnect);
    cache_->SetFreshnessAllowed(true);
    link_up_.store(true, std::memory_order_release);
    attempt = 0;
    LOG_INFO("invalidation link up",
             {{"client_id", absl::StrCat(link_id_)},
              {"mode", !options_.tracking   ? "channel"
                       : default_tracking() ? "default"
                                            : "bcast"}});
    if (options_.on_link_change) options_.on_link_change(true);

    std::string why = "connection closed";
    while (!st->stopped && conn->is_open()) {
      st->timer.expires_after(
          absl::ToChronoNanoseconds(options_.ping_interval));
      boost::system::error_code ec;
      co_await st->timer.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
      if (st->stopped || !conn->is_open()) break;
      absl::Status ping = co_await conn->Ping();
      if (!ping.ok()) {
        why = absl::StrCat("PING failed: ", ping.message());
        conn->Close();
        break;
      }
    }
    if (st->stopped) break;
    st->conn.reset();
    LinkLost(why);
    co_await backoff();
  }
}

asio::awaitable<absl::Status> Invalidator::TrackDataConnection(
    RedisConnection& conn) {
  if (!default_tracking() || link_id_ < 0) co_return absl::OkStatus();
  const int64_t link = link_id_;
  // (A named vector: g++ 12 miscompiles braced lists inside co_await.)
  std::vector<std::string> args = {"CLIENT", "TRACKING", "on", "REDIRECT",
                                   absl::StrCat(link)};
  auto reply = co_await conn.Execute(std::move(args));
  if (!reply.ok()) co_return reply.status();
  if (reply->is_error()) co_return absl::FailedPreconditionError(reply->str);
  // The link changed while we waited: this connection points at a dead id.
  if (link_id_ != link) {
    co_return absl::UnavailableError("invalidation link changed");
  }
  co_return absl::OkStatus();
}

void Invalidator::OnDataConnectionLost(int64_t client_id) {
  if (!default_tracking() || state_->stopped) return;
  LOG_DEBUG("tracked data connection lost; invalidating all",
            {{"client_id", absl::StrCat(client_id)}});
  InvalidateAll(counters_.reconnect);
}

void Invalidator::HandlePush(const RedisReply& message) {
  if (!message.is_array() || message.elements.size() != 3 ||
      !message.elements[0].IsText("message")) {
    return;  // subscribe confirmations and pongs answer requests instead
  }
  const RedisReply& channel = message.elements[1];
  const RedisReply& payload = message.elements[2];
  if (options_.tracking && channel.IsText(kTrackingChannel)) {
    if (payload.is_nil()) {
      InvalidateAll(counters_.flush);  // FLUSHALL / FLUSHDB
      return;
    }
    for (const RedisReply& key : payload.elements) {
      service_->InvalidateKey(key.str);
      counters_.tracking.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  if (!options_.channel.empty() && channel.IsText(options_.channel)) {
    absl::string_view text = payload.str;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      absl::string_view key = text.substr(0, nl);
      if (!key.empty() && key.back() == '\r') key.remove_suffix(1);
      if (key == "*") {
        // A "*" line anywhere (e.g. "*\n" from a writer that ends every
        // message with a newline) means everything: over-invalidating is
        // safe, reading it as a key named "*" would miss every change.
        InvalidateAll(counters_.flush);
        return;
      }
      if (!key.empty()) {
        service_->InvalidateKey(key);
        counters_.channel.fetch_add(1, std::memory_order_relaxed);
      }
      if (nl == absl::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
  }
}

}  // namespace nearcache
