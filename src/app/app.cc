#include "app/app.h"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "app/prometheus_text.h"
#include "nearcache/clock.h"
#include "util/log.h"

#ifndef NEARCACHE_VERSION
#define NEARCACHE_VERSION "0.0.0"
#endif

namespace nearcache {

namespace asio = boost::asio;

namespace {

// How long SIGTERM waits for requests in flight before closing connections.
constexpr absl::Duration kDrainTimeout = absl::Seconds(5);

CacheOptions CacheOptionsFrom(const CacheConfig& c) {
  CacheOptions o;
  o.max_bytes = c.max_bytes;
  o.ttl = c.ttl;
  o.negative_ttl = c.negative_ttl;
  o.max_stale = c.max_stale;
  o.num_shards = c.shards;
  return o;
}

UpstreamPoolOptions PoolOptionsFrom(const RedisConfig& r) {
  UpstreamPoolOptions o;
  o.conn.endpoint = r.endpoint;
  o.conn.username = r.username;
  o.conn.password = r.password;
  o.conn.connect_timeout = r.connect_timeout;
  o.conn.command_timeout = r.command_timeout;
  o.conn.tls.ca_file = r.tls_ca_file;
  o.conn.tls.cert_file = r.tls_cert_file;
  o.conn.tls.key_file = r.tls_key_file;
  o.conn.tls.server_name = r.tls_server_name;
  o.conn.tls.verify = r.tls_verify;
  o.pool_size = r.pool_size;
  o.breaker_failures = r.breaker_failures;
  o.breaker_cooldown = r.breaker_cooldown;
  o.reconnect_min = r.reconnect_min;
  o.reconnect_max = r.reconnect_max;
  return o;
}

// Points a data connection's tracking at a new invalidation link. Tracking
// is switched off first: Redis keeps the old REDIRECT otherwise.
asio::awaitable<absl::Status> RetrackConnection(RedisConnection& conn,
                                                int64_t link_id) {
  std::vector<std::vector<std::string>> commands = {
      {"CLIENT", "TRACKING", "off"},
      {"CLIENT", "TRACKING", "on", "REDIRECT", absl::StrCat(link_id)}};
  auto replies = co_await conn.ExecuteBatch(std::move(commands));
  if (!replies.ok()) co_return replies.status();
  for (const RedisReply& r : *replies) {
    if (r.is_error()) co_return absl::FailedPreconditionError(r.str);
  }
  co_return absl::OkStatus();
}

// Runs `fn` on `io`'s thread and waits for it.
template <typename Fn>
void RunOn(asio::io_context& io, Fn fn) {
  std::promise<void> done;
  asio::post(io, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace

App::App(Config config)
    : config_(std::move(config)),
      cache_(CacheOptionsFrom(config_.cache), SystemClock()),
      resp_metrics_(RespHandler::CommandLabels()),
      http_metrics_(ApiCommandLabels()) {
  frontend_.cache = &cache_;
  frontend_.counters = &counters_;
  frontend_.metrics = &resp_metrics_;
  frontend_.db = config_.redis.endpoint.db;
  frontend_.version = NEARCACHE_VERSION;
  frontend_.started = SystemClock()->Now();

  // One event loop per I/O thread. The first also runs the upstream side
  // (pool, single-flight, invalidation link): a read-through then never
  // hops threads, and on a small pod the sidecar keeps to one busy thread,
  // like redis-server.
  for (int i = 0; i < std::max(config_.listen.threads, 1); ++i) {
    workers_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*workers_.back()));
  }

  UpstreamPoolOptions pool_options = PoolOptionsFrom(config_.redis);
  const std::string address = config_.redis.endpoint.ToString();
  pool_options.on_state_change = [this, address](bool up) {
    redis_up_.store(up);
    if (up) {
      LOG_INFO("redis up", {{"address", address}});
    } else {
      LOG_WARN("redis down", {{"address", address}});
    }
  };
  // The pool and the invalidator refer to each other through these hooks;
  // both live on the upstream thread and are built before it runs.
  pool_options.on_connect = [this](RedisConnection& conn) {
    return invalidator_->TrackDataConnection(conn);
  };
  pool_options.on_connection_lost = [this](int64_t client_id, absl::Status) {
    invalidator_->OnDataConnectionLost(client_id);
  };
  pool_ = std::make_unique<UpstreamPool>(upstream_io().get_executor(),
                                         std::move(pool_options));
  service_ = std::make_unique<LookupService>(&cache_, pool_.get(),
                                             upstream_io().get_executor());

  InvalidatorOptions inv;
  inv.conn = PoolOptionsFrom(config_.redis).conn;
  inv.tracking = config_.invalidation.tracking;
  inv.tracking_prefixes = config_.invalidation.tracking_prefixes;
  inv.channel = config_.invalidation.channel;
  inv.ping_interval = config_.invalidation.ping_interval;
  inv.ping_timeout = config_.invalidation.ping_timeout;
  inv.reconnect_min = config_.redis.reconnect_min;
  inv.reconnect_max = config_.redis.reconnect_max;
  inv.retrack_data_connections = [this](int64_t link_id) {
    return pool_->ForEachConnection([link_id](RedisConnection& conn) {
      return RetrackConnection(conn, link_id);
    });
  };
  invalidator_ = std::make_unique<Invalidator>(
      upstream_io().get_executor(), std::move(inv), &cache_, service_.get());
  service_->set_upstream_duration(&upstream_duration_);
  frontend_.fetcher = service_.get();
  api_.cache = &cache_;
  api_.fetcher = service_.get();
  api_.counters = &counters_;
  api_.metrics = &http_metrics_;
  {
    absl::MutexLock lock(&config_mu_);
    config_text_ = RenderConfig(config_);
  }
}

App::~App() { Shutdown(); }

absl::Status App::StartFrontEnds() {
  std::vector<asio::io_context*> workers;
  for (auto& w : workers_) workers.push_back(w.get());
  RespServerOptions resp;
  resp.unix_path = config_.listen.resp_socket;
  resp.socket_mode = config_.listen.socket_mode;
  resp.tcp_address = config_.listen.resp_tcp;
  resp.max_connections = config_.listen.max_connections;
  resp.parser.max_args = static_cast<size_t>(config_.listen.max_args);
  resp.parser.max_bulk_bytes = config_.listen.max_bulk_bytes;
  resp.parser.max_request_bytes = config_.listen.max_request_bytes;
  resp.max_output_bytes = config_.listen.max_output_bytes;
  resp.idle_timeout = config_.listen.idle_timeout;
  resp.allowed_uids = config_.listen.allowed_uids;
  resp_ = std::make_unique<RespServer>(std::move(resp), &frontend_, workers);
  if (absl::Status s = resp_->Start(); !s.ok()) return s;

  if (!config_.listen.http_socket.empty() || !config_.listen.http_tcp.empty()) {
    HttpServerOptions http;
    http.unix_path = config_.listen.http_socket;
    http.socket_mode = config_.listen.socket_mode;
    http.tcp_address = config_.listen.http_tcp;
    http.max_connections = config_.listen.max_connections;
    http.header_limit = config_.listen.http_max_header_bytes;
    http.body_limit = config_.listen.http_max_body_bytes;
    http.allowed_uids = config_.listen.allowed_uids;
    // Zero keeps HttpServer's bound: it also limits reading one request.
    if (config_.listen.idle_timeout > absl::ZeroDuration()) {
      http.idle_timeout = config_.listen.idle_timeout;
    }
    http_ = std::make_unique<HttpServer>(std::move(http), MakeApiHandler(&api_),
                                         workers);
    if (absl::Status s = http_->Start(); !s.ok()) return s;
  }

  return absl::OkStatus();
}

absl::Status App::Start() {
  for (auto& w : workers_) {
    threads_.emplace_back([io = w.get()] { io->run(); });
  }
  asio::post(upstream_io(), [this] {
    invalidator_->Start();
    pool_->Start();
  });
  // Give the pool its first connection before serving, so that the first
  // reads find Redis up rather than fail (bounded: Redis may be down).
  const absl::Time deadline =
      absl::Now() + config_.redis.connect_timeout + absl::Milliseconds(100);
  while (!redis_up_.load() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  // Listen only now: the first requests find Redis up rather than fail.
  if (absl::Status s = StartFrontEnds(); !s.ok()) return s;

  HttpServerOptions admin;
  admin.tcp_address = config_.admin.address;
  admin.max_connections = 64;
  AdminCallbacks callbacks;
  callbacks.metrics = [this] { return MetricsText(); };
  callbacks.alive = [this] { return EventLoopsAlive(); };
  callbacks.ready = [this] { return Readiness(); };
  callbacks.config = [this] { return ConfigText(); };
  admin_ = std::make_unique<HttpServer>(
      std::move(admin), MakeAdminHandler(std::move(callbacks)),
      std::vector<asio::io_context*>{&admin_io_});
  if (absl::Status s = admin_->Start(); !s.ok()) return s;
  threads_.emplace_back([this] {
    auto guard = asio::make_work_guard(admin_io_);
    admin_io_.run();
  });
  serving_.store(true);
  LOG_INFO("nearcache started",
           {{"version", NEARCACHE_VERSION},
            {"resp_socket", config_.listen.resp_socket},
            {"resp_tcp", config_.listen.resp_tcp},
            {"redis", config_.redis.endpoint.ToString()},
            {"threads", absl::StrCat(config_.listen.threads)},
            {"max_bytes", absl::StrCat(config_.cache.max_bytes)}});
  LOG_INFO("effective configuration", {{"config", RenderConfig(config_)}});
  return absl::OkStatus();
}

int App::Run() {
  asio::signal_set signals(signal_io_, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (signo == SIGHUP) {
          Reload();
          signals.async_wait(on_signal);
          return;
        }
        LOG_INFO("shutting down", {{"signal", absl::StrCat(signo)}});
        signal_io_.stop();
      };
  signals.async_wait(on_signal);
  signal_io_.run();
  Shutdown();
  return 0;
}

void App::Reload() {
  absl::StatusOr<Config> next = LoadConfigFile(config_.source_path);
  if (!next.ok()) {
    LOG_ERROR("reload refused; keeping the running config",
              {{"error", std::string(next.status().message())}});
    return;
  }
  const std::vector<std::string> ignored = KeysNeedingRestart(config_, *next);
  cache_.SetTtls(next->cache.ttl, next->cache.negative_ttl,
                 next->cache.max_stale);
  cache_.SetMaxBytes(next->cache.max_bytes);
  config_.cache = next->cache;
  config_.log = next->log;
  {
    absl::MutexLock lock(&config_mu_);
    config_text_ = RenderConfig(config_);
  }
  SetLogOptions(static_cast<LogLevel>(next->log.level),
                next->log.format == LogConfig::kJson);
  LOG_INFO("config reloaded",
           {{"max_bytes", absl::StrCat(next->cache.max_bytes)},
            {"ttl", absl::FormatDuration(next->cache.ttl)},
            {"negative_ttl", absl::FormatDuration(next->cache.negative_ttl)},
            {"max_stale", absl::FormatDuration(next->cache.max_stale)}});
  if (!ignored.empty()) {
    LOG_WARN("reload ignored changes that need a restart",
             {{"keys", absl::StrJoin(ignored, ",")}});
  }
}

std::string App::MetricsText() {
  MetricsSources src;
  src.cache = &cache_;
  src.lookups = &counters_;
  src.resp = &resp_metrics_;
  src.http = &http_metrics_;
  if (http_ != nullptr) src.http_connections = http_->active_connections();
  src.upstream_duration = &upstream_duration_;
  src.resp_connections = frontend_.connected_clients.load();
  src.disconnects_output_limit = frontend_.disconnects_output_limit.load();
  src.disconnects_idle = frontend_.disconnects_idle.load();
  src.disconnects_peer_uid = frontend_.disconnects_peer_uid.load();
  src.disconnects_max_clients = frontend_.disconnects_max_clients.load();
  src.version = NEARCACHE_VERSION;
  // The pool and the invalidator belong to the upstream thread: read them
  // there, waiting a bounded time (a stuck loop must not hang the scrape).
  struct Snapshot {
    std::promise<void> done;
    UpstreamStats upstream;
    bool link_up = false;
  };
  auto snap = std::make_shared<Snapshot>();
  asio::post(upstream_io(), [this, snap] {
    snap->upstream = pool_->stats();
    snap->link_up = invalidator_->link_up();
    snap->done.set_value();
  });
  if (snap->done.get_future().wait_for(std::chrono::milliseconds(500)) ==
      std::future_status::ready) {
    src.upstream = snap->upstream;
    src.invalidation_link_up = snap->link_up;
  }
  src.invalidations = &invalidator_->counters();
  return RenderPrometheusText(src);
}

bool App::EventLoopsAlive() {
  // A posted no-op must run within the bound on every loop.
  struct Probe {
    std::atomic<int> pending{0};
    std::promise<void> done;
  };
  auto probe = std::make_shared<Probe>();
  std::vector<asio::io_context*> loops;
  for (auto& w : workers_) loops.push_back(w.get());
  probe->pending = static_cast<int>(loops.size());
  for (asio::io_context* io : loops) {
    asio::post(*io, [probe] {
      if (--probe->pending == 0) probe->done.set_value();
    });
  }
  return probe->done.get_future().wait_for(std::chrono::milliseconds(500)) ==
         std::future_status::ready;
}

ReadyState App::Readiness() {
  ReadyState r;
  r.ready = serving_.load();
  r.redis_up = redis_up_.load();
  r.invalidation_link_up = invalidator_->link_up();
  r.serving_stale = !r.redis_up;
  return r;
}

std::string App::ConfigText() {
  absl::MutexLock lock(&config_mu_);
  return config_text_;
}

void App::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  serving_.store(false);
  if (resp_ != nullptr) {
    // Stop accepting, then let requests in flight finish, within a bound.
    resp_->Stop();
    resp_->Drain();
    if (http_ != nullptr) {
      http_->Stop();
      http_->Drain();
    }
    auto open = [this] {
      return frontend_.connected_clients.load() +
             (http_ != nullptr ? http_->active_connections() : 0);
    };
    const absl::Time deadline = absl::Now() + kDrainTimeout;
    while (open() > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (open() > 0) {
      LOG_WARN("drain timed out; closing the remaining connections",
               {{"connections", absl::StrCat(open())}});
    }
  }
  if (!threads_.empty()) {
    RunOn(upstream_io(), [this] {
      invalidator_->Stop();
      pool_->Stop();
    });
  }
  if (admin_ != nullptr) admin_->Stop();
  guards_.clear();
  for (auto& w : workers_) w->stop();
  admin_io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  resp_.reset();
  http_.reset();
  admin_.reset();
  // The upstream side's timers and sockets belong to the first worker's
  // io_context: destroy them before it.
  invalidator_.reset();
  service_.reset();
  pool_.reset();
  workers_.clear();
}

}  // namespace nearcache
