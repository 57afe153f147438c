// RedisConnection and UpstreamPool over TLS (rediss://) against a real
// redis-server with --tls-port, and a CA, server and client certificates the
// fixture makes with openssl.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/redis_server.h"
#include "tests/upstream/run_coroutine.h"
#include "upstream/redis_connection.h"
#include "upstream/tls_context.h"
#include "upstream/upstream_pool.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ConnPtr = std::shared_ptr<RedisConnection>;

RedisReply Str(std::string s) { return RedisReply::String(std::move(s)); }

asio::awaitable<absl::Status> ConnectInto(asio::any_io_executor ex,
                                          ConnectionOptions options,
                                          ConnPtr* out) {
  absl::StatusOr<ConnPtr> c =
      co_await RedisConnection::Connect(std::move(ex), std::move(options));
  if (!c.ok()) co_return c.status();
  *out = *std::move(c);
  co_return absl::OkStatus();
}

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { StartRedis("no"); }

  // tls-auth-clients: "no", "optional" or "yes".
  void StartRedis(std::string auth_clients) {
    RedisServerOptions o;
    o.tls = true;
    o.tls_auth_clients = std::move(auth_clients);
    redis_ = std::make_unique<RedisServerProcess>(std::move(o));
    absl::Status started = redis_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // rediss://127.0.0.1:<tls port>, verified with the fixture's CA.
  ConnectionOptions Options() {
    ConnectionOptions o;
    o.endpoint = redis_->tls_endpoint();
    o.tls.ca_file = redis_->tls_files().ca_cert;
    o.connect_timeout = absl::Seconds(5);
    o.command_timeout = absl::Seconds(5);
    return o;
  }

  ConnectionOptions WithClientCert(ConnectionOptions o) {
    o.tls.cert_file = redis_->tls_files().client_cert;
    o.tls.key_file = redis_->tls_files().client_key;
    return o;
  }

  absl::StatusOr<ConnPtr> TryConnect(ConnectionOptions o) {
    ConnPtr c;
    absl::Status s =
        Await(io_, ConnectInto(io_.get_executor(), std::move(o), &c));
    if (!s.ok()) return s;
    return c;
  }

  ConnPtr Connect(ConnectionOptions o) {
    absl::StatusOr<ConnPtr> c = TryConnect(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }

  absl::StatusOr<RedisReply> Exec(const ConnPtr& c,
                                  std::vector<std::string> args) {
    return Await(io_, c->Execute(std::move(args)));
  }

  // SET then GET on `c`: the round trip works both ways.
  void ExpectSetGet(const ConnPtr& c) {
    ASSERT_NE(c, nullptr);
    absl::StatusOr<RedisReply> set = Exec(c, {"SET", "k", "over tls"});
    ASSERT_TRUE(set.ok()) << set.status();
    EXPECT_EQ(set->str, "OK");
    absl::StatusOr<RedisReply> got = Exec(c, {"GET", "k"});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, Str("over tls"));
  }

  boost::asio::io_context io_;
  std::unique_ptr<RedisServerProcess> redis_;
};

TEST_F(RedisTlsTest, ConnectsAndRunsCommands) {
  ConnPtr c = Connect(Options());
  ExpectSetGet(c);
  EXPECT_GT(c->client_id(), 0);
  EXPECT_EQ(redis_->Command({"GET", "k"}), Str("over tls"));
  absl::StatusOr<RedisReply> name = Exec(c, {"CLIENT", "GETNAME"});
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, Str("nearcache"));
}

TEST_F(RedisTlsTest, HostNameIsCheckedAgainstDnsNames) {
  ConnectionOptions o = Options();
  o.endpoint = redis_->tls_endpoint(0, "localhost");
  ExpectSetGet(Connect(o));
}

TEST_F(RedisTlsTest, LargeValuesAndPipelinesCrossManyTlsRecords) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  // Bigger than a TLS record (16 KiB) and the read chunk many times over.
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i);
  ASSERT_TRUE(Exec(c, {"SET", "big", big}).ok());
  absl::StatusOr<RedisReply> got = Exec(c, {"GET", "big"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->str == big);

  std::vector<std::shared_ptr<std::optional<absl::StatusOr<RedisReply>>>> rs;
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> args = {"ECHO", absl::StrCat("m", i)};
    rs.push_back(Spawn(io_, c->Execute(std::move(args))));
  }
  ASSERT_TRUE(RunUntil(io_, [&] {
    for (auto& r : rs) {
      if (!r->has_value()) return false;
    }
    return true;
  }));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(rs[i]->value().ok()) << rs[i]->value().status();
    EXPECT_EQ(*rs[i]->value(), Str(absl::StrCat("m", i)));
  }
}

TEST_F(RedisTlsTest, SubscriberModeOverTls) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  std::vector<RedisReply> messages;
  c->SetPushHandler([&](RedisReply r) { messages.push_back(std::move(r)); });
  ASSERT_TRUE(Await(io_, c->Subscribe({"chan"})).ok());
  redis_->Command({"PUBLISH", "chan", "hello"});
  ASSERT_TRUE(RunUntil(io_, [&] { return !messages.empty(); }));
  EXPECT_EQ(messages[0],
            RedisReply::Array({Str("message"), Str("chan"), Str("hello")}));
  EXPECT_TRUE(Await(io_, c->Ping()).ok());
}

TEST_F(RedisTlsTest, UnknownCaFailsVerification) {
  ConnectionOptions o = Options();
  o.tls.ca_file = redis_->tls_files().other_ca_cert;
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(c.status().ToString(),
              HasSubstr(redis_->tls_files().other_ca_cert));
  EXPECT_THAT(
      c.status().ToString(),
      HasSubstr(absl::StrCat("rediss://127.0.0.1:", redis_->tls_port())));
}

TEST_F(RedisTlsTest, ServerNameMismatchFailsOnlyWhenVerifying) {
  ConnectionOptions o = Options();
  o.tls.server_name = "redis.example.com";
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(c.status().ToString(), HasSubstr("hostname mismatch"));
  EXPECT_THAT(c.status().ToString(), HasSubstr("redis.example.com"));

  // An IP address that is not in the certificate.
  o.tls.server_name = "10.1.2.3";
  c = TryConnect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("IP address mismatch"));

  o.tls.server_name = "redis.example.com";
  o.tls.verify = false;
  ExpectSetGet(Connect(o));
}

TEST_F(RedisTlsTest, VerifyOffNeedsNoCa) {
  ConnectionOptions o = Options();
  o.tls.ca_file = "";
  o.tls.verify = false;
  ExpectSetGet(Connect(o));
}

TEST_F(RedisTlsTest, SystemCasDoNotTrustATestCa) {
  ConnectionOptions o = Options();
  o.tls.ca_file = "";
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("the system's"));
}

TEST_F(RedisTlsTest, UnreadableFilesAreInvalidArguments) {
  ConnectionOptions o = Options();
  o.tls.ca_file = redis_->dir() + "/missing.crt";
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("missing.crt"));
  EXPECT_THAT(c.status().ToString(), HasSubstr("No such file"));

  // A key that is not the certificate's.
  TlsOptions tls;
  tls.ca_file = redis_->tls_files().ca_cert;
  tls.cert_file = redis_->tls_files().client_cert;
  tls.key_file = redis_->tls_files().server_key;
  absl::Status mismatch = MakeTlsContext(tls).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument) << mismatch;
  EXPECT_THAT(mismatch.ToString(), HasSubstr("server.key"));

  // Not PEM at all.
  tls.cert_file = "";
  tls.key_file = "";
  tls.ca_file = redis_->dir() + "/redis.log";
  absl::Status garbage = MakeTlsContext(tls).status();
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument) << garbage;
  EXPECT_THAT(garbage.ToString(), HasSubstr("redis.log"));

  tls.ca_file = redis_->tls_files().ca_cert;
  tls.cert_file = redis_->tls_files().client_cert;
  absl::Status half = MakeTlsContext(tls).status();
  EXPECT_EQ(half.code(), absl::StatusCode::kInvalidArgument) << half;
}

TEST_F(RedisTlsTest, ClientCertificateRequiredByServer) {
  StartRedis("yes");
  ExpectSetGet(Connect(WithClientCert(Options())));

  absl::StatusOr<ConnPtr> without = TryConnect(Options());
  EXPECT_FALSE(without.ok());
  EXPECT_EQ(without.status().code(), absl::StatusCode::kUnavailable)
      << without.status();
  EXPECT_THAT(without.status().ToString(), HasSubstr("certificate"));
}

TEST_F(RedisTlsTest, ClientCertificateOptionalIsSent) {
  StartRedis("optional");
  ExpectSetGet(Connect(Options()));
  ExpectSetGet(Connect(WithClientCert(Options())));
}

TEST_F(RedisTlsTest, TlsToAPlainPortFails) {
  RedisServerOptions plain_options;
  plain_options.tcp = true;
  RedisServerProcess plain(plain_options);
  ASSERT_TRUE(plain.Start().ok());
  ConnectionOptions o = Options();
  o.endpoint.port = static_cast<uint16_t>(plain.port());
  o.connect_timeout = absl::Seconds(2);
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(c.status().ToString(), HasSubstr("TLS handshake")) << c.status();
}

TEST_F(RedisTlsTest, HandshakeIsBoundedByConnectTimeout) {
  // A stopped server: the kernel accepts the TCP connection, nobody answers
  // the ClientHello.
  redis_->Pause();
  ConnectionOptions o = Options();
  o.connect_timeout = absl::Milliseconds(300);
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  redis_->Resume();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded)
      << c.status();
  EXPECT_THAT(c.status().ToString(), HasSubstr("TLS handshake"));
}

TEST_F(RedisTlsTest, AclUserOverMutualTls) {
  StartRedis("yes");
  ASSERT_FALSE(
      redis_
          ->Command({"ACL", "SETUSER", "feast", "on", ">secret", "~*", "+@read",
                     "+client", "+select", "+ping", "+subscribe", "+hello"})
          .is_error());
  redis_->Command({"SET", "feature:1", "v1"});
  ConnectionOptions o = WithClientCert(Options());
  o.username = "feast";
  o.password = "secret";
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  absl::StatusOr<RedisReply> got = Exec(c, {"GET", "feature:1"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Str("v1"));
  absl::StatusOr<RedisReply> set = Exec(c, {"SET", "feature:1", "x"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->is_error());
  EXPECT_THAT(set->str, HasSubstr("NOPERM"));

  o.password = "wrong";
  absl::StatusOr<ConnPtr> bad = TryConnect(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated)
      << bad.status();
}

class TlsPoolTest : public RedisTlsTest {
 protected:
  UpstreamPoolOptions PoolOptions(int pool_size) {
    UpstreamPoolOptions o;
    o.conn = Options();
    o.conn.connect_timeout = absl::Seconds(2);
    o.conn.command_timeout = absl::Seconds(2);
    o.pool_size = pool_size;
    o.reconnect_min = absl::Milliseconds(20);
    o.reconnect_max = absl::Milliseconds(100);
    return o;
  }

  absl::StatusOr<RedisReply> Exec(UpstreamPool& pool,
                                  std::vector<std::string> args) {
    return Await(io_, pool.Execute(std::move(args)));
  }
};

TEST_F(TlsPoolTest, ServesAndReconnectsAfterRestart) {
  UpstreamPool pool(io_.get_executor(), PoolOptions(2));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 2; }))
      << pool.last_connect_error();
  redis_->Command({"SET", "k", "before"});
  absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Str("before"));

  ASSERT_TRUE(redis_->Restart().ok());
  // The restarted server has no data; the pool notices the dead connections
  // and reconnects over TLS on its own.
  redis_->Command({"SET", "k", "after"});
  ASSERT_TRUE(RunUntil(io_, [&] {
    if (pool.stats().connections_up < 2) return false;
    absl::StatusOr<RedisReply> got = Exec(pool, {"GET", "k"});
    return got.ok() && *got == Str("after");
  })) << pool.last_connect_error();
  EXPECT_GE(pool.stats().connects_ok, 4u);
  EXPECT_TRUE(pool.last_connect_error().ok()) << pool.last_connect_error();
}

TEST_F(TlsPoolTest, VerificationFailureIsWhyRequestsAreRejected) {
  UpstreamPoolOptions o = PoolOptions(1);
  o.conn.tls.ca_file = redis_->tls_files().other_ca_cert;
  UpstreamPool pool(io_.get_executor(), o);
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connects_failed > 0; }));
  EXPECT_FALSE(pool.up());
  absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().ToString(), HasSubstr("no connection to Redis"));
  EXPECT_THAT(r.status().ToString(), HasSubstr("certificate verify failed"));
  EXPECT_EQ(pool.last_connect_error().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TlsPoolTest, BadTlsFileStopsThePoolAtStart) {
  UpstreamPoolOptions o = PoolOptions(2);
  o.conn.tls.ca_file = redis_->dir() + "/nope.pem";
  UpstreamPool pool(io_.get_executor(), o);
  pool.Start();
  EXPECT_EQ(pool.last_connect_error().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pool.last_connect_error().ToString(), HasSubstr("nope.pem"));
  RunFor(io_, absl::Milliseconds(100));
  EXPECT_EQ(pool.stats().connects_failed, 1u);
  absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
  EXPECT_THAT(r.status().ToString(), HasSubstr("nope.pem"));
}

TEST_F(TlsPoolTest, ClientCertificateForEveryConnection) {
  StartRedis("yes");
  UpstreamPoolOptions o = PoolOptions(3);
  o.conn = WithClientCert(o.conn);
  UpstreamPool pool(io_.get_executor(), o);
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 3; }))
      << pool.last_connect_error();
  EXPECT_TRUE(Exec(pool, {"PING"}).ok());
}

}  // namespace
}  // namespace nearcache
