#include "tests/fakes/nearcache_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/fakes/subprocess.h"

#ifndef NEARCACHE_BINARY
#define NEARCACHE_BINARY "nearcache"
#endif

extern char** environ;

namespace nearcache {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(20);
constexpr int kClientTimeoutSeconds = 10;
// A key no test uses: Start() reads it to see that the upstream pool is up.
constexpr char kReadyKey[] = "__nearcache_integration_ready__";

int PickFreePortImpl() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string MakeTempDir(absl::string_view prefix) {
  const char* tmp = getenv("TMPDIR");
  std::string templ =
      absl::StrCat((tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp", "/",
                   prefix, "-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) return "";
  return templ;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The environment for a child: ours plus `extra` (which wins).
std::vector<std::string> ChildEnv(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : extra) {
      if (absl::StartsWith(entry, absl::StrCat(name, "="))) replaced = true;
    }
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) {
    env.push_back(absl::StrCat(name, "=", value));
  }
  return env;
}

// Waits for `pid` up to `timeout`. Returns true and sets *wstatus when it
// exited.
bool WaitFor(pid_t pid, absl::Duration timeout, int* wstatus) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const pid_t r = waitpid(pid, wstatus, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string DescribeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus))
    return absl::StrCat("exit code ", WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) {
    return absl::StrCat("killed by signal ", WTERMSIG(wstatus), " (",
                        strsignal(WTERMSIG(wstatus)), ")");
  }
  return absl::StrCat("wait status ", wstatus);
}

}  // namespace

int PickFreeTcpPort() { return PickFreePortImpl(); }

void RedisContextDeleter::operator()(redisContext* c) const {
  if (c != nullptr) redisFree(c);
}

RedisClient ConnectUnix(const std::string& path) {
  timeval tv = {kClientTimeoutSeconds, 0};
  RedisClient c(redisConnectUnixWithTimeout(path.c_str(), tv));
  if (c == nullptr || c->err != 0) return nullptr;
  if (redisSetTimeout(c.get(), tv) != REDIS_OK) return nullptr;
  return c;
}

RedisReply ClientCommand(redisContext* client,
                         const std::vector<std::string>& args) {
  if (client == nullptr) return RedisReply::Error("CLIENT: not connected");
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(client, static_cast<int>(argv.size()),
                               argv.data(), lens.data());
  if (raw == nullptr)
    return RedisReply::Error(absl::StrCat("CLIENT: ", client->errstr));
  RedisReply reply = RedisReplyFromHiredis(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

RunResult RunNearcache(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env,
    absl::Duration timeout) {
  RunResult result;
  const std::string dir = MakeTempDir("nearcache-run");
  if (dir.empty()) {
    result.err = "mkdtemp failed";
    return result;
  }
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  const int out_fd =
      open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  const int err_fd =
      open(err_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  std::vector<std::string> argv = {NearcacheProcess::BinaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::vector<std::string> child_env = ChildEnv(env);
  const pid_t pid = SpawnChild(argv, out_fd, err_fd, &child_env);
  close(out_fd);
  close(err_fd);
  if (pid > 0) {
    int wstatus = 0;
    if (WaitFor(pid, timeout, &wstatus)) {
      if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
    } else {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

std::string NearcacheProcess::BinaryPath() {
  const char* env = getenv("NEARCACHE_BINARY");
  return (env != nullptr && env[0] != '\0') ? env : NEARCACHE_BINARY;
}

NearcacheProcess::NearcacheProcess(NearcacheOptions options)
    : options_(std::move(options)) {}

NearcacheProcess::~NearcacheProcess() {
  client_.reset();
  Kill();
  if (::testing::Test::HasFailure() && !log_path_.empty()) {
    std::cerr << "---- nearcache log (" << log_path_ << ") ----\n"
              << Log() << "---- config ----\n"
              << config_text_ << "---- end of nearcache log ----\n";
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string NearcacheProcess::RenderConfig() const {
  // Defaults for tests: no HTTP socket, fast reconnects, generous timeouts
  // (faults are injected on purpose, not by a loaded machine), and no
  // invalidation link (that is a separate subsystem; tests that need it say
  // so).
  std::vector<std::pair<std::string, std::string>> keys = {
      {"listen.resp_socket", absl::StrCat("\"", socket_path_, "\"")},
      {"listen.http_socket", "\"\""},
      {"admin.address", absl::StrCat("127.0.0.1:", admin_port_)},
      {"redis.address", absl::StrCat("\"", options_.redis_address, "\"")},
      {"redis.connect_timeout", "2s"},
      {"redis.command_timeout", "2s"},
      {"redis.reconnect_min", "20ms"},
      {"redis.reconnect_max", "200ms"},
      {"invalidation.tracking", "false"},
      {"invalidation.channel", "\"\""},
      {"log.level", "debug"},
      {"log.format", "text"},
  };
  MergeOverrides(&keys, options_.overrides);
  // section -> "key: value" lines, in first-seen order.
  std::vector<std::pair<std::string, std::vector<std::string>>> sections;
  for (const auto& [path, value] : keys) {
    std::vector<std::string> parts =
        absl::StrSplit(path, absl::MaxSplits('.', 1));
    if (parts.size() != 2) continue;
    auto it = std::find_if(sections.begin(), sections.end(),
                           [&](const auto& s) { return s.first == parts[0]; });
    if (it == sections.end()) {
      sections.emplace_back(parts[0], std::vector<std::string>{});
      it = sections.end() - 1;
    }
    it->second.push_back(absl::StrCat(parts[1], ": ", value));
  }
  std::string text;
  for (const auto& [section, lines] : sections) {
    absl::StrAppend(&text, section, ":\n");
    for (const std::string& line : lines)
      absl::StrAppend(&text, "  ", line, "\n");
  }
  return text;
}

absl::Status NearcacheProcess::Start() {
  if (running()) return absl::FailedPreconditionError("already running");
  if (dir_.empty()) {
    dir_ = MakeTempDir("nearcache-it");
    if (dir_.empty()) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
    }
    socket_path_ = options_.resp_socket.empty() ? dir_ + "/nearcache.sock"
                                                : options_.resp_socket;
    config_path_ = dir_ + "/nearcache.yaml";
    log_path_ = dir_ + "/nearcache.log";
  }
  if (admin_port_ == 0) admin_port_ = PickFreeTcpPort();
  if (absl::Status s = RewriteConfigText(RenderConfig()); !s.ok()) return s;
  const int log_fd =
      open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open(", log_path_, "): ", strerror(errno)));
  }
  const std::vector<std::string> child_env = ChildEnv(options_.env);
  pid_ = SpawnChild({BinaryPath(), "--config", config_path_}, log_fd, log_fd,
                    &child_env);
  close(log_fd);
  if (pid_ < 0)
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));

  const absl::Time deadline = absl::Now() + kStartTimeout;
  bool answering = false;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("nearcache exited at start (",
                                              DescribeWaitStatus(wstatus),
                                              "); log:\n", Log()));
    }
    if (!answering) answering = AnswersPing();
    if (answering && !options_.wait_for_redis) return absl::OkStatus();
    if (answering) {
      RedisReply r = Command({"GET", kReadyKey});
      if (!r.is_error()) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat(
      "nearcache did not ", answering ? "reach Redis" : "answer PING",
      " within ", absl::FormatDuration(kStartTimeout), "; log:\n", Log()));
}

absl::Status NearcacheProcess::RewriteConfig(
    std::vector<std::pair<std::string, std::string>> overrides) {
  options_.overrides = std::move(overrides);
  return RewriteConfigText(RenderConfig());
}

absl::Status NearcacheProcess::RewriteConfigText(const std::string& text) {
  // Write a new file and rename it over the old one: a reload never reads
  // half a file.
  const std::string tmp = config_path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return absl::InternalError("cannot write " + tmp);
  }
  if (rename(tmp.c_str(), config_path_.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename: ", strerror(errno)));
  }
  config_text_ = text;
  return absl::OkStatus();
}

bool NearcacheProcess::WaitForLog(const std::string& text) const {
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(Log(), text)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

void NearcacheProcess::Signal(int signo) {
  if (pid_ > 0) kill(pid_, signo);
}

absl::Status NearcacheProcess::Stop() {
  client_.reset();
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, SIGTERM);
  return WaitForCleanExit();
}

absl::Status NearcacheProcess::WaitForCleanExit() {
  client_.reset();
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  int wstatus = 0;
  if (!WaitFor(pid_, kStopTimeout, &wstatus)) {
    Kill();
    return absl::DeadlineExceededError(absl::StrCat(
        "nearcache did not exit within ", absl::FormatDuration(kStopTimeout)));
  }
  pid_ = -1;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(
        absl::StrCat("nearcache ended with ", DescribeWaitStatus(wstatus)));
  }
  struct stat st;
  if (lstat(socket_path_.c_str(), &st) == 0) {
    return absl::InternalError(
        absl::StrCat("nearcache left its socket file behind: ", socket_path_));
  }
  return absl::OkStatus();
}

void NearcacheProcess::Kill() {
  client_.reset();
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string NearcacheProcess::Log() const {
  return log_path_.empty() ? "" : ReadFile(log_path_);
}

bool NearcacheProcess::AnswersPing() const {
  timeval tv = {0, 200 * 1000};
  RedisClient c(redisConnectUnixWithTimeout(socket_path_.c_str(), tv));
  if (c == nullptr || c->err != 0) return false;
  if (redisSetTimeout(c.get(), tv) != REDIS_OK) return false;
  RedisReply r = ClientCommand(c.get(), {"PING"});
  return r == RedisReply::Status("PONG");
}

RedisReply NearcacheProcess::Command(const std::vector<std::string>& args) {
  if (client_ == nullptr) {
    client_ = Connect();
    if (client_ == nullptr) {
      return RedisReply::Error(
          absl::StrCat("CLIENT: connect to ", socket_path_, " failed"));
    }
  }
  RedisReply r = ClientCommand(client_.get(), args);
  if (r.is_error() && absl::StartsWith(r.str, "CLIENT:")) client_.reset();
  return r;
}

RedisClient NearcacheProcess::Connect() const {
  return ConnectUnix(socket_path_);
}

void MergeOverrides(
    std::vector<std::pair<std::string, std::string>>* base,
    const std::vector<std::pair<std::string, std::string>>& changes) {
  for (const auto& [path, value] : changes) {
    bool found = false;
    for (auto& [p, v] : *base) {
      if (p == path) {
        v = value;
        found = true;
      }
    }
    if (!found) base->emplace_back(path, value);
  }
}

}  // namespace nearcache
