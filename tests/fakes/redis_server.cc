#include "tests/fakes/redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nearcache {
namespace {

constexpr char kDefaultBinary[] = "/usr/bin/redis-server";
constexpr absl::Duration kStartTimeout = absl::Seconds(10);
constexpr int kClientTimeoutSeconds = 10;

// A TCP port that was free a moment ago. Redis sets SO_REUSEADDR, so the
// same port also works again after a Restart().
int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// True when a fresh connection to `path` gets any reply to PING (-NOAUTH
// counts: the server is up).
bool AnswersPing(const std::string& path) {
  timeval tv = {0, 200 * 1000};
  redisContext* c = redisConnectUnixWithTimeout(path.c_str(), tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
    void* reply = redisCommand(c, "PING");
    if (reply != nullptr) {
      ok = true;
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return ok;
}

}  // namespace

RedisServerProcess::RedisServerProcess(RedisServerOptions options)
    : options_(std::move(options)) {
  const char* env = getenv("NEARCACHE_REDIS_SERVER");
  binary_ = (env != nullptr && env[0] != '\0') ? env : kDefaultBinary;
}

RedisServerProcess::~RedisServerProcess() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

absl::Status RedisServerProcess::Start() {
  if (running()) return absl::FailedPreconditionError("already running");
  if (dir_.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string templ =
        absl::StrCat((tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp",
                     "/nearcache-redis-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp(", templ, "): ", strerror(errno)));
    }
    dir_ = templ;
    unix_path_ = dir_ + "/redis.sock";
  }
  if (options_.tcp && port_ == 0) {
    port_ = PickFreePort();
    if (port_ == 0) return absl::InternalError("no free TCP port");
  }

  std::vector<std::string> args = {binary_, "--port", std::to_string(port_)};
  if (options_.tcp) {
    args.insert(args.end(), {"--bind", "127.0.0.1"});
  }
  args.insert(args.end(),
              {"--unixsocket", unix_path_, "--unixsocketperm", "700", "--save",
               "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no"});
  if (!options_.requirepass.empty()) {
    args.insert(args.end(), {"--requirepass", options_.requirepass});
  }
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  unlink(unix_path_.c_str());
  std::string log_path = dir_ + "/redis.log";
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open(", log_path, "): ", strerror(errno)));
  }

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died already
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Inherited sockets (the test's client connections) would keep peers
    // from seeing them close.
    if (close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  paused_ = false;

  absl::Time deadline = absl::Now() + kStartTimeout;
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat(binary_,
                                              " exited at start (status ",
                                              wstatus, "); log:\n", LogTail()));
    }
    if (AnswersPing(unix_path_)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(
      absl::StrCat(binary_, " did not answer PING within ",
                   absl::FormatDuration(kStartTimeout), "; log:\n", LogTail()));
}

void RedisServerProcess::Kill() {
  Disconnect();
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  paused_ = false;
}

absl::Status RedisServerProcess::Restart() {
  Kill();
  return Start();
}

void RedisServerProcess::Pause() {
  if (pid_ <= 0 || paused_) return;
  kill(pid_, SIGSTOP);
  // Wait until it is really stopped, so that the test's next step races
  // with nothing.
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, WUNTRACED) < 0 && errno == EINTR) {
  }
  paused_ = true;
}

void RedisServerProcess::Resume() {
  if (pid_ <= 0 || !paused_) return;
  kill(pid_, SIGCONT);
  int wstatus = 0;
  while (waitpid(pid_, &wstatus, WCONTINUED) < 0 && errno == EINTR) {
  }
  paused_ = false;
}

RedisEndpoint RedisServerProcess::unix_endpoint(int db) const {
  RedisEndpoint e;
  e.transport = RedisEndpoint::Transport::kUnix;
  e.unix_path = unix_path_;
  e.db = db;
  return e;
}

RedisEndpoint RedisServerProcess::tcp_endpoint(int db) const {
  RedisEndpoint e;
  e.transport = RedisEndpoint::Transport::kTcp;
  e.host = "127.0.0.1";
  e.port = static_cast<uint16_t>(port_);
  e.db = db;
  return e;
}

RedisReply RedisServerProcess::Command(std::vector<std::string> args) {
  if (client_ == nullptr) {
    timeval tv = {kClientTimeoutSeconds, 0};
    client_ = redisConnectUnixWithTimeout(unix_path_.c_str(), tv);
    if (client_ == nullptr || client_->err != 0) {
      std::string err =
          client_ == nullptr ? "out of memory" : std::string(client_->errstr);
      Disconnect();
      return RedisReply::Error(
          absl::StrCat("CLIENT: connect to ", unix_path_, " failed: ", err));
    }
    redisSetTimeout(client_, tv);
    if (!options_.requirepass.empty()) {
      RedisReply auth = Command({"AUTH", options_.requirepass});
      if (auth.is_error()) return auth;
    }
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(client_, static_cast<int>(argv.size()),
                               argv.data(), lens.data());
  if (raw == nullptr) {
    std::string err = client_->errstr;
    Disconnect();
    return RedisReply::Error(absl::StrCat("CLIENT: ", err));
  }
  RedisReply reply = RedisReplyFromHiredis(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  return reply;
}

int64_t RedisServerProcess::CommandCalls(absl::string_view command) {
  RedisReply info = Command({"INFO", "commandstats"});
  if (info.type != RedisReply::Type::kString) return -1;
  std::string needle =
      absl::StrCat("cmdstat_", absl::AsciiStrToLower(command), ":calls=");
  size_t at = info.str.find(needle);
  if (at == std::string::npos) return 0;
  at += needle.size();
  size_t end = info.str.find_first_not_of("0123456789", at);
  int64_t calls = 0;
  if (!absl::SimpleAtoi(info.str.substr(at, end - at), &calls)) return -1;
  return calls;
}

void RedisServerProcess::Disconnect() {
  if (client_ != nullptr) {
    redisFree(client_);
    client_ = nullptr;
  }
}

std::string RedisServerProcess::LogTail() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string log = ss.str();
  constexpr size_t kTail = 2000;
  return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

}  // namespace nearcache
