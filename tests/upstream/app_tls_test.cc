// nearcache (App, in process) configured with a rediss:// address, an ACL
// user and a client certificate reads through TLS and is kept coherent by an
// invalidation link over TLS, against a real redis-server that requires
// client certificates.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "app/app.h"
#include "gtest/gtest.h"
#include "nearcache/config.h"
#include "tests/fakes/redis_server.h"

namespace nearcache {
namespace {

constexpr absl::Duration kWaitLimit = absl::Seconds(20);

// A blocking hiredis connection to nearcache's RESP socket.
class Client {
 public:
  explicit Client(const std::string& path) {
    timeval tv = {10, 0};
    c_ = redisConnectUnixWithTimeout(path.c_str(), tv);
    if (c_ != nullptr && c_->err == 0) redisSetTimeout(c_, tv);
  }
  ~Client() {
    if (c_ != nullptr) redisFree(c_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return c_ != nullptr && c_->err == 0; }

  // The reply to GET `key`: its value, "(nil)", or "ERR: <error>".
  std::string Get(const std::string& key) {
    auto* r = static_cast<redisReply*>(
        redisCommand(c_, "GET %b", key.data(), key.size()));
    if (r == nullptr) return absl::StrCat("ERR: client: ", c_->errstr);
    std::string out;
    if (r->type == REDIS_REPLY_STRING) {
      out.assign(r->str, r->len);
    } else if (r->type == REDIS_REPLY_NIL) {
      out = "(nil)";
    } else {
      out = absl::StrCat("ERR: ", r->str != nullptr ? r->str : "?");
    }
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_ = nullptr;
};

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Polls GET `key` through `client` until it returns `want`; the last reply.
std::string GetUntil(Client& client, const std::string& key,
                     const std::string& want) {
  absl::Time deadline = absl::Now() + kWaitLimit;
  std::string got;
  while (absl::Now() < deadline) {
    got = client.Get(key);
    if (got == want) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return got;
}

TEST(AppTlsTest, ReadsThroughRedissWithAclUserAndClientCertificate) {
  RedisServerOptions redis_options;
  redis_options.tls = true;
  redis_options.tls_auth_clients = "yes";
  RedisServerProcess redis(redis_options);
  absl::Status started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  // &*: the invalidation link SUBSCRIBEs (Redis 7 users get no channels).
  ASSERT_FALSE(redis
                   .Command({"ACL", "SETUSER", "feast", "on", ">secret", "~*",
                             "&*", "+@read", "+client", "+select", "+ping",
                             "+subscribe", "+hello"})
                   .is_error());
  redis.Command({"SET", "feature:1", "v1"});

  const TlsFiles& tls = redis.tls_files();
  // The certificate names localhost: the name checked is the address's host.
  std::string yaml = absl::StrCat(
      "listen:\n"
      "  resp_socket: ",
      redis.dir(),
      "/nearcache.sock\n"
      "  http_socket: \"\"\n"
      "admin:\n"
      "  address: 127.0.0.1:",
      FreePort(),
      "\n"
      "redis:\n"
      "  address: rediss://localhost:",
      redis.tls_port(),
      "/0\n"
      "  username: feast\n"
      "  connect_timeout: 2s\n"
      "  command_timeout: 2s\n"
      "  pool_size: 2\n"
      "  tls:\n"
      "    ca_file: ",
      tls.ca_cert,
      "\n"
      "    cert_file: ",
      tls.client_cert,
      "\n"
      "    key_file: ",
      tls.client_key,
      "\n"
      "cache:\n"
      "  ttl: 1h\n"
      "log:\n"
      "  level: warn\n");
  absl::StatusOr<Config> config = ParseConfig(yaml, "app_tls_test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->redis.endpoint.transport, RedisEndpoint::Transport::kTls);
  config->redis.password = "secret";

  App app(*std::move(config));
  absl::Status app_started = app.Start();
  ASSERT_TRUE(app_started.ok()) << app_started;

  Client client(redis.dir() + "/nearcache.sock");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(GetUntil(client, "feature:1", "v1"), "v1");
  EXPECT_EQ(GetUntil(client, "feature:absent", "(nil)"), "(nil)");

  // Every connection nearcache holds is an authenticated TLS client of the
  // ACL user (the test's own client is on the plain Unix socket).
  RedisReply list = redis.Command({"CLIENT", "LIST"});
  EXPECT_NE(list.str.find("user=feast"), std::string::npos) << list.str;

  // The change reaches nearcache through the invalidation link (over TLS
  // too): with a 1h TTL nothing else would refresh the cached v1.
  redis.Command({"SET", "feature:1", "v2"});
  EXPECT_EQ(GetUntil(client, "feature:1", "v2"), "v2");
}

}  // namespace
}  // namespace nearcache
