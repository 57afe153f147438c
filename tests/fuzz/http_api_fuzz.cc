// libFuzzer target for the /v1 JSON API (src/http/api_handler.h): the whole
// routing function, HandleApiRequest, run on an io_context with a fake
// Fetcher, no sockets.
//
// Input layout: byte 0 picks the method, then the request target up to the
// first '\n' (bytes an HTTP parser would refuse in a target are dropped),
// then the body. Each request runs three times: against an empty cache
// (everything fetched from a FakeFetcher: values, hashes, "no such key", a
// Redis error reply, Redis unavailable, as the key's last byte says), again
// (cache hits), then once the entries are past their ttl with Redis down
// (stale or errors).
//
// Checked, besides ASan/UBSan: HandleApiRequest never throws; the status is
// one the API documents; Content-Length is the body's size; a JSON body is
// valid UTF-8 and parses, and an error's is {"error": "..."}; a 405 says
// Allow; a 200 from /v1/lookup has one result per key.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "http/api_handler.h"
#include "http/http_message.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "service/lookup_counters.h"
#include "service/lookup_service.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fuzz/fake_fetcher.h"

namespace nearcache {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

constexpr http::verb kMethods[] = {
    http::verb::get,   http::verb::post,    http::verb::head,
    http::verb::put,   http::verb::delete_, http::verb::options,
    http::verb::patch, http::verb::unknown,
};

HttpRequest MakeRequest(uint8_t method, absl::string_view target,
                        absl::string_view body) {
  HttpRequest req;
  const http::verb verb = kMethods[method % 8];
  if (verb == http::verb::unknown) {
    req.method_string("BREW");
  } else {
    req.method(verb);
  }
  req.target(boost::beast::string_view(target.data(), target.size()));
  req.version(11);
  req.body() = std::string(body);
  req.prepare_payload();
  return req;
}

HttpResponse Run(const ApiContext* context, const HttpRequest& request) {
  asio::io_context io;
  std::optional<HttpResponse> response;
  asio::co_spawn(io, HandleApiRequest(context, request),
                 [&](std::exception_ptr e, HttpResponse res) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       std::fprintf(stderr, "HandleApiRequest threw: %s\n",
                                    ex.what());
                     } catch (...) {
                       std::fprintf(stderr, "HandleApiRequest threw\n");
                     }
                     std::abort();
                   }
                   response = std::move(res);
                 });
  io.run();
  FUZZ_CHECK(response.has_value());
  return *std::move(response);
}

void Check(const HttpRequest& req, const HttpResponse& res) {
  const unsigned status = res.result_int();
  FUZZ_CHECK(status == 200 || status == 400 || status == 404 || status == 405 ||
             status == 409 || status == 502 || status == 503);
  const auto length = res[http::field::content_length];
  FUZZ_CHECK(length == std::to_string(res.body().size()));
  if (status == 405) FUZZ_CHECK(!res[http::field::allow].empty());
  const auto type = res[http::field::content_type];
  if (!absl::StartsWith(absl::string_view(type.data(), type.size()),
                        "application/json")) {
    FUZZ_CHECK(status == 200);
    return;
  }
  FUZZ_CHECK(IsValidUtf8(res.body()));
  const nlohmann::json body = nlohmann::json::parse(res.body(), nullptr,
                                                    /*allow_exceptions=*/false);
  FUZZ_CHECK(!body.is_discarded());
  FUZZ_CHECK(body.is_object());
  if (status != 200) {
    FUZZ_CHECK(body.contains("error"));
    FUZZ_CHECK(body["error"].is_string());
    return;
  }
  const absl::string_view target(req.target().data(), req.target().size());
  if (TargetPath(target) == "/v1/lookup") {
    const nlohmann::json sent =
        nlohmann::json::parse(req.body(), nullptr, false);
    FUZZ_CHECK(sent.is_object() && sent["keys"].is_array());
    FUZZ_CHECK(body["results"].is_array());
    FUZZ_CHECK(body["results"].size() == sent["keys"].size());
  }
}

}  // namespace
}  // namespace nearcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nearcache;
  if (size < 1) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  const size_t newline = rest.find('\n');
  std::string target;
  for (const char c : rest.substr(0, newline)) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u != 0x7f) target += c;  // what an HTTP parser lets by
  }
  if (target.size() > 4000) return 0;
  const absl::string_view body = newline == absl::string_view::npos
                                     ? absl::string_view()
                                     : rest.substr(newline + 1);

  ManualClock clock;
  CacheOptions options;
  options.max_bytes = 1 << 20;
  options.num_shards = 2;
  ShardedLruCache cache(options, &clock);
  FakeFetcher fetcher(&cache);
  LookupCounters counters;
  ApiContext context;
  context.cache = &cache;
  context.fetcher = &fetcher;
  context.counters = &counters;

  for (int round = 0; round < 3; ++round) {
    if (round == 2) {
      clock.Advance(options.ttl + absl::Seconds(1));
      fetcher.set_down(true);
    }
    const HttpRequest req = MakeRequest(data[0], target, body);
    const HttpResponse res = Run(&context, req);
    Check(req, res);
  }
  return 0;
}
