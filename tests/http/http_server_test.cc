// HttpServer over a real Unix socket (and TCP): keep-alive, pipelining,
// limits, malformed requests, Stop() and Drain(). The client is a plain
// socket so that tests control every byte; one test drives the API with
// curl as a user would.
#include "http/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/api_handler.h"
#include "nearcache/cache.h"
#include "tests/fakes/manual_clock.h"
#include "tests/http/fake_fetcher.h"
#include "tests/http/http_test_client.h"

namespace nearcache {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

// Polls `done` until it holds or a generous bound passes; returns done().
bool WaitFor(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!done() && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(2));
  return done();
}

std::string Header(const HttpResponse& res, const char* name) {
  auto it = res.find(name);
  return it == res.end() ? "<none>" : std::string(it->value());
}

std::string Get(absl::string_view target) {
  return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/nearcache-http-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/http.sock";
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    release_ = true;
    server_.reset();
    guard_.reset();
    io_.stop();
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  void StartServer(HttpServerOptions options = {}) {
    if (options.unix_path.empty() && options.tcp_address.empty()) {
      options.unix_path = path_;
    }
    server_ = std::make_unique<HttpServer>(
        options, [this](HttpRequest& r) { return Handle(r); },
        std::vector<asio::io_context*>{&io_});
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // /slow waits for release_; /throw throws; anything else echoes.
  asio::awaitable<HttpResponse> Handle(HttpRequest& request) {
    const std::string target(request.target());
    ++handled_;
    if (target == "/slow") {
      entered_ = true;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (!release_) {
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::use_awaitable);
      }
    }
    if (target == "/throw") throw std::runtime_error("boom");
    co_return MakeResponse(HttpStatus::ok, "text/plain",
                           absl::StrCat(std::string(request.method_string()),
                                        " ", target, " ", request.body()));
  }

  bool Connect(HttpTestClient& client) { return client.ConnectUnix(path_); }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_ =
      asio::make_work_guard(io_);
  std::thread thread_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> entered_{false};
  std::atomic<int> handled_{0};
  std::atomic<bool> release_{false};
};

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/a")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::ok);
  EXPECT_EQ(res->body(), "GET /a ");
  EXPECT_TRUE(res->keep_alive());
  ASSERT_TRUE(client.Send(Get("/b")));
  res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "GET /b ");
  EXPECT_EQ(server_->active_connections(), 1);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(
      Get("/slow") + Get("/2") +
      "POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" +
      Get("/4")));
  ASSERT_TRUE(WaitFor([&] { return entered_.load(); }));
  release_ = true;
  for (const char* want :
       {"GET /slow ", "GET /2 ", "POST /3 body", "GET /4 "}) {
    std::optional<HttpResponse> res = client.ReadResponse();
    ASSERT_TRUE(res.has_value()) << want;
    EXPECT_EQ(res->body(), want);
  }
}

TEST_F(HttpServerTest, OversizedHeaderIs431AndCloses) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(absl::StrCat(
      "GET / HTTP/1.1\r\nX-Big: ", std::string(10000, 'a'), "\r\n\r\n")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::request_header_fields_too_large);
  EXPECT_EQ(Header(*res, "Content-Type"), "application/json");
  EXPECT_THAT(res->body(), HasSubstr("\"error\""));
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, OversizedBodyIs413AndCloses) {
  HttpServerOptions options;
  options.body_limit = 1000;
  StartServer(options);
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n" +
      std::string(500, 'b')));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::payload_too_large);
  EXPECT_THAT(res->body(), HasSubstr("too large"));
  EXPECT_TRUE(client.WaitForClose());

  // Chunked: the limit applies to the decoded body as it arrives.
  HttpTestClient chunked;
  ASSERT_TRUE(Connect(chunked));
  ASSERT_TRUE(chunked.Send(
      "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3e8\r\n" +
      std::string(1000, 'c') + "\r\n1\r\nd\r\n0\r\n\r\n"));
  res = chunked.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::payload_too_large);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndOthersAreStillServed) {
  StartServer();
  HttpTestClient other;
  ASSERT_TRUE(Connect(other));
  ASSERT_TRUE(other.Send(Get("/before")));
  ASSERT_TRUE(other.ReadResponse().has_value());

  for (const char* bad :
       {"GET /x HTTP/1.1\r\nBad Header\r\n\r\n", "\x01\x02 garbage\r\n\r\n",
        "GET /x HTTP/1.1\r\nContent-Length: zz\r\n\r\n"}) {
    HttpTestClient client;
    ASSERT_TRUE(Connect(client));
    ASSERT_TRUE(client.Send(bad));
    std::optional<HttpResponse> res = client.ReadResponse();
    ASSERT_TRUE(res.has_value()) << bad;
    EXPECT_EQ(res->result(), HttpStatus::bad_request) << bad;
    EXPECT_THAT(res->body(), HasSubstr("\"error\"")) << bad;
    EXPECT_TRUE(client.WaitForClose()) << bad;
  }

  ASSERT_TRUE(other.Send(Get("/after")));
  std::optional<HttpResponse> res = other.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "GET /after ");
  HttpTestClient fresh;
  ASSERT_TRUE(Connect(fresh));
  ASSERT_TRUE(fresh.Send(Get("/fresh")));
  EXPECT_TRUE(fresh.ReadResponse().has_value());
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(
      client.Send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  "Expect: 100-continue\r\n\r\n"));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::continue_);
  ASSERT_TRUE(client.Send("hello"));
  res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "POST /e hello");
}

TEST_F(HttpServerTest, Http10ClosesAfterTheResponse) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->version(), 10u);
  EXPECT_EQ(res->body(), "GET /old ");
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(
      client.Send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  StartServer();
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/throw") + Get("/ok")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::internal_server_error);
  res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "GET /ok ");
}

TEST_F(HttpServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(50);
  StartServer(options);
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/a")));
  ASSERT_TRUE(client.ReadResponse().has_value());
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  HttpTestClient first;
  ASSERT_TRUE(Connect(first));
  ASSERT_TRUE(first.Send(Get("/1")));
  ASSERT_TRUE(first.ReadResponse().has_value());

  HttpTestClient second;
  ASSERT_TRUE(Connect(second));
  std::optional<HttpResponse> res = second.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::service_unavailable);
  EXPECT_EQ(nlohmann::json::parse(res->body())["error"],
            "too many connections");

  ASSERT_TRUE(first.Send(Get("/2")));
  EXPECT_TRUE(first.ReadResponse().has_value());
}

TEST_F(HttpServerTest, ServesTcp) {
  HttpServerOptions options;
  options.tcp_address = "127.0.0.1:0";
  StartServer(options);
  ASSERT_NE(server_->tcp_port(), 0);
  HttpTestClient client;
  ASSERT_TRUE(client.ConnectTcp(server_->tcp_port()));
  ASSERT_TRUE(client.Send(Get("/tcp")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "GET /tcp ");
}

TEST_F(HttpServerTest, PeerOfAnotherUserGets403AndIsDisconnected) {
  HttpServerOptions options;
  options.unix_path = path_;
  options.allowed_uids = {getuid() + 1};
  StartServer(options);
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/a") + Get("/b")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::forbidden);
  EXPECT_EQ(Header(*res, "Content-Type"), "application/json");
  EXPECT_THAT(nlohmann::json::parse(res->body())["error"].get<std::string>(),
              HasSubstr("allowed_uids"));
  EXPECT_FALSE(res->keep_alive());
  // Nothing more is answered.
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));

  // A client that sends nothing yet is refused the same way once it asks.
  HttpTestClient late;
  ASSERT_TRUE(Connect(late));
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(late.Send(Get("/late")));
  res = late.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::forbidden);
  EXPECT_TRUE(late.WaitForClose());
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(HttpServerTest, PeerOfAnAllowedUserIsServed) {
  HttpServerOptions options;
  options.unix_path = path_;
  options.allowed_uids = {getuid() + 1, getuid()};
  StartServer(options);
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/a") + Get("/b")));
  for (const char* want : {"GET /a ", "GET /b "}) {
    std::optional<HttpResponse> res = client.ReadResponse();
    ASSERT_TRUE(res.has_value()) << want;
    EXPECT_EQ(res->result(), HttpStatus::ok);
    EXPECT_EQ(res->body(), want);
  }
}

TEST_F(HttpServerTest, AllowedUidsDoNotApplyToTcp) {
  HttpServerOptions options;
  options.tcp_address = "127.0.0.1:0";
  options.allowed_uids = {getuid() + 1};
  StartServer(options);
  HttpTestClient client;
  ASSERT_TRUE(client.ConnectTcp(server_->tcp_port()));
  ASSERT_TRUE(client.Send(Get("/tcp")));
  std::optional<HttpResponse> res = client.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), HttpStatus::ok);
}

TEST_F(HttpServerTest, StopRemovesTheSocketFileAndStopsAccepting) {
  StartServer();
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  server_->Stop();
  EXPECT_NE(stat(path_.c_str(), &st), 0);
  HttpTestClient client;
  EXPECT_FALSE(Connect(client));
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StartErrorsNameThePath) {
  HttpServerOptions options;
  options.unix_path = dir_ + "/missing/http.sock";
  HttpServer server(options, [this](HttpRequest& r) { return Handle(r); },
                    {&io_});
  absl::Status s = server.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(options.unix_path));

  HttpServerOptions tcp;
  tcp.tcp_address = "not-an-address";
  HttpServer bad_tcp(tcp, [this](HttpRequest& r) { return Handle(r); }, {&io_});
  s = bad_tcp.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("not-an-address"));
}

TEST_F(HttpServerTest, ASecondServerDoesNotStealOrRemoveALiveSocket) {
  StartServer();
  {
    HttpServerOptions options;
    options.unix_path = path_;
    HttpServer second(options, [this](HttpRequest& r) { return Handle(r); },
                      {&io_});
    EXPECT_FALSE(second.Start().ok());
  }  // destroyed: must not unlink the first server's socket
  HttpTestClient client;
  ASSERT_TRUE(Connect(client));
  ASSERT_TRUE(client.Send(Get("/still")));
  EXPECT_TRUE(client.ReadResponse().has_value());
}

TEST_F(HttpServerTest, DrainClosesIdleConnectionsAndFinishesInFlightOnes) {
  StartServer();
  HttpTestClient idle;
  ASSERT_TRUE(Connect(idle));
  ASSERT_TRUE(idle.Send(Get("/a")));
  ASSERT_TRUE(idle.ReadResponse().has_value());
  HttpTestClient busy;
  ASSERT_TRUE(Connect(busy));
  ASSERT_TRUE(busy.Send(Get("/slow")));
  ASSERT_TRUE(WaitFor([&] { return entered_.load(); }));
  ASSERT_EQ(server_->active_connections(), 2);

  server_->Stop();
  server_->Drain();
  EXPECT_TRUE(idle.WaitForClose());
  release_ = true;
  std::optional<HttpResponse> res = busy.ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "GET /slow ");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(busy.WaitForClose());
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

// The API end to end, as a user runs it.
TEST_F(HttpServerTest, CurlReadsABinaryKeyThroughTheApi) {
  if (system("curl --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "curl not installed";
  }
  ManualClock clock;
  ShardedLruCache cache(CacheOptions{}, &clock);
  FakeFetcher fetcher(&cache);
  LookupCounters counters;
  ApiContext api;
  api.cache = &cache;
  api.fetcher = &fetcher;
  api.counters = &counters;
  fetcher.SetString(std::string("user\0"
                                "42",
                                7),
                    "features");

  HttpServerOptions options;
  options.unix_path = path_;
  server_ = std::make_unique<HttpServer>(options, MakeApiHandler(&api),
                                         std::vector<asio::io_context*>{&io_});
  ASSERT_TRUE(server_->Start().ok());

  auto run = [&](const std::string& args) {
    const std::string command = absl::StrCat(
        "curl -sS -i --max-time 20 --unix-socket ", path_, " ", args, " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    pclose(pipe);
    return out;
  };
  std::string out = run("'http://x/v1/keys/user%0042'");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(out, HasSubstr("X-Cache-Status: MISS"));
  EXPECT_THAT(out, HasSubstr("Age: 0"));
  EXPECT_THAT(out, HasSubstr("\r\n\r\nfeatures"));

  out =
      run("-H 'Content-Type: application/json' "
          "-d '{\"keys\": [\"dXNlcgA0Mg==\", \"bm9uZQ==\"], \"encoding\": "
          "\"base64\"}'"
          " http://x/v1/lookup");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(out, HasSubstr("X-Cache-Status: MISS"));
  EXPECT_THAT(out, HasSubstr(R"("status":"HIT","value":"features")"));
  EXPECT_THAT(out, HasSubstr(R"("key":"bm9uZQ==","status":"NOT_FOUND")"));

  out = run("http://x/v1/nothing");
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 404 Not Found"));
  server_.reset();  // before `api` goes away
}

}  // namespace
}  // namespace nearcache
