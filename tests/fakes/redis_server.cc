#include "tests/fakes/redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
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
#include "tests/fakes/subprocess.h"

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

// Runs `args` (argv[0] looked up in PATH) with stdout and stderr appended
// to `log_path`, and waits for it.
absl::Status RunTool(std::vector<std::string> args,
                     const std::string& log_path) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open(", log_path, "): ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
    return absl::OkStatus();
  }
  std::ifstream in(log_path);
  std::stringstream log;
  log << in.rdbuf();
  return absl::InternalError(absl::StrCat(args[0], " ", args[1],
                                          " failed (status ", wstatus,
                                          "); log:\n", log.str()));
}

bool WriteFile(const std::string& path, absl::string_view text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
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
  if (options_.tls && tls_port_ == 0) {
    for (int tries = 0; tries < 10 && (tls_port_ == 0 || tls_port_ == port_);
         ++tries) {
      tls_port_ = PickFreePort();
    }
    if (tls_port_ == 0 || tls_port_ == port_) {
      tls_port_ = 0;
      return absl::InternalError("no free TCP port for TLS");
    }
  }
  if (options_.tls && tls_files_.ca_cert.empty()) {
    if (absl::Status made = MakeTlsFiles(); !made.ok()) return made;
  }

  std::vector<std::string> args = {binary_, "--port", std::to_string(port_)};
  if (options_.tcp || options_.tls) {
    args.insert(args.end(), {"--bind", "127.0.0.1"});
  }
  if (options_.tls) {
    args.insert(args.end(), {"--tls-port", std::to_string(tls_port_),
                             "--tls-cert-file", tls_files_.server_cert,
                             "--tls-key-file", tls_files_.server_key,
                             "--tls-ca-cert-file", tls_files_.ca_cert,
                             "--tls-auth-clients", options_.tls_auth_clients});
  }
  args.insert(args.end(),
              {"--unixsocket", unix_path_, "--unixsocketperm", "700", "--save",
               "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no"});
  if (!options_.requirepass.empty()) {
    args.insert(args.end(), {"--requirepass", options_.requirepass});
  }
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  unlink(unix_path_.c_str());
  std::string log_path = dir_ + "/redis.log";
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open(", log_path, "): ", strerror(errno)));
  }

  const pid_t pid = SpawnChild(args, log_fd, log_fd);
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
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

RedisEndpoint RedisServerProcess::tls_endpoint(int db, std::string host) const {
  RedisEndpoint e;
  e.transport = RedisEndpoint::Transport::kTls;
  e.host = std::move(host);
  e.port = static_cast<uint16_t>(tls_port_);
  e.db = db;
  return e;
}

absl::Status RedisServerProcess::MakeTlsFiles() {
  const std::string log = dir_ + "/openssl.log";
  auto path = [&](absl::string_view name) {
    return absl::StrCat(dir_, "/", name);
  };
  // EC keys: generated in milliseconds, unlike RSA.
  auto make_ca = [&](absl::string_view name, absl::string_view cn) {
    return RunTool({"openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    path(absl::StrCat(name, ".key")),
                    "-out",
                    path(absl::StrCat(name, ".crt")),
                    "-days",
                    "7",
                    "-subj",
                    absl::StrCat("/CN=", cn),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign"},
                   log);
  };
  auto make_leaf = [&](absl::string_view name, absl::string_view cn,
                       absl::string_view serial,
                       absl::string_view extensions) -> absl::Status {
    std::string ext = path(absl::StrCat(name, ".ext"));
    if (!WriteFile(ext, extensions)) {
      return absl::InternalError(absl::StrCat("cannot write ", ext));
    }
    std::string csr = path(absl::StrCat(name, ".csr"));
    absl::Status s = RunTool({"openssl", "req", "-newkey", "ec", "-pkeyopt",
                              "ec_paramgen_curve:prime256v1", "-nodes",
                              "-keyout", path(absl::StrCat(name, ".key")),
                              "-out", csr, "-subj", absl::StrCat("/CN=", cn)},
                             log);
    if (!s.ok()) return s;
    return RunTool(
        {"openssl", "x509", "-req", "-in", csr, "-CA", path("ca.crt"), "-CAkey",
         path("ca.key"), "-set_serial", std::string(serial), "-days", "7",
         "-extfile", ext, "-out", path(absl::StrCat(name, ".crt"))},
        log);
  };
  absl::Status s = make_ca("ca", "nearcache test CA");
  if (s.ok()) s = make_ca("other-ca", "nearcache other test CA");
  if (s.ok()) {
    s = make_leaf("server", "localhost", "2",
                  "basicConstraints=CA:FALSE\n"
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                  "extendedKeyUsage=serverAuth\n");
  }
  if (s.ok()) {
    s = make_leaf("client", "nearcache-client", "3",
                  "basicConstraints=CA:FALSE\n"
                  "extendedKeyUsage=clientAuth\n");
  }
  if (!s.ok()) return s;
  tls_files_.ca_cert = path("ca.crt");
  tls_files_.server_cert = path("server.crt");
  tls_files_.server_key = path("server.key");
  tls_files_.client_cert = path("client.crt");
  tls_files_.client_key = path("client.key");
  tls_files_.other_ca_cert = path("other-ca.crt");
  return absl::OkStatus();
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

int64_t InfoField(const RedisReply& info, absl::string_view field) {
  const std::string needle = absl::StrCat(field, ":");
  const size_t at = info.str.find(needle);
  if (at == std::string::npos) return -1;
  const size_t begin = at + needle.size();
  const size_t end = info.str.find("\r\n", begin);
  int64_t v = -1;
  if (!absl::SimpleAtoi(info.str.substr(begin, end - begin), &v)) return -1;
  return v;
}

}  // namespace nearcache
