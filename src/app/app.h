// App: builds nearcache's layers from a Config and runs them.
//
// Threads: `listen.threads` workers serve client connections (one
// io_context each; a cache hit never leaves its worker); one upstream thread
// owns every Redis connection, the breaker and the single-flight table; the
// thread that calls Run() handles signals (SIGTERM/SIGINT stop, SIGHUP
// reloads the config file).
#ifndef NEARCACHE_APP_APP_H_
#define NEARCACHE_APP_APP_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "http/admin_handler.h"
#include "http/api_handler.h"
#include "http/http_server.h"
#include "invalidation/invalidator.h"
#include "metrics/metrics.h"
#include "nearcache/cache.h"
#include "nearcache/config.h"
#include "server/resp_handler.h"
#include "server/resp_server.h"
#include "service/lookup_counters.h"
#include "service/lookup_service.h"
#include "upstream/upstream_pool.h"

namespace nearcache {

// Thread-compatible: Start(), Run() and the destructor on one thread.
class App {
 public:
  explicit App(Config config);
  ~App();

  // Opens the listeners and starts the threads. Errors name what failed.
  absl::Status Start();

  // Serves until SIGTERM or SIGINT, then shuts down. Returns the exit code.
  int Run();

  // The Prometheus text exposition of every metric. Any thread.
  std::string MetricsText();

  // True when every event loop (workers, upstream) runs a posted task within
  // a bound: /healthz. Any thread.
  bool EventLoopsAlive();

  // /readyz. Any thread.
  ReadyState Readiness();

  // The effective configuration, secrets redacted: /config. Any thread.
  std::string ConfigText();

 private:
  using WorkGuard =
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  // Binds the RESP and HTTP listeners and starts accepting.
  absl::Status StartFrontEnds();
  // The loop of the upstream side (pool, single-flight, invalidation): the
  // first worker's.
  boost::asio::io_context& upstream_io() { return *workers_.front(); }
  void Reload();
  void Shutdown();

  Config config_;
  ShardedLruCache cache_;
  LookupCounters counters_;
  FrontendMetrics resp_metrics_;
  FrontendMetrics http_metrics_;
  ApiContext api_;
  std::atomic<bool> redis_up_{false};
  std::atomic<bool> serving_{false};
  absl::Mutex config_mu_;
  std::string config_text_ ABSL_GUARDED_BY(config_mu_);
  LatencyHistogram upstream_duration_;
  FrontendContext frontend_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<LookupService> service_;
  std::unique_ptr<Invalidator> invalidator_;
  std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
  std::vector<WorkGuard> guards_;
  std::unique_ptr<RespServer> resp_;
  std::unique_ptr<HttpServer> http_;
  // The admin server has its own loop, so probes answer whatever the
  // workers are doing, and /healthz can tell when they stop answering.
  boost::asio::io_context admin_io_;
  std::unique_ptr<HttpServer> admin_;
  std::vector<std::thread> threads_;
  boost::asio::io_context signal_io_;
  bool stopped_ = false;
};

}  // namespace nearcache

#endif  // NEARCACHE_APP_APP_H_
