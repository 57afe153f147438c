// The Prometheus text exposition (format 0.0.4) of every nearcache_* metric
// of the product design, built at scrape time from the layers' own counters
// through prometheus-cpp's data model and TextSerializer.
#ifndef NEARCACHE_APP_PROMETHEUS_TEXT_H_
#define NEARCACHE_APP_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <string>

#include "invalidation/invalidator.h"
#include "metrics/metrics.h"
#include "nearcache/cache.h"
#include "service/lookup_counters.h"
#include "upstream/upstream_pool.h"

namespace nearcache {

// Thread-compatible plain struct: what one scrape reads. Pointers may be
// null for parts that are not running.
struct MetricsSources {
  const ShardedLruCache* cache = nullptr;
  const LookupCounters* lookups = nullptr;
  const FrontendMetrics* resp = nullptr;
  const FrontendMetrics* http = nullptr;
  const InvalidationCounters* invalidations = nullptr;
  const LatencyHistogram* upstream_duration = nullptr;
  UpstreamStats upstream;  // a snapshot taken on the upstream thread
  bool invalidation_link_up = false;
  int64_t resp_connections = 0;
  int64_t http_connections = 0;
  // RESP connections nearcache closed or refused, by reason.
  uint64_t disconnects_output_limit = 0;
  uint64_t disconnects_idle = 0;
  uint64_t disconnects_peer_uid = 0;
  uint64_t disconnects_max_clients = 0;
  std::string version;
};

std::string RenderPrometheusText(const MetricsSources& sources);

}  // namespace nearcache

#endif  // NEARCACHE_APP_PROMETHEUS_TEXT_H_
