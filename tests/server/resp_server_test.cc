// RespServer over a real Unix socket, with the cache and a fake Redis behind
// it: the connection-level limits of the RESP front-end (peer credentials,
// idle timeout, output buffer limit, max connections) and that none of them
// costs cached data or stalls other clients.
#include "server/resp_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/clock.h"
#include "resp/command.h"
#include "tests/http/fake_fetcher.h"

namespace nearcache {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A blocking Unix-socket client with bounded waits.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n =
          send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until `want` bytes arrived, EOF, or 20 s without data. Returns
  // what arrived; *eof says whether the server closed.
  std::string Read(size_t want, bool* eof = nullptr) {
    std::string got;
    if (eof) *eof = false;
    while (got.size() < want) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) break;
      char buf[65536];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (eof) *eof = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  // Waits (up to 20 s) for the server to close; true when it did.
  bool WaitForClose() {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) return false;
      char buf[65536];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
  }

  std::string Command(const std::vector<std::string>& args) {
    std::string req = absl::StrCat("*", args.size(), "\r\n");
    for (const std::string& a : args) {
      absl::StrAppend(&req, "$", a.size(), "\r\n", a, "\r\n");
    }
    if (!Send(req)) return "";
    // Enough for the short replies these tests read this way.
    std::string reply;
    for (;;) {
      std::string more = Read(1);
      if (more.empty()) return reply;
      reply += more;
      if (reply.size() >= 2 &&
          reply.compare(reply.size() - 2, 2, "\r\n") == 0 &&
          !StartsWithBulk(reply)) {
        return reply;
      }
      if (StartsWithBulk(reply) && BulkComplete(reply)) return reply;
    }
  }

 private:
  static bool StartsWithBulk(const std::string& r) { return r[0] == '$'; }
  static bool BulkComplete(const std::string& r) {
    const size_t eol = r.find("\r\n");
    if (eol == std::string::npos) return false;
    const long len = std::strtol(r.c_str() + 1, nullptr, 10);
    if (len < 0) return true;
    return r.size() >= eol + 2 + static_cast<size_t>(len) + 2;
  }

  int fd_ = -1;
  bool connected_ = false;
};

class RespServerTest : public ::testing::Test {
 protected:
  RespServerTest()
      : cache_(CacheOptions{}, SystemClock()),
        fetcher_(&cache_),
        metrics_(RespHandler::CommandLabels()),
        dir_(MakeTempDir()) {
    context_.cache = &cache_;
    context_.fetcher = &fetcher_;
    context_.counters = &counters_;
    context_.metrics = &metrics_;
    context_.version = "test";
    context_.started = SystemClock()->Now();
    options_.unix_path = dir_ + "/redis.sock";
  }

  ~RespServerTest() override {
    if (server_) server_->Stop();
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    unlink(options_.unix_path.c_str());
    rmdir(dir_.c_str());
  }

  static std::string MakeTempDir() {
    char tmpl[] = "/tmp/nc_resp_server_test.XXXXXX";
    const char* d = mkdtemp(tmpl);
    return d ? std::string(d) : std::string("/tmp");
  }

  void StartServer() {
    server_ = std::make_unique<RespServer>(
        options_, &context_, std::vector<asio::io_context*>{&io_});
    ASSERT_TRUE(server_->Start().ok());
    thread_ = std::thread([this] { io_.run(); });
  }

  ShardedLruCache cache_;
  FakeFetcher fetcher_;
  LookupCounters counters_;
  FrontendMetrics metrics_;
  FrontendContext context_;
  std::string dir_;
  RespServerOptions options_;
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      guard_{asio::make_work_guard(io_)};
  std::unique_ptr<RespServer> server_;
  std::thread thread_;
};

TEST_F(RespServerTest, ServesGetAndPipelinedCommands) {
  fetcher_.SetString("k", "v1");
  StartServer();
  Client c(options_.unix_path);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Command({"GET", "k"}), "$2\r\nv1\r\n");
  // 1000 pipelined commands in one send: every reply, in order.
  std::string req, want;
  for (int i = 0; i < 1000; ++i) {
    req += "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    want += "$2\r\nv1\r\n+PONG\r\n";
  }
  ASSERT_TRUE(c.Send(req));
  EXPECT_EQ(c.Read(want.size()), want);
  // The second read was a hit: Redis was asked once.
  EXPECT_EQ(fetcher_.requested().size(), 1u);
}

TEST_F(RespServerTest, RefusesPeerWhoseUidIsNotAllowed) {
  options_.allowed_uids = {getuid() + 1};
  StartServer();
  Client c(options_.unix_path);
  ASSERT_TRUE(c.connected());
  bool eof = false;
  const std::string got = c.Read(1000, &eof);
  EXPECT_THAT(got, StartsWith("-NOPERM "));
  EXPECT_TRUE(eof);
  EXPECT_EQ(context_.disconnects_peer_uid.load(), 1u);
  EXPECT_EQ(context_.connected_clients.load(), 0);
}

TEST_F(RespServerTest, AcceptsPeerWhoseUidIsAllowed) {
  options_.allowed_uids = {getuid() + 1, getuid()};
  StartServer();
  Client c(options_.unix_path);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(context_.disconnects_peer_uid.load(), 0u);
}

TEST_F(RespServerTest, RefusesConnectionsBeyondMaxConnections) {
  options_.max_connections = 2;
  StartServer();
  Client a(options_.unix_path), b(options_.unix_path);
  EXPECT_EQ(a.Command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(b.Command({"PING"}), "+PONG\r\n");
  Client c(options_.unix_path);
  bool eof = false;
  EXPECT_EQ(c.Read(1000, &eof), "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(eof);
  EXPECT_EQ(context_.disconnects_max_clients.load(), 1u);
  // The two admitted clients are unaffected.
  EXPECT_EQ(a.Command({"PING"}), "+PONG\r\n");
}

TEST_F(RespServerTest, IdleTimeoutClosesIdleConnectionsOnly) {
  options_.idle_timeout = absl::Milliseconds(300);
  fetcher_.SetString("k", "v");
  StartServer();
  Client idle(options_.unix_path);
  Client busy(options_.unix_path);
  ASSERT_TRUE(idle.connected());
  ASSERT_EQ(idle.Command({"GET", "k"}), "$1\r\nv\r\n");
  // The busy client keeps talking for well over the timeout.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  int rounds = 0;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(busy.Command({"PING"}), "+PONG\r\n") << "round " << rounds;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++rounds;
  }
  EXPECT_TRUE(idle.WaitForClose());
  EXPECT_GE(context_.disconnects_idle.load(), 1u);
  EXPECT_EQ(busy.Command({"GET", "k"}), "$1\r\nv\r\n");
  // Closing idle clients loses nothing cached.
  EXPECT_EQ(fetcher_.requested().size(), 1u);
}

TEST_F(RespServerTest, NoIdleTimeoutByDefault) {
  StartServer();
  Client c(options_.unix_path);
  ASSERT_EQ(c.Command({"PING"}), "+PONG\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.Command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(context_.disconnects_idle.load(), 0u);
}

TEST_F(RespServerTest, SlowReaderBeyondOutputLimitIsDisconnected) {
  options_.max_output_bytes = 256 * 1024;
  const std::string big(16 * 1024, 'x');
  fetcher_.SetString("big", big);
  StartServer();
  Client reader(options_.unix_path);
  ASSERT_EQ(reader.Command({"GET", "big"}).size(), big.size() + 10);

  // 400 pipelined GETs of 16 KiB (6.4 MiB of replies) that are never read.
  Client slow(options_.unix_path);
  std::string req;
  for (int i = 0; i < 400; ++i) req += "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  ASSERT_TRUE(slow.Send(req));
  for (int i = 0; i < 2000 && context_.disconnects_output_limit.load() == 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(context_.disconnects_output_limit.load(), 1u);
  EXPECT_TRUE(slow.WaitForClose());
  // Other clients were not stalled and the cache kept the value.
  EXPECT_EQ(reader.Command({"GET", "big"}).size(), big.size() + 10);
  EXPECT_EQ(fetcher_.requested().size(), 1u);
  EXPECT_EQ(cache_.Stats().entries, 1u);
}

TEST_F(RespServerTest, SlowReaderWithinLimitGetsEveryByte) {
  options_.max_output_bytes = 0;  // no limit
  const std::string big(64 * 1024, 'y');
  fetcher_.SetString("big", big);
  StartServer();
  Client slow(options_.unix_path);
  std::string req, want;
  for (int i = 0; i < 100; ++i) {
    req += "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    want += absl::StrCat("$", big.size(), "\r\n", big, "\r\n");
  }
  ASSERT_TRUE(slow.Send(req));
  // Let the server hit a full socket buffer and wait for writability.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string got;
  while (got.size() < want.size()) {
    std::string more = slow.Read(1);
    if (more.empty()) break;
    got += more;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_TRUE(got == want) << "got " << got.size() << " of " << want.size();
  EXPECT_EQ(context_.disconnects_output_limit.load(), 0u);
}

TEST_F(RespServerTest, DrainClosesIdleConnectionsAndFinishesBusyOnes) {
  fetcher_.SetString("k", "v");
  StartServer();
  Client a(options_.unix_path);
  ASSERT_EQ(a.Command({"GET", "k"}), "$1\r\nv\r\n");
  server_->Stop();
  server_->Drain();
  EXPECT_TRUE(a.WaitForClose());
  for (int i = 0; i < 2000 && context_.connected_clients.load() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(context_.connected_clients.load(), 0);
  // The socket file is gone.
  EXPECT_NE(access(options_.unix_path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace nearcache
