// The /v1 JSON API of nearcache as a plain coroutine from request to
// response: socket-free, so it is tested with a fake Fetcher and no network.
// Keys are resolved by KeyLookup (fresh from the cache, else from Redis,
// else stale when Redis cannot be asked), as on the RESP front-end.
//
//   GET  /v1/keys/{key}      the raw string value (application/octet-stream).
//                            404 no such key, 409 the key holds a hash,
//                            503 Redis unavailable and nothing usable cached.
//   GET  /v1/hashes/{key}[?fields=a,b]
//                            {"fields": {"a": "1", "b": null}}; every field
//                            without ?fields. 404 no such key, 409 the key
//                            holds a string, 503 as above.
//   POST /v1/lookup          {"keys": ["k1", ...], "encoding": "base64"?,
//                             "type": "string" (default) | "hash"}
//                            -> {"results": [{"key", "status", "value",
//                                 "age_ms", "encoding"?, "error"?}, ...]},
//                            one per key, in order. At most kMaxLookupKeys.
//
// {key} is the rest of the path, percent-decoded (%00 for a NUL byte; a raw
// '/' is part of the key). In ?fields= each comma-separated item is
// percent-decoded on its own, so %2C is a comma inside a name, and '+' is a
// space as in any query string (%2B for a plus).
//
// JSON strings must be UTF-8: a value (for hashes: any field name or value
// of the response) that is not comes base64-encoded, all of it, with
// "encoding": "base64" beside it. In /v1/lookup, "encoding": "base64" in the
// request means the keys are base64; each result's "key" echoes the key as
// sent, and a result's "encoding" describes its "value".
//
// status: HIT (fresh from the cache), MISS (read from Redis now), STALE
// (Redis unavailable; an older cached value), NOT_FOUND (no such key),
// ERROR (Redis unavailable and nothing cached, or the key holds the other
// type; see "error").
//
// Every response of these three routes carries X-Cache-Status (HIT, MISS or
// STALE; for /v1/lookup STALE if any key was stale, else MISS if any key
// was not served from the cache, else HIT) and Age: the age in whole
// seconds of the oldest value served. Errors are JSON {"error": "..."}:
// 400 bad request, 404 unknown path, 405 wrong method (with Allow).
#ifndef NEARCACHE_HTTP_API_HANDLER_H_
#define NEARCACHE_HTTP_API_HANDLER_H_

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "http/http_message.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "nearcache/cache.h"
#include "service/lookup_counters.h"
#include "service/lookup_service.h"

namespace nearcache {

// Most keys one POST /v1/lookup may ask for.
inline constexpr size_t kMaxLookupKeys = 10000;

// What the API reads through. Thread-safe: every pointee is.
struct ApiContext {
  ShardedLruCache* cache = nullptr;
  Fetcher* fetcher = nullptr;
  LookupCounters* counters = nullptr;
  // nearcache_requests_total{frontend="http",command} and the request
  // duration; built with ApiCommandLabels(). May be null.
  FrontendMetrics* metrics = nullptr;
};

// The `command` label values of nearcache_requests_total for HTTP, in the
// order ApiContext::metrics must be built with: "keys", "hashes", "lookup",
// "other" (unknown paths and methods, bad requests).
std::vector<std::string> ApiCommandLabels();

// Answers one API request. Never throws.
// REQUIRES: context and its cache, fetcher and counters are set and outlive
// the call.
boost::asio::awaitable<HttpResponse> HandleApiRequest(
    const ApiContext* context, const HttpRequest& request);

// HandleApiRequest as an HttpServer handler.
HttpServer::Handler MakeApiHandler(const ApiContext* context);

}  // namespace nearcache

#endif  // NEARCACHE_HTTP_API_HANDLER_H_
