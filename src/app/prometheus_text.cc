#include "app/prometheus_text.h"

#include <deque>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace nearcache {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// The families of one scrape. Add() returns a reference that stays valid
// while more families are added (a std::deque never moves its elements), so
// a caller may fill two families side by side.
class Families {
 public:
  MetricFamily& Add(std::string name, std::string help, MetricType type) {
    families_.push_back(
        MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  std::vector<MetricFamily> all() {
    return std::vector<MetricFamily>(std::make_move_iterator(families_.begin()),
                                     std::make_move_iterator(families_.end()));
  }

 private:
  std::deque<MetricFamily> families_;
};

void AddCounter(MetricFamily& f, std::vector<ClientMetric::Label> labels,
                double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  f.metric.push_back(std::move(m));
}

void AddGauge(MetricFamily& f, std::vector<ClientMetric::Label> labels,
              double value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void AddHistogram(MetricFamily& f, std::vector<ClientMetric::Label> labels,
                  const LatencyHistogram& h) {
  const LatencyHistogram::Snapshot s = h.Take();
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = s.count;
  m.histogram.sample_sum = s.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += s.counts[i];
    m.histogram.bucket.push_back(
        ClientMetric::Bucket{cumulative, LatencyHistogram::kUpperBounds[i]});
  }
  m.histogram.bucket.push_back(
      ClientMetric::Bucket{s.count, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

double Load(const std::atomic<uint64_t>& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}

}  // namespace

std::string RenderPrometheusText(const MetricsSources& src) {
  Families fam;
  if (src.lookups != nullptr) {
    MetricFamily& f =
        fam.Add("nearcache_lookups_total", "Key lookups by how they ended.",
                MetricType::Counter);
    AddCounter(f, {{"result", "hit"}}, Load(src.lookups->hit));
    AddCounter(f, {{"result", "miss"}}, Load(src.lookups->miss));
    AddCounter(f, {{"result", "stale"}}, Load(src.lookups->stale));
    AddCounter(f, {{"result", "negative_hit"}},
               Load(src.lookups->negative_hit));
    AddCounter(f, {{"result", "error"}}, Load(src.lookups->error));
  }
  {
    MetricFamily& req = fam.Add("nearcache_requests_total",
                                "Client requests by front-end and command.",
                                MetricType::Counter);
    MetricFamily& dur =
        fam.Add("nearcache_request_duration_seconds",
                "Time from a request's arrival to its reply being ready.",
                MetricType::Histogram);
    const std::pair<const char*, const FrontendMetrics*> frontends[] = {
        {"resp", src.resp}, {"http", src.http}};
    for (const auto& [name, m] : frontends) {
      if (m == nullptr) continue;
      for (size_t i = 0; i < m->requests.size(); ++i) {
        AddCounter(req, {{"frontend", name}, {"command", m->requests.label(i)}},
                   static_cast<double>(m->requests.value(i)));
      }
      AddHistogram(dur, {{"frontend", name}}, m->duration);
    }
  }
  if (src.cache != nullptr) {
    const CacheStats s = src.cache->Stats();
    AddGauge(fam.Add("nearcache_cache_entries", "Entries in the cache.",
                     MetricType::Gauge),
             {}, static_cast<double>(s.entries));
    AddGauge(
        fam.Add("nearcache_cache_bytes",
                "Bytes charged for the cached entries.", MetricType::Gauge),
        {}, static_cast<double>(s.bytes));
    AddGauge(fam.Add("nearcache_cache_max_bytes",
                     "The configured bound on cache bytes.", MetricType::Gauge),
             {}, static_cast<double>(s.max_bytes));
    MetricFamily& ev =
        fam.Add("nearcache_evictions_total", "Entries evicted, by reason.",
                MetricType::Counter);
    AddCounter(ev, {{"reason", "size"}}, static_cast<double>(s.evictions_size));
    AddCounter(ev, {{"reason", "expired"}},
               static_cast<double>(s.evictions_expired));
  }
  if (src.invalidations != nullptr) {
    MetricFamily& f =
        fam.Add("nearcache_invalidations_total",
                "Invalidations applied, by source.", MetricType::Counter);
    AddCounter(f, {{"source", "tracking"}}, Load(src.invalidations->tracking));
    AddCounter(f, {{"source", "channel"}}, Load(src.invalidations->channel));
    AddCounter(f, {{"source", "flush"}}, Load(src.invalidations->flush));
    AddCounter(f, {{"source", "reconnect"}},
               Load(src.invalidations->reconnect));
    AddGauge(fam.Add("nearcache_invalidation_link_up",
                     "1 while the invalidation link to Redis is up.",
                     MetricType::Gauge),
             {}, src.invalidation_link_up ? 1 : 0);
  }
  {
    MetricFamily& f =
        fam.Add("nearcache_upstream_requests_total",
                "Requests to Redis, by result.", MetricType::Counter);
    AddCounter(f, {{"result", "ok"}},
               static_cast<double>(src.upstream.requests_ok));
    AddCounter(f, {{"result", "error"}},
               static_cast<double>(src.upstream.requests_error));
    AddCounter(f, {{"result", "timeout"}},
               static_cast<double>(src.upstream.requests_timeout));
    AddCounter(f, {{"result", "rejected"}},
               static_cast<double>(src.upstream.requests_rejected));
  }
  if (src.upstream_duration != nullptr) {
    AddHistogram(fam.Add("nearcache_upstream_duration_seconds",
                         "Round trip of one pipelined batch to Redis.",
                         MetricType::Histogram),
                 {}, *src.upstream_duration);
  }
  AddGauge(fam.Add("nearcache_redis_up",
                   "1 while at least one connection to Redis serves requests.",
                   MetricType::Gauge),
           {}, src.upstream.up ? 1 : 0);
  {
    MetricFamily& f =
        fam.Add("nearcache_connections",
                "Open client connections, by front-end.", MetricType::Gauge);
    AddGauge(f, {{"frontend", "resp"}},
             static_cast<double>(src.resp_connections));
    AddGauge(f, {{"frontend", "http"}},
             static_cast<double>(src.http_connections));
  }
  {
    MetricFamily& f = fam.Add(
        "nearcache_client_disconnects_total",
        "RESP connections nearcache closed or refused, by reason: "
        "output_limit (listen.max_output_bytes), idle (listen.idle_timeout), "
        "peer_uid (listen.allowed_uids), max_clients "
        "(listen.max_connections).",
        MetricType::Counter);
    AddCounter(f, {{"reason", "output_limit"}},
               static_cast<double>(src.disconnects_output_limit));
    AddCounter(f, {{"reason", "idle"}},
               static_cast<double>(src.disconnects_idle));
    AddCounter(f, {{"reason", "peer_uid"}},
               static_cast<double>(src.disconnects_peer_uid));
    AddCounter(f, {{"reason", "max_clients"}},
               static_cast<double>(src.disconnects_max_clients));
  }
  AddGauge(fam.Add("nearcache_build_info", "nearcache's version.",
                   MetricType::Gauge),
           {{"version", src.version}}, 1);

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, fam.all());
  return out.str();
}

}  // namespace nearcache
