// The /v1 routes as a plain coroutine: a real ShardedLruCache on a
// ManualClock, Redis faked by FakeFetcher, no sockets.
#include "http/api_handler.h"

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "tests/fakes/manual_clock.h"
#include "tests/http/fake_fetcher.h"
#include "tests/upstream/run_coroutine.h"

namespace nearcache {
namespace {

namespace http = boost::beast::http;
using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Header(const HttpResponse& res, absl::string_view name) {
  auto it = res.find(boost::beast::string_view(name.data(), name.size()));
  return it == res.end() ? "<none>" : std::string(it->value());
}

Json Body(const HttpResponse& res) {
  return Json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
}

class ApiHandlerTest : public ::testing::Test {
 protected:
  ApiHandlerTest()
      : cache_(Options(), &clock_), fetcher_(&cache_), metrics_(Labels()) {
    context_.cache = &cache_;
    context_.fetcher = &fetcher_;
    context_.counters = &counters_;
    context_.metrics = &metrics_;
  }

  static CacheOptions Options() {
    CacheOptions o;
    o.ttl = absl::Seconds(30);
    o.max_stale = absl::Minutes(10);
    o.negative_ttl = absl::Seconds(2);
    o.num_shards = 4;
    return o;
  }
  static std::vector<std::string> Labels() { return ApiCommandLabels(); }

  HttpResponse Call(http::verb method, const std::string& target,
                    const std::string& body = "") {
    HttpRequest req(method, target, 11);
    req.body() = body;
    req.prepare_payload();
    return Await(io_, HandleApiRequest(&context_, req));
  }
  HttpResponse Get(const std::string& target) {
    return Call(http::verb::get, target);
  }
  HttpResponse Lookup(const Json& body) {
    return Call(http::verb::post, "/v1/lookup", body.dump());
  }

  boost::asio::io_context io_;
  ManualClock clock_;
  ShardedLruCache cache_;
  FakeFetcher fetcher_;
  LookupCounters counters_;
  FrontendMetrics metrics_;
  ApiContext context_;
};

// --- GET /v1/keys/{key} ---

TEST_F(ApiHandlerTest, KeyIsReadFromRedisThenServedFromTheCache) {
  fetcher_.SetString("user:1", "hello");
  HttpResponse res = Get("/v1/keys/user:1");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(Header(res, "Content-Type"), "application/octet-stream");
  EXPECT_EQ(Header(res, "X-Cache-Status"), "MISS");
  EXPECT_EQ(Header(res, "Age"), "0");

  clock_.Advance(absl::Milliseconds(5500));
  res = Get("/v1/keys/user:1");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), "hello");
  EXPECT_EQ(Header(res, "X-Cache-Status"), "HIT");
  EXPECT_EQ(Header(res, "Age"), "5");
  EXPECT_THAT(fetcher_.requested(), ElementsAre("user:1"));
  EXPECT_EQ(counters_.miss.load(), 1u);
  EXPECT_EQ(counters_.hit.load(), 1u);
}

TEST_F(ApiHandlerTest, MissingKeyIs404AndCachedAsNotFound) {
  HttpResponse res = Get("/v1/keys/nope");
  EXPECT_EQ(res.result(), HttpStatus::not_found);
  EXPECT_EQ(Header(res, "Content-Type"), "application/json");
  EXPECT_EQ(Body(res)["error"], "no such key");
  EXPECT_EQ(Header(res, "X-Cache-Status"), "MISS");

  res = Get("/v1/keys/nope");
  EXPECT_EQ(res.result(), HttpStatus::not_found);
  EXPECT_EQ(Header(res, "X-Cache-Status"), "HIT");
  EXPECT_EQ(fetcher_.requested().size(), 1u);
  EXPECT_EQ(counters_.negative_hit.load(), 1u);
}

TEST_F(ApiHandlerTest, HashKeyIs409FromRedisAndFromTheCache) {
  fetcher_.SetHash("h", {{"a", "1"}});
  HttpResponse res = Get("/v1/keys/h");  // Redis answers WRONGTYPE
  EXPECT_EQ(res.result(), HttpStatus::conflict);
  EXPECT_THAT(Body(res)["error"].get<std::string>(), HasSubstr("/v1/hashes/"));

  ASSERT_EQ(Get("/v1/hashes/h").result(), HttpStatus::ok);  // now cached
  res = Get("/v1/keys/h");
  EXPECT_EQ(res.result(), HttpStatus::conflict);
  EXPECT_EQ(Header(res, "X-Cache-Status"), "HIT");
  EXPECT_THAT(Body(res)["error"].get<std::string>(), HasSubstr("WRONGTYPE"));
}

TEST_F(ApiHandlerTest, RedisDownAndNothingCachedIs503) {
  fetcher_.SetDown(true);
  HttpResponse res = Get("/v1/keys/k");
  EXPECT_EQ(res.result(), HttpStatus::service_unavailable);
  EXPECT_THAT(Body(res)["error"].get<std::string>(),
              HasSubstr("Redis unavailable"));
  EXPECT_EQ(Header(res, "X-Cache-Status"), "MISS");
  EXPECT_EQ(counters_.error.load(), 1u);
}

TEST_F(ApiHandlerTest, RedisDownServesAnExpiredEntryAsStale) {
  fetcher_.SetString("k", "v1");
  ASSERT_EQ(Get("/v1/keys/k").result(), HttpStatus::ok);
  clock_.Advance(absl::Seconds(31));  // past ttl, within max_stale
  fetcher_.SetDown(true);
  HttpResponse res = Get("/v1/keys/k");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), "v1");
  EXPECT_EQ(Header(res, "X-Cache-Status"), "STALE");
  EXPECT_EQ(Header(res, "Age"), "31");
  EXPECT_EQ(counters_.stale.load(), 1u);
}

TEST_F(ApiHandlerTest, KeyIsPercentDecoded) {
  const std::string key("ent\0key\xff/x y", 12);
  fetcher_.SetString(key, std::string("\x01\x02", 2));
  HttpResponse res = Get("/v1/keys/ent%00key%FF/x%20y");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), std::string("\x01\x02", 2));
  EXPECT_THAT(fetcher_.requested(), ElementsAre(key));
  // '+' in a path is a plus.
  fetcher_.SetString("a+b", "plus");
  EXPECT_EQ(Get("/v1/keys/a+b").body(), "plus");
}

TEST_F(ApiHandlerTest, BadOrEmptyKeyIs400) {
  EXPECT_EQ(Get("/v1/keys/a%zz").result(), HttpStatus::bad_request);
  EXPECT_EQ(Get("/v1/keys/a%4").result(), HttpStatus::bad_request);
  EXPECT_EQ(Get("/v1/keys/").result(), HttpStatus::bad_request);
  EXPECT_TRUE(fetcher_.requested().empty());
}

TEST_F(ApiHandlerTest, QueryIsNotPartOfTheKey) {
  fetcher_.SetString("k", "v");
  EXPECT_EQ(Get("/v1/keys/k?x=1").body(), "v");
}

// --- GET /v1/hashes/{key} ---

TEST_F(ApiHandlerTest, HashReturnsEveryFieldInRedisOrder) {
  fetcher_.SetHash("h", {{"z", "26"}, {"a", "1"}});
  HttpResponse res = Get("/v1/hashes/h");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Header(res, "Content-Type"), "application/json");
  EXPECT_EQ(res.body(), R"({"fields":{"z":"26","a":"1"}})");
  EXPECT_EQ(Header(res, "X-Cache-Status"), "MISS");
  EXPECT_EQ(Get("/v1/hashes/h").body(), res.body());
}

TEST_F(ApiHandlerTest, FieldsFilterGivesNullForMissingFields) {
  fetcher_.SetHash("h", {{"a", "1"}, {"b", "2"}, {"x,y", "3"}, {"p q", "4"}});
  HttpResponse res = Get("/v1/hashes/h?fields=b,nope,x%2Cy,p+q");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(
      Body(res),
      Json::parse(R"({"fields":{"b":"2","nope":null,"x,y":"3","p q":"4"}})"));
  res = Get("/v1/hashes/h?other=1&fields=a");
  EXPECT_EQ(Body(res), Json::parse(R"({"fields":{"a":"1"}})"));
  EXPECT_EQ(Get("/v1/hashes/h?fields=%zz").result(), HttpStatus::bad_request);
}

TEST_F(ApiHandlerTest, NonUtf8HashComesAllBase64) {
  const std::string field("\x00\x01\x02\x03", 4);  // Feast-style field name
  fetcher_.SetHash("h", {{field, "\xff\xfe"}, {"_ts:view", "123"}});
  HttpResponse res = Get("/v1/hashes/h");
  ASSERT_EQ(res.result(), HttpStatus::ok);
  Json body = Body(res);
  EXPECT_EQ(body["encoding"], "base64");
  EXPECT_EQ(body["fields"][absl::Base64Escape(field)],
            absl::Base64Escape("\xff\xfe"));
  EXPECT_EQ(body["fields"][absl::Base64Escape("_ts:view")],
            absl::Base64Escape("123"));

  // A requested field name that is not UTF-8 switches to base64 too.
  fetcher_.SetHash("h2", {{"a", "1"}});
  res = Get("/v1/hashes/h2?fields=a,%FF");
  body = Body(res);
  EXPECT_EQ(body["encoding"], "base64");
  EXPECT_EQ(body["fields"][absl::Base64Escape("a")], absl::Base64Escape("1"));
  EXPECT_TRUE(body["fields"][absl::Base64Escape("\xff")].is_null());
}

TEST_F(ApiHandlerTest, BinaryHashKeyAndFieldsArePercentDecoded) {
  const std::string key("k\0e\x80y", 5);
  fetcher_.SetHash(key, {{std::string("f\0", 2), "v"}});
  HttpResponse res = Get("/v1/hashes/k%00e%80y?fields=f%00");
  ASSERT_EQ(res.result(), HttpStatus::ok);
  // "f\0" is valid UTF-8: JSON escapes the NUL.
  EXPECT_EQ(res.body(), R"({"fields":{"f\u0000":"v"}})");
}

TEST_F(ApiHandlerTest, HashErrors) {
  EXPECT_EQ(Get("/v1/hashes/missing").result(), HttpStatus::not_found);
  fetcher_.SetString("s", "v");
  HttpResponse res = Get("/v1/hashes/s");
  EXPECT_EQ(res.result(), HttpStatus::conflict);
  EXPECT_THAT(Body(res)["error"].get<std::string>(), HasSubstr("/v1/keys/"));
  fetcher_.SetDown(true);
  EXPECT_EQ(Get("/v1/hashes/other").result(), HttpStatus::service_unavailable);
}

TEST_F(ApiHandlerTest, StaleHash) {
  fetcher_.SetHash("h", {{"a", "1"}});
  ASSERT_EQ(Get("/v1/hashes/h").result(), HttpStatus::ok);
  cache_.Invalidate("h");
  fetcher_.SetDown(true);
  HttpResponse res = Get("/v1/hashes/h?fields=a");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Header(res, "X-Cache-Status"), "STALE");
  EXPECT_EQ(Body(res)["fields"]["a"], "1");
}

// --- POST /v1/lookup ---

TEST_F(ApiHandlerTest, LookupReportsEveryKeyInOrder) {
  fetcher_.SetString("hit", "1");
  fetcher_.SetString("miss", "2");
  ASSERT_EQ(Get("/v1/keys/hit").result(), HttpStatus::ok);
  clock_.Advance(absl::Milliseconds(1500));

  HttpResponse res = Lookup(Json{{"keys", {"hit", "miss", "none", "hit"}}});
  ASSERT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Header(res, "X-Cache-Status"), "MISS");
  EXPECT_EQ(Header(res, "Age"), "1");
  const Json results = Body(res)["results"];
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0], Json::parse(
                            R"({"key":"hit","status":"HIT","value":"1",
                                "age_ms":1500})"));
  EXPECT_EQ(results[1], Json::parse(
                            R"({"key":"miss","status":"MISS","value":"2",
                                "age_ms":0})"));
  EXPECT_EQ(results[2], Json::parse(
                            R"({"key":"none","status":"NOT_FOUND",
                                "value":null,"age_ms":0})"));
  EXPECT_EQ(results[3]["status"], "HIT");
}

TEST_F(ApiHandlerTest, LookupAllHitsIsHit) {
  fetcher_.SetString("a", "1");
  ASSERT_EQ(Get("/v1/keys/a").result(), HttpStatus::ok);
  HttpResponse res = Lookup(Json{{"keys", Json::array({"a"})}});
  EXPECT_EQ(Header(res, "X-Cache-Status"), "HIT");
  res = Lookup(Json{{"keys", Json::array()}});
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), R"({"results":[]})");
}

TEST_F(ApiHandlerTest, LookupNonUtf8ValueIsBase64) {
  fetcher_.SetString("bin", "\x80\x81");
  fetcher_.SetString("txt", "caf\xc3\xa9");
  HttpResponse res = Lookup(Json{{"keys", {"bin", "txt"}}});
  const Json results = Body(res)["results"];
  EXPECT_EQ(results[0]["value"], absl::Base64Escape("\x80\x81"));
  EXPECT_EQ(results[0]["encoding"], "base64");
  EXPECT_EQ(results[1]["value"], "caf\xc3\xa9");
  EXPECT_FALSE(results[1].contains("encoding"));
}

TEST_F(ApiHandlerTest, LookupBase64Keys) {
  const std::string key("\x00\xff\x10", 3);
  fetcher_.SetString(key, "v");
  const std::string encoded = absl::Base64Escape(key);
  HttpResponse res =
      Lookup(Json{{"keys", Json::array({encoded})}, {"encoding", "base64"}});
  ASSERT_EQ(res.result(), HttpStatus::ok);
  const Json result = Body(res)["results"][0];
  EXPECT_EQ(result["key"], encoded);  // echoed as sent
  EXPECT_EQ(result["status"], "MISS");
  EXPECT_EQ(result["value"], "v");
  EXPECT_THAT(fetcher_.requested(), ElementsAre(key));
}

TEST_F(ApiHandlerTest, LookupHashes) {
  fetcher_.SetHash("h", {{"a", "1"}, {"b", "\xff"}});
  fetcher_.SetHash("g", {{"x", "y"}});
  fetcher_.SetString("s", "v");
  HttpResponse res = Lookup(Json{{"keys", {"g", "h", "s"}}, {"type", "hash"}});
  ASSERT_EQ(res.result(), HttpStatus::ok);
  const Json results = Body(res)["results"];
  EXPECT_EQ(results[0]["value"], Json::parse(R"({"x":"y"})"));
  EXPECT_FALSE(results[0].contains("encoding"));
  EXPECT_EQ(results[1]["encoding"], "base64");
  EXPECT_EQ(results[1]["value"][absl::Base64Escape("b")],
            absl::Base64Escape("\xff"));
  EXPECT_EQ(results[2]["status"], "ERROR");
  EXPECT_TRUE(results[2]["value"].is_null());
  EXPECT_THAT(results[2]["error"].get<std::string>(), HasSubstr("WRONGTYPE"));
}

TEST_F(ApiHandlerTest, LookupWithRedisDown) {
  fetcher_.SetString("old", "v");
  ASSERT_EQ(Get("/v1/keys/old").result(), HttpStatus::ok);
  clock_.Advance(absl::Seconds(40));
  fetcher_.SetDown(true);
  HttpResponse res = Lookup(Json{{"keys", {"old", "new"}}});
  ASSERT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Header(res, "X-Cache-Status"), "STALE");
  EXPECT_EQ(Header(res, "Age"), "40");
  const Json results = Body(res)["results"];
  EXPECT_EQ(results[0]["status"], "STALE");
  EXPECT_EQ(results[0]["value"], "v");
  EXPECT_EQ(results[0]["age_ms"], 40000);
  EXPECT_EQ(results[1]["status"], "ERROR");
  EXPECT_TRUE(results[1]["value"].is_null());
  EXPECT_THAT(results[1]["error"].get<std::string>(),
              HasSubstr("Redis unavailable"));
}

TEST_F(ApiHandlerTest, LookupRejectsBadBodies) {
  const std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      R"({"key": ["a"]})",
      R"({"keys": "a"})",
      R"({"keys": ["a", 1]})",
      R"({"keys": ["a"], "encoding": "hex"})",
      R"({"keys": ["!!"], "encoding": "base64"})",
      R"({"keys": ["a"], "type": "list"})",
      R"({"keys": ["a"], "type": 1})",
  };
  for (const std::string& body : bad) {
    HttpResponse res = Call(http::verb::post, "/v1/lookup", body);
    EXPECT_EQ(res.result(), HttpStatus::bad_request) << body;
    EXPECT_TRUE(Body(res).contains("error")) << body;
  }
  EXPECT_TRUE(fetcher_.requested().empty());
}

TEST_F(ApiHandlerTest, LookupLimitsTheNumberOfKeys) {
  Json keys = Json::array();
  for (size_t i = 0; i <= kMaxLookupKeys; ++i) keys.push_back("k");
  HttpResponse res = Lookup(Json{{"keys", keys}});
  EXPECT_EQ(res.result(), HttpStatus::bad_request);
  EXPECT_THAT(Body(res)["error"].get<std::string>(), HasSubstr("too many"));
  keys.erase(keys.size() - 1);
  EXPECT_EQ(Lookup(Json{{"keys", keys}}).result(), HttpStatus::ok);
}

// --- routing ---

TEST_F(ApiHandlerTest, UnknownPathIs404) {
  for (const char* target : {"/", "/v1/keys", "/v2/keys/a", "/v1/lookup/x"}) {
    HttpResponse res = Get(target);
    EXPECT_EQ(res.result(), HttpStatus::not_found) << target;
    EXPECT_TRUE(Body(res).contains("error")) << target;
  }
}

TEST_F(ApiHandlerTest, WrongMethodIs405WithAllow) {
  HttpResponse res = Call(http::verb::post, "/v1/keys/a");
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(Header(res, "Allow"), "GET");
  res = Call(http::verb::delete_, "/v1/hashes/a");
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(Header(res, "Allow"), "GET");
  res = Get("/v1/lookup");
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(Header(res, "Allow"), "POST");
  EXPECT_TRUE(Body(res).contains("error"));
}

TEST_F(ApiHandlerTest, RequestsAreCountedByRoute) {
  Get("/v1/keys/a");
  Get("/v1/keys/b");
  Get("/v1/hashes/h");
  Lookup(Json{{"keys", Json::array({"a"})}});
  Get("/nope");
  EXPECT_EQ(metrics_.requests.value(0), 2u);  // keys
  EXPECT_EQ(metrics_.requests.value(1), 1u);  // hashes
  EXPECT_EQ(metrics_.requests.value(2), 1u);  // lookup
  EXPECT_EQ(metrics_.requests.value(3), 1u);  // other
  EXPECT_EQ(metrics_.duration.Take().count, 5u);
}

}  // namespace
}  // namespace nearcache
