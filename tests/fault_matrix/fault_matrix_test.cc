// The fault matrix under load (issue #8): the real nearcache binary in front
// of a real redis-server (optionally behind nc_delay_proxy), 50 connections
// of nc_loadgen reading every key, and one fault injected while they read:
//
//   redis_sigkill_restart     SIGKILL, then a restart from a snapshot (SAVE)
//   redis_sigstop_sigcont     SIGSTOP, then SIGCONT
//   redis_restart_empty       SIGKILL, then a restart with no data
//   redis_flushall            FLUSHALL
//   client_kill_pubsub        CLIENT KILL TYPE pubsub, repeatedly (the
//                             invalidation link)
//   client_kill_normal        CLIENT KILL TYPE normal, repeatedly (the data
//                             connections)
//   proxy_latency             the proxy adds latency beyond
//                             redis.command_timeout
//   proxy_cut_mid_reply       the proxy cuts every connection mid-reply
//   rss_churn                 no fault: ten times more keys than
//                             cache.max_bytes holds (the RSS bound under
//                             eviction churn)
//
// For each fault, three properties:
//   1. no error reply (and no dropped connection) for a key nearcache had
//      cached: every key is preloaded and read once through nearcache
//      (nc_loadgen --warm) before the fault, and max_stale is far longer
//      than the test;
//   2. no old value served after recovery: new generations of every key are
//      written to Redis (values "v<gen>:<key>:..."), and after a bounded
//      settle every read through nearcache must carry the new generation
//      (after FLUSHALL or a restart with no data, first: every read must be
//      nil);
//   3. nearcache's VmRSS never exceeds 1.15 x cache.max_bytes + 20 MiB
//      (not asserted under AddressSanitizer, whose shadow memory and
//      quarantine are not nearcache's).
// No latency is asserted: only counts.
//
// The long version is bench/fault_matrix.sh: it runs this binary with
// bigger key sets and longer windows (the NC_FM_* environment variables
// below) and turns NC_FM_RESULTS into the table of docs/fault-matrix.md.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"
#include "tests/fakes/subprocess.h"

#ifndef NC_LOADGEN_BINARY
#define NC_LOADGEN_BINARY "nc_loadgen"
#endif
#ifndef NC_DELAY_PROXY_BINARY
#define NC_DELAY_PROXY_BINARY "nc_delay_proxy"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define NC_FM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NC_FM_ASAN 1
#endif
#endif

namespace nearcache {
namespace {

// ------------------------------------------------------------- parameters

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  int64_t out = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &out)) return fallback;
  return out;
}

double EnvDouble(const char* name, double fallback) {
  const char* v = getenv(name);
  double out = 0;
  if (v == nullptr || !absl::SimpleAtod(v, &out)) return fallback;
  return out;
}

// Sizes and windows; the defaults are the fast version (a few seconds per
// case on a loaded 2-core machine).
struct Params {
  int64_t keys = EnvInt("NC_FM_KEYS", 2000);
  int64_t value_size = EnvInt("NC_FM_VALUE_SIZE", 256);
  int64_t connections = EnvInt("NC_FM_CONNECTIONS", 50);
  int64_t max_bytes = EnvInt("NC_FM_MAX_BYTES", 16 << 20);
  // rss_churn: keys and cache size (10x more keys than fit).
  int64_t churn_keys = EnvInt("NC_FM_CHURN_KEYS", 40000);
  int64_t churn_max_bytes = EnvInt("NC_FM_CHURN_MAX_BYTES", 1 << 20);
  double before_s = EnvDouble("NC_FM_BEFORE_S", 0.5);  // load, no fault
  double fault_s = EnvDouble("NC_FM_FAULT_S", 1.5);    // the fault window
  double after_s = EnvDouble("NC_FM_AFTER_S", 1.0);    // load after recovery
  double verify_s = EnvDouble("NC_FM_VERIFY_S", 1.0);  // the final check
};

const Params& P() {
  static const Params p;
  return p;
}

std::string LoadgenBinary() {
  const char* env = getenv("NC_LOADGEN");
  return (env != nullptr && env[0] != '\0') ? env : NC_LOADGEN_BINARY;
}

std::string DelayProxyBinary() {
  const char* env = getenv("NC_DELAY_PROXY");
  return (env != nullptr && env[0] != '\0') ? env : NC_DELAY_PROXY_BINARY;
}

// ---------------------------------------------------------------- helpers

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The integer value of "name": N in a flat JSON object, or -1.
int64_t JsonInt(const std::string& json, const std::string& name) {
  const std::string needle = absl::StrCat("\"", name, "\": ");
  const size_t at = json.find(needle);
  if (at == std::string::npos) return -1;
  const size_t begin = at + needle.size();
  const size_t end = json.find_first_not_of("0123456789", begin);
  int64_t v = -1;
  if (!absl::SimpleAtoi(json.substr(begin, end - begin), &v)) return -1;
  return v;
}

// The "name": {...} object of a flat JSON object, or "".
std::string JsonObject(const std::string& json, const std::string& name) {
  const std::string needle = absl::StrCat("\"", name, "\": {");
  const size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  const size_t end = json.find('}', at);
  return json.substr(at + needle.size() - 1, end - at - needle.size() + 2);
}

// VmRSS of `pid` in bytes, or -1.
int64_t RssBytes(pid_t pid) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  const size_t at = status.find("VmRSS:");
  if (at == std::string::npos) return -1;
  const size_t begin = status.find_first_of("0123456789", at);
  const size_t end = status.find_first_not_of("0123456789", begin);
  int64_t kb = -1;
  if (!absl::SimpleAtoi(status.substr(begin, end - begin), &kb)) return -1;
  return kb * 1024;
}

// A child process (nc_loadgen, nc_delay_proxy) with its output in a log
// file. Killed (SIGKILL) on destruction; dies with the test's main thread.
class Child {
 public:
  Child() = default;
  ~Child() { Kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool Start(std::vector<std::string> args, const std::string& log_path) {
    log_path_ = log_path;
    const int log_fd =
        open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return false;
    const pid_t pid = SpawnChild(std::move(args), log_fd, log_fd);
    close(log_fd);
    pid_ = pid;
    return pid > 0;
  }

  // Waits up to `timeout` for the exit; returns its exit code, or -1.
  int Wait(absl::Duration timeout) {
    if (pid_ <= 0) return -1;
    const absl::Time deadline = absl::Now() + timeout;
    int wstatus = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &wstatus, WNOHANG);
      if (r == pid_) break;
      if (absl::Now() >= deadline) {
        Kill();
        return -1;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  }

  bool Exited() {
    if (pid_ <= 0) return true;
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
      return true;
    }
    return false;
  }

  void Signal(int signo) {
    if (pid_ > 0) kill(pid_, signo);
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  int exit_code() const { return exit_code_; }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

// ------------------------------------------------------------- the matrix

enum class Proxy { kNone, kLatency, kCut };

struct FaultCase {
  std::string name;
  Proxy proxy = Proxy::kNone;
  // The data is gone after the fault (FLUSHALL, restart with no data).
  bool data_lost = false;
  bool churn = false;
};

// For the test names ("... # GetParam() = redis_flushall").
void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

// What one case measured (also the row of the long version's table).
struct CaseResult {
  int64_t completed = 0;      // replies during the fault run
  int64_t errors_warmed = 0;  // error replies to keys cached before
  int64_t errors_cold = 0;    // error replies to keys never cached
  int64_t conn_errors = 0;    // connections nearcache closed
  int64_t nils = 0;           // nil replies during the fault run
  int64_t stale_hits = 0;     // INFO nearcache_stale_hits during the run
  int64_t misses = 0;         // INFO keyspace_misses: reads sent to Redis
  int64_t proxy_cuts = 0;     // connections the proxy cut mid-reply
  int64_t settle_rounds = 0;  // verification rounds until no old value
  int64_t settle_old = 0;     // old values seen while settling
  int64_t old_values = 0;     // old values (or nils) in the final check
  int64_t verify_stale = 0;   // replies marked STALE while verifying
  int64_t nil_check_old = 0;  // data-lost cases: values where nil was due
  int64_t max_rss = 0;
  int64_t rss_bound = 0;
  int64_t max_bytes = 0;
  std::string error_kinds;
};

class FaultMatrixTest : public ::testing::TestWithParam<FaultCase> {
 protected:
  void SetUp() override {
    const FaultCase& c = GetParam();
    keys_ = c.churn ? P().churn_keys : P().keys;
    max_bytes_ = c.churn ? P().churn_max_bytes : P().max_bytes;
    ASSERT_TRUE(redis_.Start().ok());
    dir_ = redis_.dir();
    std::string redis_address = "unix://" + redis_.unix_path();
    if (c.proxy != Proxy::kNone) {
      const std::string proxy_sock = dir_ + "/proxy.sock";
      std::vector<std::string> args = {DelayProxyBinary(),
                                       "--listen",
                                       "unix:" + proxy_sock,
                                       "--upstream",
                                       "unix:" + redis_.unix_path(),
                                       "--armed-by-signal",
                                       "--quiet"};
      if (c.proxy == Proxy::kLatency) {
        // Four times redis.command_timeout, each way; the invalidation
        // link's PING round trip (400 ms) stays within ping_timeout.
        args.insert(args.end(), {"--delay-ms", "200"});
      } else {
        // A pipelined GET+PTTL reply of a 256-byte value is ~280 bytes:
        // the cut lands inside the third one.
        args.insert(args.end(), {"--delay-ms", "0", "--cut-after-bytes",
                                 absl::StrCat(2 * (P().value_size + 24) +
                                              P().value_size / 2)});
      }
      ASSERT_TRUE(proxy_.Start(args, dir_ + "/proxy.log"));
      for (int i = 0; i < 500 && !std::filesystem::exists(proxy_sock); ++i) {
        absl::SleepFor(absl::Milliseconds(10));
      }
      ASSERT_TRUE(std::filesystem::exists(proxy_sock)) << proxy_.Log();
      redis_address = "unix://" + proxy_sock;
    }
    NearcacheOptions options;
    options.redis_address = redis_address;
    // The product's defaults, except: a cache.ttl longer than the test (only
    // invalidation may change what is served fresh), a bounded reconnect
    // backoff (recovery within the test's windows), info logs.
    options.overrides = {
        {"cache.max_bytes", absl::StrCat(max_bytes_)},
        {"cache.ttl", "120s"},
        {"cache.max_stale", "10m"},
        {"redis.connect_timeout", "250ms"},
        {"redis.command_timeout", "50ms"},
        {"redis.reconnect_min", "50ms"},
        {"redis.reconnect_max", "500ms"},
        {"invalidation.tracking", "true"},
        {"invalidation.channel", "nearcache:invalidate"},
        {"log.level", "info"},
        {"listen.http_socket", absl::StrCat("\"", dir_, "/http.sock\"")},
    };
    nearcache_ = std::make_unique<NearcacheProcess>(options);
    absl::Status s = nearcache_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  void TearDown() override {
    if (HasFailure() || EnvInt("NC_FM_VERBOSE", 0) != 0) {
      for (const auto& [name, text] : logs_) {
        std::cerr << "---- " << name << " ----\n" << text << "\n";
      }
      std::cerr << "---- proxy ----\n" << proxy_.Log() << "\n";
    }
  }

  std::vector<std::string> LoadgenBase(const std::string& socket) const {
    return {LoadgenBinary(), "--socket",          socket,
            "--keys",        absl::StrCat(keys_), "--key-prefix",
            "fm:",           "--value-size",      absl::StrCat(P().value_size),
            "--quiet"};
  }

  // Writes generation `gen` of every key straight to Redis.
  void WriteGeneration(int gen) {
    std::vector<std::string> args = LoadgenBase(redis_.unix_path());
    args.insert(args.end(),
                {"--preload-only", "--generation", absl::StrCat(gen)});
    Child writer;
    ASSERT_TRUE(writer.Start(args, dir_ + "/writer.log"));
    const int rc = writer.Wait(absl::Seconds(120));
    ASSERT_EQ(rc, 0) << writer.Log();
  }

  // Runs nc_loadgen against nearcache's HTTP API for `seconds` and returns
  // its JSON. Over HTTP every reply says whether it was served stale
  // (X-Cache-Status): what the loaded machine's own timeouts serve stale
  // (stale-if-error, as designed) is told apart from old values served as
  // fresh.
  std::string Verify(std::vector<std::string> extra, double seconds,
                     int connections) {
    std::vector<std::string> args = LoadgenBase(dir_ + "/http.sock");
    args.insert(args.end(), {"--protocol", "http"});
    const std::string json = dir_ + "/verify.json";
    std::filesystem::remove(json);
    args.insert(args.end(),
                {"--connections", absl::StrCat(connections), "--duration",
                 absl::StrCat(seconds), "--json", json});
    args.insert(args.end(), extra.begin(), extra.end());
    Child run;
    if (!run.Start(args, dir_ + "/verify.log")) return "";
    const int rc = run.Wait(absl::Seconds(seconds + 120));
    const std::string out = ReadFile(json);
    logs_.emplace_back("verify run", run.Log() + out);
    EXPECT_EQ(rc, 0) << run.Log();
    return out;
  }

  // Reads through nearcache until every read of a short run carries what
  // `extra` checks for (bounded), then once more for verify_s: returns the
  // count of old values (and nils, when a value is due) in that final run.
  int64_t SettleAndVerify(std::vector<std::string> extra, bool nil_is_old,
                          CaseResult* r) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    for (;;) {
      ++r->settle_rounds;
      const std::string j = Verify(extra, 0.3, 4);
      int64_t old = JsonInt(j, "old_values") + JsonInt(j, "wrong_values");
      if (nil_is_old) old += JsonInt(j, "fresh_nils");
      r->verify_stale += JsonInt(j, "stale_replies");
      const int64_t errors = JsonInt(j, "errors");
      if (old == 0 && errors == 0 && JsonInt(j, "completed") > 0) break;
      r->settle_old += std::max<int64_t>(old, 0);
      if (absl::Now() > deadline) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    const std::string j =
        Verify(extra, P().verify_s, static_cast<int>(P().connections));
    EXPECT_GT(JsonInt(j, "completed"), 0) << j;
    // The checker checked something: values where they are due, else nils.
    EXPECT_GT(JsonInt(j, nil_is_old ? "values_checked" : "nils"), 0) << j;
    EXPECT_EQ(JsonInt(j, "errors"), 0) << j;
    EXPECT_EQ(JsonInt(j, "wrong_values"), 0) << j;
    int64_t old = JsonInt(j, "old_values");
    if (nil_is_old) old += JsonInt(j, "fresh_nils");
    r->verify_stale += JsonInt(j, "stale_replies");
    return old;
  }

  // Waits until nearcache reads through to Redis again: a key written
  // after the recovery is served.
  void WaitForRecovery() {
    const std::string value =
        absl::StrCat("after-", absl::ToUnixNanos(absl::Now()));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (;;) {
      const RedisReply set = redis_.Command({"SET", "fm-sentinel", value});
      if (!set.is_error() && nearcache_->Command({"GET", "fm-sentinel"}) ==
                                 RedisReply::String(value)) {
        return;
      }
      ASSERT_LT(absl::Now(), deadline) << "nearcache did not recover";
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  void Inject(const FaultCase& c, int64_t* repeat_count) {
    const std::string& n = c.name;
    if (n == "redis_sigkill_restart") {
      ASSERT_EQ(redis_.Command({"SAVE"}), RedisReply::Status("OK"));
      redis_.Kill();
    } else if (n == "redis_sigstop_sigcont") {
      redis_.Pause();
    } else if (n == "redis_restart_empty") {
      redis_.Kill();
      std::filesystem::remove(dir_ + "/dump.rdb");
    } else if (n == "redis_flushall") {
      ASSERT_EQ(redis_.Command({"FLUSHALL"}), RedisReply::Status("OK"));
    } else if (c.proxy != Proxy::kNone) {
      proxy_.Signal(SIGUSR1);
    }
    (void)repeat_count;
  }

  // Faults that repeat during the window (every 250 ms).
  void Repeat(const FaultCase& c, int64_t* repeat_count) {
    std::string type;
    if (c.name == "client_kill_pubsub") type = "pubsub";
    if (c.name == "client_kill_normal") type = "normal";
    if (type.empty()) return;
    const RedisReply r = redis_.Command({"CLIENT", "KILL", "TYPE", type});
    if (r.type == RedisReply::Type::kInteger) *repeat_count += r.integer;
  }

  void Recover(const FaultCase& c) {
    const std::string& n = c.name;
    if (n == "redis_sigkill_restart" || n == "redis_restart_empty") {
      absl::Status s = redis_.Start();
      ASSERT_TRUE(s.ok()) << s;
    } else if (n == "redis_sigstop_sigcont") {
      redis_.Resume();
    } else if (c.proxy != Proxy::kNone) {
      proxy_.Signal(SIGUSR2);
    }
  }

  // Samples nearcache's RSS while sleeping `d`.
  void SleepSampling(absl::Duration d, CaseResult* r) {
    const absl::Time end = absl::Now() + d;
    do {
      r->max_rss = std::max(r->max_rss, RssBytes(nearcache_->pid()));
      absl::SleepFor(std::min(absl::Milliseconds(50), end - absl::Now()));
    } while (absl::Now() < end);
  }

  void Report(const FaultCase& c, const CaseResult& r) {
    const char* path = getenv("NC_FM_RESULTS");
    if (path == nullptr || path[0] == '\0') return;
    std::ofstream out(path, std::ios::app);
    out << c.name << "\t" << r.completed << "\t" << r.errors_warmed << "\t"
        << r.errors_cold << "\t" << r.conn_errors << "\t" << r.nils << "\t"
        << r.misses << "\t" << r.stale_hits << "\t" << r.verify_stale << "\t"
        << r.settle_rounds << "\t" << r.settle_old << "\t" << r.old_values
        << "\t" << r.nil_check_old << "\t" << r.max_rss << "\t" << r.rss_bound
        << "\t" << r.max_bytes << "\t" << keys_ << "\t" << r.error_kinds
        << "\n";
  }

  RedisServerProcess redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
  Child proxy_;
  std::string dir_;
  int64_t keys_ = 0;
  int64_t max_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> logs_;
};

// No error on cached keys, no old value served as fresh after recovery, the
// RSS bound held.
TEST_P(FaultMatrixTest, UnderLoad) {
  const FaultCase& c = GetParam();
  CaseResult r;
  r.max_bytes = max_bytes_;
  r.rss_bound = static_cast<int64_t>(1.15 * static_cast<double>(max_bytes_)) +
                (int64_t{20} << 20);
  ASSERT_NO_FATAL_FAILURE(WriteGeneration(1));
  const RedisReply info_before = nearcache_->Command({"INFO", "stats"});
  const int64_t stale_before = InfoField(info_before, "nearcache_stale_hits");
  const int64_t misses_before = InfoField(info_before, "keyspace_misses");

  // The load: warm every key, then 50 connections reading them.
  const double run_s = P().before_s + P().fault_s + P().after_s;
  const std::string ready = dir_ + "/loadgen.ready";
  const std::string json_path = dir_ + "/load.json";
  std::vector<std::string> args = LoadgenBase(nearcache_->socket_path());
  args.insert(args.end(),
              {"--connections", absl::StrCat(P().connections), "--duration",
               absl::StrCat(run_s), "--warm", "--ready-file", ready, "--json",
               json_path, "--verify"});
  Child load;
  ASSERT_TRUE(load.Start(args, dir_ + "/load.log"));
  const absl::Time ready_deadline = absl::Now() + absl::Seconds(120);
  while (!std::filesystem::exists(ready) && !load.Exited()) {
    ASSERT_LT(absl::Now(), ready_deadline) << load.Log();
    SleepSampling(absl::Milliseconds(20), &r);
  }
  ASSERT_TRUE(std::filesystem::exists(ready)) << load.Log();

  SleepSampling(absl::Seconds(P().before_s), &r);
  // Behind the proxy the invalidation link survives the fault, and every
  // key is fresh: rewriting the keys (same generation) straight into Redis
  // during the fault is what sends reads through the faulty proxy.
  Child rewriter;
  if (c.proxy != Proxy::kNone) {
    std::vector<std::string> w = LoadgenBase(redis_.unix_path());
    w.insert(w.end(),
             {"--read-ratio", "0", "--generation", "1", "--connections", "2",
              "--rate", "2000", "--duration", absl::StrCat(P().fault_s)});
    ASSERT_TRUE(rewriter.Start(w, dir_ + "/rewriter.log"));
  }
  int64_t repeats = 0;
  ASSERT_NO_FATAL_FAILURE(Inject(c, &repeats));
  const absl::Time fault_end = absl::Now() + absl::Seconds(P().fault_s);
  while (absl::Now() < fault_end) {
    Repeat(c, &repeats);
    SleepSampling(std::min(absl::Milliseconds(250), fault_end - absl::Now()),
                  &r);
  }
  ASSERT_NO_FATAL_FAILURE(Recover(c));
  if (c.proxy != Proxy::kNone) {
    EXPECT_EQ(rewriter.Wait(absl::Seconds(60)), 0) << rewriter.Log();
  }
  while (!load.Exited()) SleepSampling(absl::Milliseconds(50), &r);
  const std::string load_json = ReadFile(json_path);
  logs_.emplace_back("fault run", load.Log() + load_json);
  ASSERT_EQ(load.exit_code(), 0) << load.Log();
  if (c.name.rfind("client_kill", 0) == 0) {
    EXPECT_GT(repeats, 0) << "CLIENT KILL found no connection to kill";
  }

  r.completed = JsonInt(load_json, "completed");
  r.errors_warmed = JsonInt(load_json, "errors_warmed");
  r.errors_cold = JsonInt(load_json, "errors_cold");
  r.conn_errors = JsonInt(load_json, "connection_errors");
  r.nils = JsonInt(load_json, "nils");
  r.error_kinds = JsonObject(load_json, "error_kinds");
  const std::string warm = JsonObject(load_json, "warm");
  EXPECT_EQ(JsonInt(warm, "values"), keys_) << "not every key was warmed";
  EXPECT_GT(r.completed, 0) << load_json;
  EXPECT_EQ(JsonInt(load_json, "wrong_values"), 0) << load_json;

  ASSERT_NO_FATAL_FAILURE(WaitForRecovery());
  const RedisReply info_after = nearcache_->Command({"INFO", "stats"});
  r.stale_hits = InfoField(info_after, "nearcache_stale_hits") - stale_before;
  r.misses = InfoField(info_after, "keyspace_misses") - misses_before;

  // After FLUSHALL or a restart with no data: nil, never an old value.
  if (c.data_lost) {
    r.nil_check_old = SettleAndVerify({"--expect-nil"}, false, &r);
  }
  // New generation of every key, written to Redis: never the old one after
  // a bounded settle.
  ASSERT_NO_FATAL_FAILURE(WriteGeneration(2));
  r.old_values = SettleAndVerify({"--min-generation", "2"}, true, &r);
  SleepSampling(absl::Milliseconds(10), &r);
  if (c.proxy != Proxy::kNone) {
    // The proxy prints its counters when it stops.
    proxy_.Signal(SIGTERM);
    proxy_.Wait(absl::Seconds(20));
    const std::string log = proxy_.Log();
    const size_t at = log.find("(cut ");
    if (at != std::string::npos) {
      const size_t end = log.find_first_not_of("0123456789", at + 5);
      if (!absl::SimpleAtoi(log.substr(at + 5, end - at - 5), &r.proxy_cuts)) {
        r.proxy_cuts = -1;
      }
    }
    EXPECT_NE(log.find("armed 1 times"), std::string::npos) << log;
    if (c.proxy == Proxy::kCut) {
      EXPECT_GT(r.proxy_cuts, 0) << "the proxy cut nothing: " << log;
    }
  }
  Report(c, r);

  const std::string summary = absl::StrCat(
      c.name, ": completed ", r.completed, ", errors on cached keys ",
      r.errors_warmed, " (others ", r.errors_cold, "), connections dropped ",
      r.conn_errors, ", nils ", r.nils, ", reads sent to Redis ", r.misses,
      ", stale hits ", r.stale_hits, ", proxy cuts ", r.proxy_cuts,
      ", error kinds ", r.error_kinds, ", settle rounds ", r.settle_rounds,
      " (old values seen ", r.settle_old, "), marked stale while verifying ",
      r.verify_stale, ", old values served as fresh after settle ",
      r.old_values, " / where nil due ", r.nil_check_old, ", max RSS ",
      r.max_rss, " (bound ", r.rss_bound, ")");
  std::cout << summary << std::endl;
  if (!c.churn) {
    // Every key fits: every key is cached, so no error at all is allowed.
    EXPECT_EQ(r.errors_warmed, 0) << summary;
  }
  EXPECT_EQ(r.errors_warmed + r.errors_cold, JsonInt(load_json, "errors"));
  EXPECT_EQ(r.conn_errors, 0) << summary;
  EXPECT_EQ(r.nil_check_old, 0) << summary;
  EXPECT_EQ(r.old_values, 0) << summary;
#ifndef NC_FM_ASAN
  EXPECT_GT(r.max_rss, 0);
  EXPECT_LE(r.max_rss, r.rss_bound) << summary;
#endif
}

INSTANTIATE_TEST_SUITE_P(
    Faults, FaultMatrixTest,
    ::testing::Values(FaultCase{"redis_sigkill_restart"},
                      FaultCase{"redis_sigstop_sigcont"},
                      FaultCase{"redis_restart_empty", Proxy::kNone, true},
                      FaultCase{"redis_flushall", Proxy::kNone, true},
                      FaultCase{"client_kill_pubsub"},
                      FaultCase{"client_kill_normal"},
                      FaultCase{"proxy_latency", Proxy::kLatency},
                      FaultCase{"proxy_cut_mid_reply", Proxy::kCut},
                      FaultCase{"rss_churn", Proxy::kNone, false, true}),
    [](const ::testing::TestParamInfo<FaultCase>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace nearcache
