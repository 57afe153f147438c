// The admin routes as a plain function, with callbacks standing in for the
// application.
#include "http/admin_handler.h"

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "gtest/gtest.h"

namespace nearcache {
namespace {

namespace http = boost::beast::http;
using Json = nlohmann::json;

std::string Header(const HttpResponse& res, const char* name) {
  auto it = res.find(name);
  return it == res.end() ? "<none>" : std::string(it->value());
}

class AdminHandlerTest : public ::testing::Test {
 protected:
  AdminHandlerTest() {
    callbacks_.metrics = [this] { return metrics_text_; };
    callbacks_.alive = [this] { return alive_; };
    callbacks_.ready = [this] { return ready_; };
    callbacks_.config = [] { return std::string("cache:\n  ttl: 30s\n"); };
    ready_.ready = true;
    ready_.redis_up = true;
    ready_.invalidation_link_up = true;
  }

  HttpResponse Call(const std::string& target,
                    http::verb method = http::verb::get) {
    HttpRequest req(method, target, 11);
    return HandleAdminRequest(callbacks_, req);
  }

  AdminCallbacks callbacks_;
  std::string metrics_text_ =
      "# TYPE nearcache_redis_up gauge\nnearcache_redis_up 1\n";
  bool alive_ = true;
  ReadyState ready_;
};

TEST_F(AdminHandlerTest, Metrics) {
  HttpResponse res = Call("/metrics");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), metrics_text_);
  EXPECT_EQ(Header(res, "Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Call("/metrics?name[]=x").body(), metrics_text_);
}

TEST_F(AdminHandlerTest, Healthz) {
  HttpResponse res = Call("/healthz");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), "ok\n");
  alive_ = false;
  EXPECT_EQ(Call("/healthz").result(), HttpStatus::service_unavailable);
}

TEST_F(AdminHandlerTest, ReadyzReportsRedisAndStaysReadyWhileServingStale) {
  HttpResponse res = Call("/readyz");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Header(res, "Content-Type"), "application/json");
  EXPECT_EQ(res.body(),
            R"({"ready":true,"redis":"up","invalidation_link":"up",)"
            R"("serving_stale":false})");

  ready_.redis_up = false;
  ready_.invalidation_link_up = false;
  ready_.serving_stale = true;
  res = Call("/readyz");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(Json::parse(res.body()),
            Json::parse(R"({"ready":true,"redis":"down",
                            "invalidation_link":"down",
                            "serving_stale":true})"));

  ready_.ready = false;
  res = Call("/readyz");
  EXPECT_EQ(res.result(), HttpStatus::service_unavailable);
  EXPECT_EQ(Json::parse(res.body())["ready"], false);
}

TEST_F(AdminHandlerTest, Config) {
  HttpResponse res = Call("/config");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(res.body(), "cache:\n  ttl: 30s\n");
  EXPECT_EQ(Header(res, "Content-Type"), "text/yaml; charset=utf-8");
}

TEST_F(AdminHandlerTest, UnknownPathsMethodsAndUnsetCallbacks) {
  HttpResponse res = Call("/nope");
  EXPECT_EQ(res.result(), HttpStatus::not_found);
  EXPECT_TRUE(Json::parse(res.body()).contains("error"));

  res = Call("/metrics", http::verb::post);
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(Header(res, "Allow"), "GET");

  callbacks_.config = nullptr;
  EXPECT_EQ(Call("/config").result(), HttpStatus::not_found);
}

}  // namespace
}  // namespace nearcache
