// Finds where one complete reply ends in a byte buffer, for a load
// generator: RESP2 (and the RESP3 types, which cost nothing to accept) and
// HTTP/1.1 responses with a Content-Length. Nothing is copied or decoded;
// the scanner only counts what a benchmark reports: errors and nil values.
//
// Thread-safe: pure functions.
#ifndef NEARCACHE_BENCH_LOADGEN_REPLY_SCANNER_H_
#define NEARCACHE_BENCH_LOADGEN_REPLY_SCANNER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nearcache::bench {

enum class ScanStatus { kComplete, kIncomplete, kBad };

struct ScanResult {
  size_t consumed = 0;  // bytes of the reply, when kComplete
  bool error = false;   // a RESP error at the top level, or HTTP status >= 500
  uint32_t nils = 0;    // nil values at any depth (RESP), or HTTP 404
  int http_status = 0;  // HTTP only
  // A value: RESP, a top-level bulk string (not nil); HTTP, the body of a
  // 200 response. It is at [bulk_begin, +bulk_len) of the buffer.
  bool has_bulk = false;
  // HTTP: the response carries "X-Cache-Status: STALE" (nearcache).
  bool stale = false;
  size_t bulk_begin = 0;
  size_t bulk_len = 0;
};

// Scans one RESP reply at the start of `buf`.
ScanStatus ScanRespReply(std::string_view buf, ScanResult* result);

// Scans one HTTP/1.1 response at the start of `buf`. Only Content-Length
// bodies are understood (chunked encoding is kBad).
ScanStatus ScanHttpResponse(std::string_view buf, ScanResult* result);

}  // namespace nearcache::bench

#endif  // NEARCACHE_BENCH_LOADGEN_REPLY_SCANNER_H_
