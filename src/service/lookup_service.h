// LookupService: the read-through path from a cache miss to Redis.
//
// Front-ends look the cache up themselves (a hit never leaves their thread).
// For what is missing, expired or invalidated they call Fetch(), which hops
// to the upstream thread, joins or starts one flight per (key, kind) —
// single-flight: one Redis read per key however many callers wait (a caller
// that arrives just after a flight stored a fresh value gets that value) —
// sends all new flights of the call as one pipelined batch (GET+PTTL for
// strings, HGETALL+PTTL for hashes), stores the results in the cache under
// the fetch tickets taken before the request went out, and completes the
// caller on its own executor.
//
// What to do with a failed fetch (serve stale or fail) is the caller's call:
// it holds the stale candidate it found in the cache.
#ifndef NEARCACHE_SERVICE_LOOKUP_SERVICE_H_
#define NEARCACHE_SERVICE_LOOKUP_SERVICE_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "metrics/metrics.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"

namespace nearcache {

class UpstreamPool;

// How a key is read from Redis: the command family that asked for it.
enum class FetchKind : uint8_t { kString, kHash };

struct FetchRequest {
  std::string key;
  FetchKind kind = FetchKind::kString;
};

struct FetchOutcome {
  // Not OK when Redis could not be asked or did not answer (unavailable,
  // timeout, breaker open): the caller serves stale or fails.
  absl::Status status;
  // OK and redis_error empty: the value Redis returned (maybe NotFound).
  ValuePtr value;
  // OK: Redis answered with this error (e.g. "WRONGTYPE ..."), passed through.
  std::string redis_error;
};

// Something that can fetch keys from Redis; lets front-end tests fake Redis.
// Thread-safe: Fetch may be called from any executor and completes there.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // One outcome per request, in order.
  virtual boost::asio::awaitable<std::vector<FetchOutcome>> Fetch(
      std::vector<FetchRequest> requests) = 0;
};

// Thread-safe as a Fetcher. InvalidateKey() and Flights() belong to the
// upstream executor.
class LookupService : public Fetcher {
 public:
  // REQUIRES: cache and pool outlive the service; pool lives on
  // upstream_executor, as does every flight.
  LookupService(ShardedLruCache* cache, UpstreamPool* pool,
                boost::asio::any_io_executor upstream_executor);
  ~LookupService() override;

  boost::asio::awaitable<std::vector<FetchOutcome>> Fetch(
      std::vector<FetchRequest> requests) override;

  // Upstream executor only. Invalidates `key` in the cache and detaches its
  // flights: callers arriving after this start a new read rather than join
  // one that may have been answered before the write.
  void InvalidateKey(absl::string_view key);

  // Where to observe how long each pipelined Redis round trip took
  // (nearcache_upstream_duration_seconds). Call before Fetch is used.
  void set_upstream_duration(LatencyHistogram* histogram) {
    upstream_duration_ = histogram;
  }

  // Upstream executor only. Invalidates every cache entry and detaches every
  // flight, as InvalidateKey does for one key.
  void InvalidateAll();

  // Upstream executor only. Flights in the air (for tests and metrics).
  size_t Flights() const { return flights_.size(); }

 private:
  struct Flight;
  struct Batch;
  void StartBatch(std::vector<FetchRequest> requests, std::shared_ptr<Batch> b);
  boost::asio::awaitable<void> RunFlights(
      std::vector<std::shared_ptr<Flight>> flights);
  void Complete(const std::shared_ptr<Flight>& flight,
                const FetchOutcome& outcome);

  ShardedLruCache* const cache_;
  UpstreamPool* const pool_;
  boost::asio::any_io_executor upstream_;
  // Keyed by kind byte + key. Upstream executor only.
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_;
  LatencyHistogram* upstream_duration_ = nullptr;
};

}  // namespace nearcache

#endif  // NEARCACHE_SERVICE_LOOKUP_SERVICE_H_
