// The HTTP API and the admin port end to end: the real nearcache binary in
// front of a real redis-server, with curl as the client (over the HTTP Unix
// socket, HTTP over TCP and the admin TCP port), as a model container, the
// kubelet and Prometheus use them. Also: /metrics parsed by a strict
// Prometheus text parser and checked against known traffic, SIGHUP reloads
// under load, and SIGTERM with an HTTP request in flight.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"
#include "tests/fakes/subprocess.h"
#include "tests/integration/prometheus_text.h"
#include "tests/integration/raw_resp.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr absl::Duration kPollLimit = absl::Seconds(20);
constexpr char kCurl[] = "/usr/bin/curl";

// Polls `done` every 10 ms until it holds or kPollLimit passes.
template <typename Fn>
bool Eventually(Fn done) {
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

// ---- curl ----

struct CurlResult {
  int exit_code = -1;  // curl's; -1 when it did not run or was killed
  int status = 0;      // the HTTP status of the final response
  // Header names lower-cased, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string err;  // what curl wrote on stderr

  std::optional<std::string> Header(absl::string_view name) const {
    const std::string lower = absl::AsciiStrToLower(name);
    for (const auto& [n, v] : headers) {
      if (n == lower) return v;
    }
    return std::nullopt;
  }
  Json JsonBody() const {
    return Json::parse(body, nullptr, /*allow_exceptions=*/false);
  }
  std::string Describe() const {
    return absl::StrCat("curl exit ", exit_code, ", HTTP ", status,
                        ", stderr: ", err, ", body: ", absl::CHexEscape(body));
  }
};

// Splits curl -i output into the last response's status, headers and body
// (a "100 Continue" before it is skipped).
void ParseCurlOutput(const std::string& out, CurlResult* r) {
  absl::string_view rest = out;
  while (absl::StartsWith(rest, "HTTP/")) {
    const size_t end = rest.find("\r\n\r\n");
    if (end == absl::string_view::npos) return;
    absl::string_view head = rest.substr(0, end);
    rest.remove_prefix(end + 4);
    std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
    std::vector<absl::string_view> status_line =
        absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    r->status = 0;
    r->headers.clear();
    if (status_line.size() >= 2)
      (void)absl::SimpleAtoi(status_line[1], &r->status);
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      r->headers.emplace_back(
          absl::AsciiStrToLower(lines[i].substr(0, colon)),
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    if (r->status >= 200) break;
  }
  r->body = std::string(rest);
}

// Runs curl with `args` (after -sS -i --max-time 30), without a shell, and
// returns what it got. Any thread.
CurlResult Curl(const std::vector<std::string>& args) {
  CurlResult r;
  std::vector<std::string> argv = {kCurl, "-sS", "-i", "--max-time", "30"};
  argv.insert(argv.end(), args.begin(), args.end());
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return r;
  }
  const pid_t pid = SpawnChild(std::move(argv), out[1], err[1]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    return r;
  }
  std::string stdout_bytes;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 60000) <= 0) break;  // curl's own --max-time is 30 s
    for (pollfd& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      char buf[8192];
      const ssize_t n = read(p.fd, buf, sizeof(buf));
      if (n > 0) {
        (p.fd == out[0] ? stdout_bytes : r.err).append(buf, n);
      } else if (n == 0 || errno != EINTR) {
        close(p.fd);
        p.fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) {
      close(p.fd);
      kill(pid, SIGKILL);
    }
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus)) r.exit_code = WEXITSTATUS(wstatus);
  ParseCurlOutput(stdout_bytes, &r);
  return r;
}

// ---- the fixture ----

std::string MakeTempDir() {
  std::string templ = "/tmp/nearcache-e2e-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return "";
  return templ;
}

using Overrides = std::vector<std::pair<std::string, std::string>>;

class AdminE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kCurl, X_OK) != 0) GTEST_SKIP() << kCurl << " not installed";
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    http_socket_ = dir_ + "/http.sock";
    admin_port_ = PickFreeTcpPort();
    do {
      http_port_ = PickFreeTcpPort();
    } while (http_port_ == admin_port_);
    ASSERT_NE(admin_port_, 0);
    ASSERT_NE(http_port_, 0);
  }

  void TearDown() override {
    nearcache_.reset();
    redis_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  void StartRedis(RedisServerOptions options = {}) {
    redis_ = std::make_unique<RedisServerProcess>(std::move(options));
    absl::Status s = redis_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // The listeners of this fixture plus `extra` (which wins).
  Overrides WithListeners(const Overrides& extra) const {
    Overrides all = {
        {"listen.http_socket", absl::StrCat("\"", http_socket_, "\"")},
        {"listen.http_tcp", absl::StrCat("127.0.0.1:", http_port_)},
        {"admin.address", absl::StrCat("127.0.0.1:", admin_port_)},
    };
    MergeOverrides(&all, extra);
    return all;
  }

  void StartNearcache(const Overrides& overrides = {},
                      std::vector<std::pair<std::string, std::string>> env = {},
                      bool wait_for_redis = true) {
    NearcacheOptions options;
    options.redis_address = "unix://" + redis_->unix_path();
    options.overrides = WithListeners(overrides);
    options.env = std::move(env);
    options.wait_for_redis = wait_for_redis;
    nearcache_ = std::make_unique<NearcacheProcess>(options);
    absl::Status s = nearcache_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // GET (or what `extra` says) on the API over the HTTP Unix socket.
  CurlResult Api(const std::string& path_and_query,
                 std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--unix-socket", http_socket_};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("http://nearcache" + path_and_query);
    return Curl(args);
  }
  // The same over listen.http_tcp.
  CurlResult ApiTcp(const std::string& path_and_query,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = std::move(extra);
    args.push_back(
        absl::StrCat("http://127.0.0.1:", http_port_, path_and_query));
    return Curl(args);
  }
  CurlResult Lookup(const std::string& json_body) {
    return Api("/v1/lookup", {"-H", "Content-Type: application/json",
                              "--data-binary", json_body});
  }
  CurlResult Admin(const std::string& path,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = std::move(extra);
    args.push_back(absl::StrCat("http://127.0.0.1:", admin_port_, path));
    return Curl(args);
  }

  // A /metrics scrape, parsed strictly; fails the test when it does not
  // parse.
  PromExposition Scrape() {
    CurlResult r = Admin("/metrics");
    EXPECT_EQ(r.status, 200) << r.Describe();
    EXPECT_THAT(r.Header("content-type").value_or(""),
                HasSubstr("text/plain; version=0.0.4"));
    absl::StatusOr<PromExposition> e = ParsePrometheusText(r.body);
    EXPECT_TRUE(e.ok()) << e.status() << "\n" << r.body;
    return e.ok() ? *std::move(e) : PromExposition{};
  }

  // A sample's value; a missing sample fails the test and reads as NaN.
  static double Metric(const PromExposition& e, absl::string_view name,
                       const PromLabels& labels = {}) {
    std::optional<double> v = e.Value(name, labels);
    EXPECT_TRUE(v.has_value()) << "no sample " << name;
    return v.value_or(std::numeric_limits<double>::quiet_NaN());
  }

  void Set(const std::string& key, const std::string& value) {
    ASSERT_FALSE(redis_->Command({"SET", key, value}).is_error());
  }

  std::string dir_;
  std::string http_socket_;
  int admin_port_ = 0;
  int http_port_ = 0;
  std::unique_ptr<RedisServerProcess> redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
};

// ---- the parser itself: it must refuse what Prometheus refuses ----

TEST(PrometheusTextParserTest, AcceptsAWellFormedExposition) {
  absl::StatusOr<PromExposition> e = ParsePrometheusText(
      "# HELP a_total Things \\\\ done\\nsecond line.\n"
      "# TYPE a_total counter\n"
      "a_total{x=\"q\\\"uote\\\\ \\n\",y=\"\",} 3 1700000000000\n"
      "a_total{x=\"2\"} +Inf\n"
      "# a comment\n"
      "\n"
      "# TYPE g gauge\n"
      "g -1.5e-3\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"0.1\"} 1\n"
      "h_bucket{le=\"1\"} 3\n"
      "h_bucket{le=\"+Inf\"} 3\n"
      "h_sum 1.25\n"
      "h_count 3\n"
      "# TYPE s summary\n"
      "s{quantile=\"0.5\"} NaN\n"
      "s_sum 0\n"
      "s_count 0\n");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->families.at("a_total").help, "Things \\ done\nsecond line.");
  EXPECT_EQ(e->Value("a_total", {{"x", "q\"uote\\ \n"}, {"y", ""}}), 3);
  EXPECT_TRUE(std::isinf(*e->Value("a_total", {{"x", "2"}})));
  EXPECT_EQ(e->Value("g"), -0.0015);
  EXPECT_EQ(e->Value("h_bucket", {{"le", "1"}}), 3);
  EXPECT_EQ(e->Value("h_count"), 3);
  EXPECT_TRUE(std::isnan(*e->Value("s", {{"quantile", "0.5"}})));
  EXPECT_EQ(e->Value("g", {{"x", "y"}}), std::nullopt);
}

TEST(PrometheusTextParserTest, RefusesEveryViolation) {
  const std::pair<const char*, const char*> bad[] = {
      {"no TYPE", "a 1\n"},
      {"HELP only", "# HELP a x\na 1\n"},
      {"no final newline", "# TYPE a gauge\na 1"},
      {"bad name", "# TYPE 1a gauge\n1a 1\n"},
      {"bad label name", "# TYPE a gauge\na{1x=\"1\"} 1\n"},
      {"reserved label", "# TYPE a gauge\na{__x=\"1\"} 1\n"},
      {"bad escape", "# TYPE a gauge\na{x=\"\\t\"} 1\n"},
      {"unterminated", "# TYPE a gauge\na{x=\"1} 1\n"},
      {"label twice", "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n"},
      {"bad value", "# TYPE a gauge\na 1.2.3\n"},
      {"hex value", "# TYPE a gauge\na 0x10\n"},
      {"no value", "# TYPE a gauge\na\n"},
      {"junk after", "# TYPE a gauge\na 1 2 3\n"},
      {"bad timestamp", "# TYPE a gauge\na 1 1.5\n"},
      {"duplicate series", "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n"},
      {"duplicate TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n"},
      {"duplicate HELP", "# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n"},
      {"TYPE after samples", "# TYPE a gauge\na 1\n# TYPE a gauge\n"},
      {"unknown type", "# TYPE a meter\na 1\n"},
      {"not contiguous",
       "# TYPE a gauge\n# TYPE b gauge\na{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n"},
      {"negative counter", "# TYPE a_total counter\na_total -1\n"},
      {"bucket decreases",
       "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
       "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"},
      {"no +Inf bucket",
       "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n"},
      {"+Inf != count",
       "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"},
      {"no sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n"},
      {"no count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 2\n"},
      {"bucket without le", "# TYPE h histogram\nh_bucket 2\n"},
      {"le not a number",
       "# TYPE h histogram\nh_bucket{le=\"x\"} 2\nh_sum 1\nh_count 2\n"},
      {"histogram sample named like the family", "# TYPE h histogram\nh 2\n"},
      {"carriage return", "# TYPE a gauge\na 1\r\n"},
  };
  for (const auto& [why, text] : bad) {
    EXPECT_FALSE(ParsePrometheusText(text).ok()) << why << ":\n" << text;
  }
}

// ---- the API with curl ----

TEST_F(AdminE2eTest, ApiAnswersCurlOverTheUnixSocketAndTcp) {
  StartRedis();
  StartNearcache({{"cache.ttl", "60s"}});
  Set("user:1", "alice");
  ASSERT_FALSE(redis_->Command({"HSET", "h:1", "a", "1", "b", "2"}).is_error());
  const std::string binary("\xff\xfe\x00z", 4);
  Set("bin", binary);
  Set(std::string("nul\0key", 7), "found by %00");

  // A miss, then a hit, with the headers every lookup response carries.
  CurlResult r = Api("/v1/keys/user:1");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "alice");
  EXPECT_EQ(r.Header("content-type"), "application/octet-stream");
  EXPECT_EQ(r.Header("x-cache-status"), "MISS");
  EXPECT_EQ(r.Header("age"), "0");
  r = Api("/v1/keys/user:1");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "alice");
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");
  ASSERT_TRUE(r.Header("age").has_value());

  // Binary values come back byte for byte; a NUL in the key as %00.
  r = Api("/v1/keys/bin");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, binary);
  r = Api("/v1/keys/nul%00key");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "found by %00");

  // Missing keys: 404 with a JSON error; the second time from the cache.
  r = Api("/v1/keys/absent");
  EXPECT_EQ(r.status, 404) << r.Describe();
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_TRUE(r.JsonBody().contains("error")) << r.body;
  EXPECT_EQ(r.Header("x-cache-status"), "MISS");
  r = Api("/v1/keys/absent");
  EXPECT_EQ(r.status, 404) << r.Describe();
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");

  // Hashes: some fields, all fields, and the wrong type.
  r = Api("/v1/hashes/h:1?fields=a,c");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody(), Json::parse(R"({"fields": {"a": "1", "c": null}})"));
  EXPECT_EQ(r.Header("x-cache-status"), "MISS");
  r = Api("/v1/hashes/h:1");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody(), Json::parse(R"({"fields": {"a": "1", "b": "2"}})"));
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");
  r = Api("/v1/keys/h:1");
  EXPECT_EQ(r.status, 409) << r.Describe();
  EXPECT_THAT(r.JsonBody()["error"].get<std::string>(), HasSubstr("WRONGTYPE"));

  // POST /v1/lookup: one result per key, in order; not UTF-8 -> base64.
  Set("fresh", "new");
  r = Lookup(R"({"keys": ["user:1", "absent", "bin", "fresh"]})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Header("x-cache-status"), "MISS");  // "fresh" was read now
  Json body = r.JsonBody();
  ASSERT_EQ(body["results"].size(), 4u) << r.body;
  EXPECT_EQ(body["results"][0]["key"], "user:1");
  EXPECT_EQ(body["results"][0]["status"], "HIT");
  EXPECT_EQ(body["results"][0]["value"], "alice");
  EXPECT_FALSE(body["results"][0].contains("encoding"));
  EXPECT_EQ(body["results"][1]["status"], "NOT_FOUND");
  EXPECT_TRUE(body["results"][1]["value"].is_null());
  EXPECT_EQ(body["results"][2]["status"], "HIT");
  EXPECT_EQ(body["results"][2]["encoding"], "base64");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(
      body["results"][2]["value"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, binary);
  EXPECT_EQ(body["results"][3]["status"], "MISS");
  EXPECT_EQ(body["results"][3]["value"], "new");
  for (const Json& result : body["results"]) {
    EXPECT_TRUE(result["age_ms"].is_number_integer()) << result;
  }
  // Keys given in base64, a hash by type.
  r = Lookup(absl::StrCat(R"({"encoding": "base64", "keys": [")",
                          absl::Base64Escape(std::string("nul\0key", 7)),
                          R"("]})"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody()["results"][0]["value"], "found by %00") << r.body;
  r = Lookup(R"({"type": "hash", "keys": ["h:1"]})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody()["results"][0]["value"],
            Json::parse(R"({"a": "1", "b": "2"})"));
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");

  // Age counts whole seconds since the value was read from Redis.
  absl::SleepFor(absl::Milliseconds(1100));
  r = Api("/v1/keys/user:1");
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");
  int age = -1;
  ASSERT_TRUE(absl::SimpleAtoi(r.Header("age").value_or(""), &age));
  EXPECT_GE(age, 1);
  r = Lookup(R"({"keys": ["user:1"]})");
  EXPECT_GE(r.JsonBody()["results"][0]["age_ms"].get<int64_t>(), 1000)
      << r.body;

  // The same API over listen.http_tcp.
  r = ApiTcp("/v1/keys/user:1");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "alice");
  EXPECT_EQ(r.Header("x-cache-status"), "HIT");
  r = ApiTcp("/v1/lookup", {"--data-binary", R"({"keys": ["bin"]})"});
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody()["results"][0]["encoding"], "base64");

  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(std::filesystem::exists(http_socket_));
}

TEST_F(AdminE2eTest, BadRequestsGetJsonErrors) {
  StartRedis();
  StartNearcache({{"listen.http_max_header_bytes", "2KiB"},
                  {"listen.http_max_body_bytes", "1KiB"}});
  struct Case {
    const char* what;
    CurlResult result;
    int status;
  };
  const std::string big_key(1100, 'k');
  std::vector<Case> cases;
  cases.push_back({"invalid JSON", Lookup("{\"keys\": [1,"), 400});
  cases.push_back({"keys not an array", Lookup(R"({"keys": "a"})"), 400});
  cases.push_back({"a key not a string", Lookup(R"({"keys": ["a", 5]})"), 400});
  cases.push_back({"bad base64",
                   Lookup(R"({"encoding": "base64", "keys": ["***"]})"), 400});
  cases.push_back({"bad type", Lookup(R"({"type": "list", "keys": []})"), 400});
  cases.push_back({"bad percent-encoding", Api("/v1/keys/a%zz"), 400});
  cases.push_back({"no key", Api("/v1/keys/"), 400});
  cases.push_back({"wrong method", Api("/v1/lookup"), 405});
  cases.push_back({"wrong method", Api("/v1/keys/a", {"-X", "DELETE"}), 405});
  cases.push_back({"unknown path", Api("/v2/keys/a"), 404});
  // listen.http_max_body_bytes and listen.http_max_header_bytes apply.
  cases.push_back({"body over 1KiB",
                   Lookup(absl::StrCat(R"({"keys": [")", big_key, R"("]})")),
                   413});
  cases.push_back(
      {"header over 2KiB",
       Api("/v1/keys/a", {"-H", "X-Big: " + std::string(2100, 'h')}), 431});
  for (const Case& c : cases) {
    EXPECT_EQ(c.result.status, c.status)
        << c.what << ": " << c.result.Describe();
    EXPECT_EQ(c.result.Header("content-type"), "application/json") << c.what;
    Json body = c.result.JsonBody();
    EXPECT_TRUE(body.is_object() && body.contains("error") &&
                body["error"].is_string())
        << c.what << ": " << c.result.body;
  }
  // Under the limits, the same requests are served.
  CurlResult r =
      Lookup(absl::StrCat(R"({"keys": [")", std::string(900, 'k'), R"("]})"));
  EXPECT_EQ(r.status, 200) << r.Describe();
  r = Api("/v1/keys/a", {"-H", "X-Big: " + std::string(1500, 'h')});
  EXPECT_EQ(r.status, 404) << r.Describe();
  // No request broke the process.
  EXPECT_EQ(Admin("/healthz").status, 200);
}

TEST_F(AdminE2eTest, RedisDownUncachedIs503CachedIsStaleAndStillReady) {
  StartRedis();
  StartNearcache({{"cache.ttl", "300ms"},
                  {"cache.max_stale", "5m"},
                  {"redis.command_timeout", "300ms"},
                  {"redis.connect_timeout", "300ms"}});
  Set("cached", "old value");
  ASSERT_FALSE(redis_->Command({"HSET", "cached-hash", "f", "v"}).is_error());
  ASSERT_EQ(Api("/v1/keys/cached").status, 200);
  ASSERT_EQ(Api("/v1/hashes/cached-hash").status, 200);

  CurlResult ready = Admin("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.Describe();
  EXPECT_EQ(ready.JsonBody()["ready"], true) << ready.body;
  EXPECT_EQ(ready.JsonBody()["redis"], "up") << ready.body;
  EXPECT_EQ(ready.JsonBody()["serving_stale"], false) << ready.body;

  redis_->Kill();
  // nearcache notices and says so, and stays ready.
  ASSERT_TRUE(Eventually([&] {
    ready = Admin("/readyz");
    return ready.JsonBody().value("redis", "") == "down";
  })) << ready.Describe();
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.JsonBody()["ready"], true) << ready.body;
  EXPECT_EQ(ready.JsonBody()["serving_stale"], true) << ready.body;
  EXPECT_EQ(Admin("/healthz").status, 200);

  absl::SleepFor(absl::Milliseconds(400));  // past the ttl: only stale is left
  CurlResult r = Api("/v1/keys/cached");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "old value");
  EXPECT_EQ(r.Header("x-cache-status"), "STALE");
  r = Api("/v1/hashes/cached-hash");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.JsonBody(), Json::parse(R"({"fields": {"f": "v"}})"));
  EXPECT_EQ(r.Header("x-cache-status"), "STALE");

  r = Api("/v1/keys/never-cached");
  EXPECT_EQ(r.status, 503) << r.Describe();
  EXPECT_THAT(r.JsonBody().value("error", ""), HasSubstr("Redis unavailable"));
  r = Api("/v1/hashes/never-cached");
  EXPECT_EQ(r.status, 503) << r.Describe();

  r = Lookup(R"({"keys": ["cached", "never-cached"]})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Header("x-cache-status"), "STALE");
  Json body = r.JsonBody();
  EXPECT_EQ(body["results"][0]["status"], "STALE") << r.body;
  EXPECT_EQ(body["results"][0]["value"], "old value");
  EXPECT_GE(body["results"][0]["age_ms"].get<int64_t>(), 300);
  EXPECT_EQ(body["results"][1]["status"], "ERROR");
  EXPECT_TRUE(body["results"][1]["value"].is_null());
  EXPECT_THAT(body["results"][1].value("error", ""),
              HasSubstr("Redis unavailable"));

  PromExposition m = Scrape();
  EXPECT_EQ(Metric(m, "nearcache_redis_up"), 0);
  EXPECT_EQ(Metric(m, "nearcache_lookups_total", {{"result", "stale"}}), 3);
  EXPECT_EQ(Metric(m, "nearcache_lookups_total", {{"result", "error"}}), 3);

  // Back up: ready, fresh answers again.
  ASSERT_TRUE(redis_->Restart().ok());
  Set("cached", "new value");
  ASSERT_TRUE(Eventually(
      [&] { return Admin("/readyz").JsonBody().value("redis", "") == "up"; }));
  ASSERT_TRUE(Eventually([&] {
    r = Api("/v1/keys/cached");
    return r.body == "new value";
  })) << r.Describe();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.Header("x-cache-status"), "STALE");
}

// ---- admin: probes and the effective configuration ----

class AdminSecretTest : public AdminE2eTest,
                        public ::testing::WithParamInterface<bool> {};

TEST_P(AdminSecretTest, ProbesAndConfigNeverShowThePassword) {
  const bool from_file = GetParam();
  const std::string secret = "Sup3r-s3cret_pw-4-e2e";
  RedisServerOptions redis_options;
  redis_options.requirepass = secret;
  StartRedis(redis_options);
  Overrides overrides = {{"cache.ttl", "42s"},
                         {"cache.max_bytes", "3MiB"},
                         {"redis.pool_size", "2"}};
  std::vector<std::pair<std::string, std::string>> env;
  if (from_file) {
    const std::string file = dir_ + "/redis-password";
    std::ofstream(file) << secret << "\n";
    overrides.emplace_back("redis.password_file",
                           absl::StrCat("\"", file, "\""));
  } else {
    env.emplace_back("NEARCACHE_REDIS_PASSWORD", secret);
  }
  StartNearcache(overrides, env);  // waits for a read through an AUTH'ed pool
  Set("k", "v");
  EXPECT_EQ(Api("/v1/keys/k").body, "v");

  CurlResult r = Admin("/healthz");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body, "ok\n");
  r = Admin("/readyz");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Header("content-type"), "application/json");
  Json ready = r.JsonBody();
  EXPECT_EQ(ready["ready"], true) << r.body;
  EXPECT_EQ(ready["redis"], "up") << r.body;
  EXPECT_EQ(ready["serving_stale"], false) << r.body;
  EXPECT_TRUE(ready["invalidation_link"] == "up" ||
              ready["invalidation_link"] == "down")
      << r.body;

  r = Admin("/config");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_THAT(r.Header("cache-control").value_or(""), HasSubstr("no-store"));
  EXPECT_THAT(r.body, HasSubstr("  ttl: 42s\n"));
  EXPECT_THAT(r.body, HasSubstr("  max_bytes: 3MiB\n"));
  EXPECT_THAT(r.body, HasSubstr("  pool_size: 2\n"));
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat("127.0.0.1:", admin_port_)));
  EXPECT_THAT(r.body, HasSubstr(redis_->unix_path()));
  EXPECT_THAT(r.body, HasSubstr("<redacted>"));
  EXPECT_THAT(r.body, Not(HasSubstr(secret)));
  // The password is nowhere else either: not in other endpoints, not in
  // the log (debug level), not even in part.
  for (const char* path : {"/metrics", "/readyz", "/healthz", "/nothing"}) {
    EXPECT_THAT(Admin(path).body, Not(HasSubstr(secret))) << path;
  }
  EXPECT_EQ(Admin("/metrics", {"-X", "POST"}).status, 405);
  EXPECT_EQ(Admin("/nothing").status, 404);
  ASSERT_TRUE(nearcache_->WaitForLog("effective configuration"));
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  const std::string log = nearcache_->Log();
  EXPECT_THAT(log, Not(HasSubstr(secret)));
  EXPECT_THAT(log, Not(HasSubstr(secret.substr(0, 10))));
  EXPECT_THAT(log, Not(HasSubstr(absl::Base64Escape(secret))));
}

INSTANTIATE_TEST_SUITE_P(PasswordSource, AdminSecretTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "PasswordFile" : "Environment";
                         });

// ---- /metrics against known traffic ----

TEST_F(AdminE2eTest, MetricsParseStrictlyAndCountKnownTraffic) {
  StartRedis();
  StartNearcache({{"cache.ttl", "60s"},
                  {"cache.negative_ttl", "60s"},
                  {"cache.max_bytes", "8MiB"}});
  std::vector<std::string> keys;
  for (int i = 0; i < 7; ++i) {
    keys.push_back(absl::StrCat("m", i));
    Set(keys.back(), absl::StrCat("value-", i, "-", std::string(i * 10, 'x')));
  }
  Set("x0", "looked up over http");
  ASSERT_FALSE(
      redis_->Command({"HSET", "hh", "f1", "a", "f2", "bb"}).is_error());
  std::unique_ptr<RawRespConnection> resp =
      RawRespConnection::Connect(nearcache_->socket_path());
  ASSERT_NE(resp, nullptr);
  // The connection counts once nearcache has accepted it.
  ASSERT_TRUE(resp->Call({"PING"}).ok());

  const PromExposition before = Scrape();
  const int64_t redis_gets = redis_->CommandCalls("get");
  const int64_t redis_hgetalls = redis_->CommandCalls("hgetall");

  // RESP: 7 misses, then 11 hits.
  for (const std::string& k : keys) {
    absl::StatusOr<std::string> reply = resp->Call({"GET", k});
    ASSERT_TRUE(reply.ok()) << reply.status();
    ASSERT_THAT(*reply, HasSubstr("value-"));
  }
  for (int i = 0; i < 11; ++i) {
    absl::StatusOr<std::string> reply = resp->Call({"GET", keys[i % 7]});
    ASSERT_TRUE(reply.ok()) << reply.status();
  }
  // HTTP: 3 hits on /v1/keys, a lookup of 2 hits and 1 miss, a missing key
  // twice (a miss, then a negative hit), and a hash (a miss).
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Api("/v1/keys/m0").status, 200);
  CurlResult r = Lookup(R"({"keys": ["m1", "m2", "x0"]})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  ASSERT_EQ(Api("/v1/keys/absent").status, 404);
  ASSERT_EQ(Api("/v1/keys/absent").status, 404);
  ASSERT_EQ(Api("/v1/hashes/hh").status, 200);

  // Every curl has closed its connection.
  PromExposition after;
  ASSERT_TRUE(Eventually([&] {
    after = Scrape();
    return after.Value("nearcache_connections", {{"frontend", "http"}}) == 0;
  }));

  // Every family of the product design, with its type.
  const std::pair<const char*, const char*> families[] = {
      {"nearcache_lookups_total", "counter"},
      {"nearcache_requests_total", "counter"},
      {"nearcache_request_duration_seconds", "histogram"},
      {"nearcache_cache_entries", "gauge"},
      {"nearcache_cache_bytes", "gauge"},
      {"nearcache_cache_max_bytes", "gauge"},
      {"nearcache_evictions_total", "counter"},
      {"nearcache_invalidations_total", "counter"},
      {"nearcache_invalidation_link_up", "gauge"},
      {"nearcache_upstream_requests_total", "counter"},
      {"nearcache_upstream_duration_seconds", "histogram"},
      {"nearcache_redis_up", "gauge"},
      {"nearcache_connections", "gauge"},
      {"nearcache_build_info", "gauge"},
  };
  for (const auto& [name, type] : families) {
    auto it = after.families.find(name);
    ASSERT_NE(it, after.families.end()) << name;
    EXPECT_EQ(it->second.type, type) << name;
    EXPECT_TRUE(it->second.help.has_value() && !it->second.help->empty())
        << name;
  }
  // No per-key label anywhere.
  for (const auto& [name, family] : after.families) {
    EXPECT_TRUE(absl::StartsWith(name, "nearcache_")) << name;
    for (const PromSample& s : family.samples) {
      for (const auto& [label, value] : s.labels) {
        EXPECT_THAT(label, Not(HasSubstr("key"))) << s.name;
        EXPECT_NE(value, "m0") << s.name;
      }
    }
  }

  auto delta = [&](absl::string_view name, const PromLabels& labels = {}) {
    return Metric(after, name, labels) - Metric(before, name, labels);
  };
  const char* kLookups = "nearcache_lookups_total";
  EXPECT_EQ(delta(kLookups, {{"result", "hit"}}), 11 + 3 + 2);
  EXPECT_EQ(delta(kLookups, {{"result", "miss"}}), 7 + 1 + 1 + 1);
  EXPECT_EQ(delta(kLookups, {{"result", "negative_hit"}}), 1);
  EXPECT_EQ(delta(kLookups, {{"result", "stale"}}), 0);
  EXPECT_EQ(delta(kLookups, {{"result", "error"}}), 0);

  const char* kRequests = "nearcache_requests_total";
  EXPECT_EQ(delta(kRequests, {{"frontend", "resp"}, {"command", "get"}}), 18);
  EXPECT_EQ(delta(kRequests, {{"frontend", "resp"}, {"command", "ping"}}), 0);
  EXPECT_EQ(delta(kRequests, {{"frontend", "http"}, {"command", "keys"}}), 5);
  EXPECT_EQ(delta(kRequests, {{"frontend", "http"}, {"command", "hashes"}}), 1);
  EXPECT_EQ(delta(kRequests, {{"frontend", "http"}, {"command", "lookup"}}), 1);
  EXPECT_EQ(delta(kRequests, {{"frontend", "http"}, {"command", "other"}}), 0);
  const char* kDuration = "nearcache_request_duration_seconds";
  EXPECT_EQ(delta(absl::StrCat(kDuration, "_count"), {{"frontend", "resp"}}),
            18);
  EXPECT_EQ(delta(absl::StrCat(kDuration, "_count"), {{"frontend", "http"}}),
            7);
  EXPECT_GT(delta(absl::StrCat(kDuration, "_sum"), {{"frontend", "http"}}), 0);
  // The buckets span 10 us to 1 s.
  std::vector<double> bounds;
  for (const PromSample& s : after.families.at(kDuration).samples) {
    if (s.name != absl::StrCat(kDuration, "_bucket") ||
        s.labels.at("frontend") != "resp") {
      continue;
    }
    double le = std::numeric_limits<double>::infinity();
    if (s.labels.at("le") != "+Inf") {
      ASSERT_TRUE(absl::SimpleAtod(s.labels.at("le"), &le))
          << s.labels.at("le");
    }
    bounds.push_back(le);
  }
  ASSERT_GE(bounds.size(), 3u);
  std::sort(bounds.begin(), bounds.end());
  EXPECT_DOUBLE_EQ(bounds.front(), 10e-6);
  EXPECT_DOUBLE_EQ(bounds[bounds.size() - 2], 1.0);
  EXPECT_TRUE(std::isinf(bounds.back()));

  // One pipelined batch to Redis per miss (the lookup's one miss included).
  const char* kUpstream = "nearcache_upstream_requests_total";
  EXPECT_EQ(delta(kUpstream, {{"result", "ok"}}), 10);
  EXPECT_EQ(delta(kUpstream, {{"result", "error"}}), 0);
  EXPECT_EQ(delta(kUpstream, {{"result", "timeout"}}), 0);
  EXPECT_EQ(delta(kUpstream, {{"result", "rejected"}}), 0);
  EXPECT_EQ(delta("nearcache_upstream_duration_seconds_count"), 10);
  // Which Redis agrees with.
  EXPECT_EQ(redis_->CommandCalls("get") - redis_gets, 9);
  EXPECT_EQ(redis_->CommandCalls("hgetall") - redis_hgetalls, 1);

  // The cache holds exactly the new entries, charged as the core charges.
  EXPECT_EQ(delta("nearcache_cache_entries"), 10);
  size_t charged = 0;
  for (int i = 0; i < 7; ++i) {
    charged += ShardedLruCache::Charge(
        keys[i], *Value::String(
                     absl::StrCat("value-", i, "-", std::string(i * 10, 'x'))));
  }
  charged +=
      ShardedLruCache::Charge("x0", *Value::String("looked up over http"));
  charged += ShardedLruCache::Charge("absent", *Value::NotFound());
  charged +=
      ShardedLruCache::Charge("hh", *Value::Hash({{"f1", "a"}, {"f2", "bb"}}));
  EXPECT_EQ(delta("nearcache_cache_bytes"), static_cast<double>(charged));
  EXPECT_EQ(Metric(after, "nearcache_cache_max_bytes"), 8 << 20);
  EXPECT_EQ(delta("nearcache_evictions_total", {{"reason", "size"}}), 0);
  EXPECT_EQ(delta("nearcache_evictions_total", {{"reason", "expired"}}), 0);
  for (const char* source : {"tracking", "channel", "flush", "reconnect"}) {
    EXPECT_EQ(delta("nearcache_invalidations_total", {{"source", source}}), 0)
        << source;
  }

  EXPECT_EQ(Metric(after, "nearcache_redis_up"), 1);
  EXPECT_GE(Metric(after, "nearcache_connections", {{"frontend", "resp"}}), 1);
  const PromFamily& build = after.families.at("nearcache_build_info");
  ASSERT_EQ(build.samples.size(), 1u);
  EXPECT_EQ(build.samples[0].value, 1);
  EXPECT_FALSE(build.samples[0].labels.at("version").empty());
}

// ---- SIGHUP ----

// Client threads reading cached keys over RESP until told to stop.
class Load {
 public:
  Load(NearcacheProcess* nearcache, std::vector<std::string> keys,
       std::vector<std::string> values, int threads)
      : keys_(std::move(keys)), values_(std::move(values)) {
    for (int t = 0; t < threads; ++t) {
      RedisClient client = nearcache->Connect();
      EXPECT_NE(client, nullptr);
      if (client == nullptr) continue;
      threads_.emplace_back([this, t, c = std::move(client)] {
        for (size_t i = t; !stop_.load(); ++i) {
          const size_t k = i % keys_.size();
          RedisReply r = ClientCommand(c.get(), {"GET", keys_[k]});
          if (r != RedisReply::String(values_[k])) {
            ++errors_;
            std::lock_guard<std::mutex> lock(mu_);
            if (first_error_.empty()) first_error_ = r.ToString();
          }
          ++done_;
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  // Waits until `n` more requests were answered.
  bool WaitForMore(int64_t n) {
    const int64_t target = done_.load() + n;
    return Eventually([&] { return done_.load() >= target; });
  }
  int64_t errors() const { return errors_.load(); }
  int64_t done() const { return done_.load(); }
  std::string first_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }

 private:
  const std::vector<std::string> keys_;
  const std::vector<std::string> values_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> errors_{0};
  std::mutex mu_;
  std::string first_error_;
  std::vector<std::thread> threads_;
};

constexpr int kReloadKeys = 50;

class AdminReloadTest : public AdminE2eTest {
 protected:
  // Starts nearcache with `overrides`, puts kReloadKeys keys in Redis and
  // reads each once through nearcache, so that all are cached.
  void StartAndCache(const Overrides& overrides) {
    overrides_ = overrides;
    StartRedis();
    StartNearcache(overrides_);
    for (int i = 0; i < kReloadKeys; ++i) {
      keys_.push_back(absl::StrCat("r", i));
      values_.push_back(absl::StrCat("value-", i, "-", std::string(100, 'v')));
      Set(keys_.back(), values_.back());
      ASSERT_EQ(nearcache_->Command({"GET", keys_.back()}),
                RedisReply::String(values_.back()));
    }
  }

  // Rewrites the file with the fixture's overrides plus `changed`, sends
  // SIGHUP and waits for the log line that ends the reload.
  void Reload(const Overrides& changed, const std::string& log_line,
              int occurrence) {
    Overrides all = overrides_;
    MergeOverrides(&all, changed);
    ASSERT_TRUE(nearcache_->RewriteConfig(WithListeners(all)).ok());
    nearcache_->Signal(SIGHUP);
    ASSERT_TRUE(Eventually([&] { return Count(log_line) >= occurrence; }))
        << "no \"" << log_line << "\" #" << occurrence << " in the log";
  }

  int Count(const std::string& text) const {
    const std::string log = nearcache_->Log();
    int n = 0;
    for (size_t at = log.find(text); at != std::string::npos;
         at = log.find(text, at + 1)) {
      ++n;
    }
    return n;
  }

  Overrides overrides_;
  std::vector<std::string> keys_;
  std::vector<std::string> values_;
};

TEST_F(AdminReloadTest, SighupUnderLoadLosesNoEntryAndAppliesNewValues) {
  // Four shards of 256KiB: the 64KiB below gives each 16KiB, room for every
  // entry (about 270 bytes each) even if all landed in one shard.
  StartAndCache({{"cache.ttl", "60s"},
                 {"cache.max_bytes", "1MiB"},
                 {"cache.shards", "4"}});
  const PromExposition before = Scrape();
  const int64_t redis_gets = redis_->CommandCalls("get");

  Load load(nearcache_.get(), keys_, values_, 3);
  ASSERT_TRUE(load.WaitForMore(300));
  Reload({{"cache.ttl", "45s"}, {"cache.max_bytes", "64KiB"}},
         "config reloaded", 1);
  ASSERT_TRUE(load.WaitForMore(300));
  load.Stop();
  EXPECT_EQ(load.errors(), 0) << load.first_error();

  // Not one of them went back to Redis: nothing was lost.
  EXPECT_EQ(redis_->CommandCalls("get"), redis_gets);
  const PromExposition after = Scrape();
  auto delta = [&](absl::string_view name, const PromLabels& labels = {}) {
    return Metric(after, name, labels) - Metric(before, name, labels);
  };
  EXPECT_EQ(delta("nearcache_lookups_total", {{"result", "miss"}}), 0);
  EXPECT_EQ(delta("nearcache_lookups_total", {{"result", "hit"}}),
            static_cast<double>(load.done()));
  EXPECT_EQ(delta("nearcache_cache_entries"), 0);
  EXPECT_EQ(delta("nearcache_evictions_total", {{"reason", "size"}}), 0);
  // The new values apply.
  EXPECT_EQ(Metric(after, "nearcache_cache_max_bytes"), 64 << 10);
  CurlResult config = Admin("/config");
  EXPECT_THAT(config.body, HasSubstr("  ttl: 45s\n"));
  EXPECT_THAT(config.body, HasSubstr("  max_bytes: 64KiB\n"));
  EXPECT_EQ(Count("reload ignored changes that need a restart"), 0);
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

TEST_F(AdminReloadTest, SighupToASizeThatDoesNotFitEvictsDownToIt) {
  StartAndCache({{"cache.ttl", "60s"},
                 {"cache.max_bytes", "1MiB"},
                 {"cache.shards", "4"}});
  const PromExposition before = Scrape();
  const double entries = Metric(before, "nearcache_cache_entries");
  ASSERT_GE(entries, kReloadKeys);
  Reload({{"cache.max_bytes", "2KiB"}}, "config reloaded", 1);
  const PromExposition after = Scrape();
  const double bytes = Metric(after, "nearcache_cache_bytes");
  const double left = Metric(after, "nearcache_cache_entries");
  EXPECT_EQ(Metric(after, "nearcache_cache_max_bytes"), 2048);
  EXPECT_LE(bytes, 2048);
  // An entry is charged at least its 160-byte overhead plus a key and a
  // 100-byte value: at most 7 fit in 2KiB.
  EXPECT_LE(left, 2048 / (ShardedLruCache::kEntryOverhead + 100));
  EXPECT_LT(left, entries);
  EXPECT_EQ(
      Metric(after, "nearcache_evictions_total", {{"reason", "size"}}) -
          Metric(before, "nearcache_evictions_total", {{"reason", "size"}}),
      entries - left);
  // Evicted keys are read again from Redis; the bound holds.
  for (int i = 0; i < kReloadKeys; ++i) {
    EXPECT_EQ(nearcache_->Command({"GET", keys_[i]}),
              RedisReply::String(values_[i]));
  }
  EXPECT_LE(Metric(Scrape(), "nearcache_cache_bytes"), 2048);
  EXPECT_THAT(Admin("/config").body, HasSubstr("  max_bytes: 2KiB\n"));
}

TEST_F(AdminReloadTest, SighupWithABadFileKeepsTheRunningConfig) {
  StartAndCache({{"cache.ttl", "50s"}, {"cache.max_bytes", "1MiB"}});
  const std::string config_before = Admin("/config").body;
  ASSERT_THAT(config_before, HasSubstr("  ttl: 50s\n"));
  const int64_t redis_gets = redis_->CommandCalls("get");

  // A value without a unit.
  Reload({{"cache.ttl", "30"}, {"cache.max_bytes", "2KiB"}}, "reload refused",
         1);
  std::string log = nearcache_->Log();
  EXPECT_THAT(log, HasSubstr("cache.ttl"));
  EXPECT_THAT(log, HasSubstr("needs a unit"));
  EXPECT_EQ(Admin("/config").body, config_before);
  EXPECT_EQ(Metric(Scrape(), "nearcache_cache_max_bytes"), 1 << 20);
  // A typo, and a file that is not YAML.
  Reload({{"cache.max_byte", "2KiB"}}, "reload refused", 2);
  EXPECT_THAT(nearcache_->Log(), HasSubstr("did you mean max_bytes?"));
  ASSERT_TRUE(nearcache_->RewriteConfigText("cache: [\n").ok());
  nearcache_->Signal(SIGHUP);
  ASSERT_TRUE(Eventually([&] { return Count("reload refused") >= 3; }));
  EXPECT_THAT(nearcache_->Log(), HasSubstr("invalid YAML"));
  EXPECT_EQ(Admin("/config").body, config_before);

  // Nothing was lost and everything is still served from the cache.
  for (int i = 0; i < kReloadKeys; ++i) {
    EXPECT_EQ(nearcache_->Command({"GET", keys_[i]}),
              RedisReply::String(values_[i]));
  }
  EXPECT_EQ(redis_->CommandCalls("get"), redis_gets);
  // And a good file afterwards is taken.
  Reload({{"cache.ttl", "20s"}}, "config reloaded", 1);
  EXPECT_THAT(Admin("/config").body, HasSubstr("  ttl: 20s\n"));
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

// ---- SIGTERM ----

TEST_F(AdminE2eTest, SigtermFinishesAnHttpRequestInFlight) {
  StartRedis();
  // Long enough that the request below is still waiting for Redis when
  // nearcache is told to stop.
  StartNearcache({{"redis.command_timeout", "15s"}, {"cache.ttl", "60s"}});
  Set("slow", "answered after the stop");
  const PromExposition before = Scrape();
  redis_->Pause();
  CurlResult in_flight;
  std::thread client([&] { in_flight = Api("/v1/keys/slow"); });
  // Accepted by nearcache: the request follows at once on the same
  // connection. Let it be read and sent on to the paused Redis (not a
  // timing assertion: were it slower, the test would see it fail clearly).
  const bool accepted = Eventually([&] {
    return Scrape().Value("nearcache_connections", {{"frontend", "http"}}) == 1;
  });
  EXPECT_TRUE(accepted);
  absl::SleepFor(absl::Milliseconds(500));
  const PromExposition during = Scrape();
  EXPECT_EQ(Metric(during, "nearcache_lookups_total", {{"result", "miss"}}),
            Metric(before, "nearcache_lookups_total", {{"result", "miss"}}))
      << "the request was answered before the stop";

  nearcache_->Signal(SIGTERM);
  // It stops accepting first: both socket files go away.
  EXPECT_TRUE(Eventually([&] {
    return !std::filesystem::exists(http_socket_) &&
           !std::filesystem::exists(nearcache_->socket_path());
  }));
  CurlResult refused = Api("/v1/keys/slow", {"--max-time", "5"});
  EXPECT_NE(refused.exit_code, 0) << "accepted after SIGTERM";
  redis_->Resume();
  client.join();
  // The request in flight got its whole answer, then nearcache exited 0.
  EXPECT_EQ(in_flight.exit_code, 0) << in_flight.Describe();
  EXPECT_EQ(in_flight.status, 200) << in_flight.Describe();
  EXPECT_EQ(in_flight.body, "answered after the stop");
  EXPECT_EQ(in_flight.Header("connection"), "close");
  absl::Status exited = nearcache_->WaitForCleanExit();
  EXPECT_TRUE(exited.ok()) << exited;
  EXPECT_FALSE(std::filesystem::exists(http_socket_));
}

}  // namespace
}  // namespace nearcache
