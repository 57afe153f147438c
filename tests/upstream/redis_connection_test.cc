// RedisConnection against a real redis-server on a temporary Unix socket.
#include "upstream/redis_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/redis_server.h"
#include "tests/upstream/run_coroutine.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ConnPtr = std::shared_ptr<RedisConnection>;

RedisReply Str(std::string s) { return RedisReply::String(std::move(s)); }

RedisServerOptions WithTcp() {
  RedisServerOptions o;
  o.tcp = true;
  return o;
}

RedisServerOptions WithPassword(std::string password) {
  RedisServerOptions o;
  o.requirepass = std::move(password);
  return o;
}

// Connects and hands the connection out through `out`: co_spawn'ing
// Connect() itself trips a false -Wmaybe-uninitialized in asio 1.74.
asio::awaitable<absl::Status> ConnectInto(asio::any_io_executor ex,
                                          ConnectionOptions options,
                                          ConnPtr* out) {
  absl::StatusOr<ConnPtr> c =
      co_await RedisConnection::Connect(std::move(ex), std::move(options));
  if (!c.ok()) co_return c.status();
  *out = *std::move(c);
  co_return absl::OkStatus();
}

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { StartRedis({}); }

  void StartRedis(RedisServerOptions options) {
    redis_ = std::make_unique<RedisServerProcess>(std::move(options));
    absl::Status started = redis_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  ConnectionOptions Options(int db = 0) {
    ConnectionOptions o;
    o.endpoint = redis_->unix_endpoint(db);
    // Generous: these tests are about behaviour, not speed.
    o.connect_timeout = absl::Seconds(5);
    o.command_timeout = absl::Seconds(5);
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

  boost::asio::io_context io_;
  std::unique_ptr<RedisServerProcess> redis_;
};

TEST_F(RedisConnectionTest, ConnectsNamesItselfAndRunsCommands) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->is_open());
  EXPECT_GT(c->client_id(), 0);

  absl::StatusOr<RedisReply> name = Exec(c, {"CLIENT", "GETNAME"});
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, Str("nearcache"));
  absl::StatusOr<RedisReply> id = Exec(c, {"CLIENT", "ID"});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, RedisReply::Integer(c->client_id()));

  ASSERT_TRUE(Exec(c, {"SET", "k", "v"}).ok());
  EXPECT_EQ(redis_->Command({"GET", "k"}), Str("v"));
  redis_->Command({"HSET", "h", "f", "x"});
  absl::StatusOr<RedisReply> got = Exec(c, {"HGETALL", "h"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, RedisReply::Array({Str("f"), Str("x")}));
  absl::StatusOr<RedisReply> missing = Exec(c, {"GET", "nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
}

TEST_F(RedisConnectionTest, ConnectsOverTcp) {
  StartRedis(WithTcp());
  ConnectionOptions o = Options();
  o.endpoint = redis_->tcp_endpoint();
  o.endpoint.host = "localhost";  // exercises the resolver
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  absl::StatusOr<RedisReply> pong = Exec(c, {"PING"});
  ASSERT_TRUE(pong.ok());
  EXPECT_TRUE(pong->IsText("PONG"));
}

TEST_F(RedisConnectionTest, ConnectRefusedIsUnavailable) {
  redis_->Kill();
  absl::StatusOr<ConnPtr> c = TryConnect(Options());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr(redis_->unix_path()));
}

TEST_F(RedisConnectionTest, ConnectTimeoutIsDeadlineExceeded) {
  // A TCP listener that never accepts, with its accept queue full: further
  // SYNs are dropped and the connect hangs.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }

  ConnectionOptions o = Options();
  o.endpoint.transport = RedisEndpoint::Transport::kTcp;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = ntohs(addr.sin_port);
  o.connect_timeout = absl::Milliseconds(300);
  o.command_timeout = absl::Milliseconds(300);
  absl::StatusOr<ConnPtr> c = TryConnect(o);
  // Depending on the kernel the connect hangs (connect timeout) or completes
  // with nobody reading (handshake timeout): both are deadlines.
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded)
      << c.status();
  for (int fd : fillers) close(fd);
  close(lfd);
}

TEST_F(RedisConnectionTest, AuthWithRequirepass) {
  StartRedis(WithPassword("s3cret"));
  ConnectionOptions o = Options();
  o.password = "s3cret";
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  absl::StatusOr<RedisReply> who = Exec(c, {"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(*who, Str("default"));

  o.password = "wrong";
  absl::StatusOr<ConnPtr> bad = TryConnect(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(bad.status().message(), HasSubstr("WRONGPASS"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("wrong")));

  o.password = "";
  absl::StatusOr<ConnPtr> none = TryConnect(o);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("NOAUTH"));
}

TEST_F(RedisConnectionTest, AuthWithAclUser) {
  ASSERT_FALSE(redis_
                   ->Command({"ACL", "SETUSER", "feast", "on", ">pw", "~*",
                              "&*", "+@all"})
                   .is_error());
  ConnectionOptions o = Options();
  o.username = "feast";
  o.password = "pw";
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  absl::StatusOr<RedisReply> who = Exec(c, {"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(*who, Str("feast"));

  o.password = "nope";
  absl::StatusOr<ConnPtr> bad = TryConnect(o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(bad.status().message(), HasSubstr("feast"));
  EXPECT_THAT(bad.status().message(), HasSubstr("WRONGPASS"));

  // A user that may read but not name its connection.
  ASSERT_FALSE(
      redis_->Command({"ACL", "SETUSER", "reader", "on", ">pw", "~*", "+get"})
          .is_error());
  o.username = "reader";
  o.password = "pw";
  absl::StatusOr<ConnPtr> denied = TryConnect(o);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied)
      << denied.status();
  EXPECT_THAT(denied.status().message(), HasSubstr("NOPERM"));
}

TEST_F(RedisConnectionTest, ReadOnlyAclUserReadsAndIsRefusedWrites) {
  // What a Feast reader needs: reads, plus the handshake's CLIENT and SELECT
  // and the invalidation link's PING and SUBSCRIBE.
  ASSERT_FALSE(
      redis_
          ->Command({"ACL", "SETUSER", "feast", "on", ">secret", "~*", "+@read",
                     "+client", "+select", "+ping", "+subscribe", "+hello"})
          .is_error());
  redis_->Command({"SET", "feature:1", "v1"});
  ConnectionOptions o = Options(1);
  o.username = "feast";
  o.password = "secret";
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  redis_->Command({"SELECT", "1"});
  redis_->Command({"SET", "feature:1", "db1"});
  redis_->Command({"SELECT", "0"});
  absl::StatusOr<RedisReply> got = Exec(c, {"GET", "feature:1"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Str("db1"));
  absl::StatusOr<RedisReply> set = Exec(c, {"SET", "feature:1", "x"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->is_error());
  EXPECT_THAT(set->str, HasSubstr("NOPERM"));
  EXPECT_TRUE(c->is_open());
}

TEST_F(RedisConnectionTest, SelectIsolatesDatabases) {
  ConnPtr db3 = Connect(Options(3));
  ConnPtr db0 = Connect(Options(0));
  ASSERT_NE(db3, nullptr);
  ASSERT_NE(db0, nullptr);
  ASSERT_TRUE(Exec(db3, {"SET", "k", "three"}).ok());
  absl::StatusOr<RedisReply> in0 = Exec(db0, {"GET", "k"});
  ASSERT_TRUE(in0.ok());
  EXPECT_TRUE(in0->is_nil());
  absl::StatusOr<RedisReply> in3 = Exec(db3, {"GET", "k"});
  ASSERT_TRUE(in3.ok());
  EXPECT_EQ(*in3, Str("three"));

  absl::StatusOr<ConnPtr> bad = TryConnect(Options(99));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bad.status().message(), HasSubstr("SELECT 99"));
}

TEST_F(RedisConnectionTest, ArgumentsAndValuesAreBinarySafe) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  std::string key("k\0ey\r\n*1\r\n", 11);
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += std::string("\0\0$-1\r\n", 7);
  ASSERT_TRUE(Exec(c, {"SET", key, value}).ok());
  absl::StatusOr<RedisReply> got = Exec(c, {"GET", key});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, Str(value));
  // And Redis stored exactly those bytes under exactly that key.
  EXPECT_EQ(redis_->Command({"STRLEN", key}),
            RedisReply::Integer(static_cast<int64_t>(value.size())));
  std::string field("\0f\xff", 3);
  ASSERT_TRUE(Exec(c, {"HSET", "h", field, value}).ok());
  absl::StatusOr<RedisReply> hmget = Exec(c, {"HMGET", "h", field, "x"});
  ASSERT_TRUE(hmget.ok());
  EXPECT_EQ(*hmget, RedisReply::Array({Str(value), RedisReply::Nil()}));
}

asio::awaitable<std::string> EchoOnce(ConnPtr c, int i) {
  std::string payload = absl::StrCat("payload-", i, std::string(i % 50, 'x'));
  std::vector<std::string> args = {"ECHO", payload};
  absl::StatusOr<RedisReply> r = co_await c->Execute(std::move(args));
  if (!r.ok()) co_return r.status().ToString();
  co_return r->str == payload ? "ok" : "mismatch: " + r->ToString();
}

TEST_F(RedisConnectionTest, PipelinesManyConcurrentRequestsInOrder) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  constexpr int kRequests = 1000;
  std::vector<std::shared_ptr<std::optional<std::string>>> results;
  for (int i = 0; i < kRequests; ++i)
    results.push_back(Spawn(io_, EchoOnce(c, i)));
  ASSERT_TRUE(RunUntil(io_, [&] {
    for (const auto& r : results) {
      if (!r->has_value()) return false;
    }
    return true;
  }));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(**results[i], "ok") << "request " << i;
  }
  EXPECT_EQ(c->pending(), 0u);
  EXPECT_EQ(redis_->CommandCalls("echo"), kRequests);
}

TEST_F(RedisConnectionTest, BatchReturnsRepliesInOrderWithErrorReplies) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  absl::StatusOr<std::vector<RedisReply>> replies =
      Await(io_, c->ExecuteBatch({{"SET", "a", "1"},
                                  {"INCR", "a"},
                                  {"GET", "a"},
                                  {"HGET", "a", "f"},
                                  {"NOSUCHCOMMAND"},
                                  {"GET", "missing"}}));
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 6u);
  EXPECT_TRUE((*replies)[0].IsText("OK"));
  EXPECT_EQ((*replies)[1], RedisReply::Integer(2));
  EXPECT_EQ((*replies)[2], Str("2"));
  EXPECT_TRUE((*replies)[3].is_error());
  EXPECT_THAT((*replies)[3].str, HasSubstr("WRONGTYPE"));
  EXPECT_TRUE((*replies)[4].is_error());
  EXPECT_TRUE((*replies)[5].is_nil());
  // Error replies leave the connection aligned and usable.
  absl::StatusOr<RedisReply> after = Exec(c, {"GET", "a"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, Str("2"));

  absl::StatusOr<std::vector<RedisReply>> empty =
      Await(io_, c->ExecuteBatch({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(RedisConnectionTest, TimeoutClosesConnectionAndFailsPending) {
  ConnectionOptions o = Options();
  o.command_timeout = absl::Milliseconds(200);
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  std::optional<absl::Status> closed;
  c->OnClosed([&](absl::Status s) { closed = s; });

  redis_->Pause();
  auto first = Spawn(io_, c->Execute({"GET", "a"}));
  auto second = Spawn(io_, c->Execute({"GET", "b"}));
  auto third = Spawn(io_, c->ExecuteBatch({{"GET", "c"}, {"GET", "d"}}));
  ASSERT_TRUE(RunUntil(io_, [&] {
    return first->has_value() && second->has_value() && third->has_value() &&
           closed.has_value();
  }));
  redis_->Resume();

  EXPECT_EQ((*first)->status().code(), absl::StatusCode::kDeadlineExceeded)
      << (*first)->status();
  EXPECT_EQ((*second)->status().code(), absl::StatusCode::kUnavailable)
      << (*second)->status();
  EXPECT_EQ((*third)->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(c->pending(), 0u);
  EXPECT_EQ(closed->code(), absl::StatusCode::kDeadlineExceeded);

  absl::StatusOr<RedisReply> later = Exec(c, {"PING"});
  EXPECT_EQ(later.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisConnectionTest, OnClosedWhenRedisDies) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  std::optional<absl::Status> closed;
  int calls = 0;
  c->OnClosed([&](absl::Status s) {
    closed = s;
    ++calls;
  });
  redis_->Pause();
  auto pending = Spawn(io_, c->Execute({"GET", "a"}));
  RunFor(io_, absl::Milliseconds(50));
  EXPECT_FALSE(pending->has_value());
  redis_->Kill();
  ASSERT_TRUE(RunUntil(
      io_, [&] { return closed.has_value() && pending->has_value(); }));
  EXPECT_EQ(closed->code(), absl::StatusCode::kUnavailable) << *closed;
  EXPECT_EQ((*pending)->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->is_open());
  RunFor(io_, absl::Milliseconds(20));
  EXPECT_EQ(calls, 1);

  // A handler registered after the close still learns why, once.
  std::optional<absl::Status> late;
  c->OnClosed([&](absl::Status s) { late = s; });
  ASSERT_TRUE(RunUntil(io_, [&] { return late.has_value(); }));
  EXPECT_EQ(late->code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisConnectionTest, CloseFailsPendingAndNotifies) {
  ConnPtr c = Connect(Options());
  ASSERT_NE(c, nullptr);
  std::optional<absl::Status> closed;
  c->OnClosed([&](absl::Status s) { closed = s; });
  redis_->Pause();
  auto pending = Spawn(io_, c->Execute({"GET", "a"}));
  RunFor(io_, absl::Milliseconds(20));
  c->Close();
  c->Close();  // idempotent
  ASSERT_TRUE(RunUntil(
      io_, [&] { return closed.has_value() && pending->has_value(); }));
  redis_->Resume();
  EXPECT_EQ(closed->code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*pending)->status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisConnectionTest, SubscribeDeliversPublishedMessages) {
  ConnPtr sub = Connect(Options());
  ASSERT_NE(sub, nullptr);
  std::vector<RedisReply> messages;
  sub->SetPushHandler([&](RedisReply r) { messages.push_back(std::move(r)); });
  absl::Status s = Await(io_, sub->Subscribe({"ch1", "ch2"}));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(sub->subscribed());
  absl::Status ping = Await(io_, sub->Ping());
  EXPECT_TRUE(ping.ok()) << ping;

  std::string payload("hel\0lo", 6);
  EXPECT_EQ(redis_->Command({"PUBLISH", "ch2", payload}),
            RedisReply::Integer(1));
  ASSERT_TRUE(RunUntil(io_, [&] { return messages.size() == 1; }));
  EXPECT_EQ(messages[0],
            RedisReply::Array({Str("message"), Str("ch2"), Str(payload)}));

  // A command Redis refuses in subscriber mode answers in order, and the
  // connection stays aligned.
  absl::StatusOr<RedisReply> get = Exec(sub, {"GET", "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_TRUE(get->is_error()) << get->ToString();
  EXPECT_TRUE(Await(io_, sub->Ping()).ok());
  redis_->Command({"PUBLISH", "ch1", "again"});
  ASSERT_TRUE(RunUntil(io_, [&] { return messages.size() == 2; }));
  EXPECT_EQ(messages[1].elements[2], Str("again"));
  EXPECT_TRUE(sub->is_open());
}

TEST_F(RedisConnectionTest, TrackingRedirectReachesSubscriber) {
  ConnPtr sub = Connect(Options());
  ConnPtr data = Connect(Options());
  ASSERT_NE(sub, nullptr);
  ASSERT_NE(data, nullptr);
  std::vector<RedisReply> messages;
  sub->SetPushHandler([&](RedisReply r) { messages.push_back(std::move(r)); });
  ASSERT_TRUE(Await(io_, sub->Subscribe({"__redis__:invalidate"})).ok());

  absl::StatusOr<RedisReply> on =
      Exec(data, {"CLIENT", "TRACKING", "on", "REDIRECT",
                  std::to_string(sub->client_id())});
  ASSERT_TRUE(on.ok());
  ASSERT_TRUE(on->IsText("OK")) << on->ToString();
  redis_->Command({"SET", "feature:1", "old"});
  absl::StatusOr<RedisReply> read = Exec(data, {"GET", "feature:1"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, Str("old"));
  redis_->Command({"SET", "feature:1", "new"});

  ASSERT_TRUE(RunUntil(io_, [&] { return !messages.empty(); }));
  EXPECT_EQ(messages[0],
            RedisReply::Array({Str("message"), Str("__redis__:invalidate"),
                               RedisReply::Array({Str("feature:1")})}));
}

TEST_F(RedisConnectionTest, SubscribeRefusedByAclIsAnError) {
  ASSERT_FALSE(redis_
                   ->Command({"ACL", "SETUSER", "nochan", "on", ">pw", "~*",
                              "resetchannels", "+@all"})
                   .is_error());
  ConnectionOptions o = Options();
  o.username = "nochan";
  o.password = "pw";
  ConnPtr c = Connect(o);
  ASSERT_NE(c, nullptr);
  c->SetPushHandler([](RedisReply) {});
  absl::Status s = Await(io_, c->Subscribe({"a", "b"}));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_FALSE(c->subscribed());
  EXPECT_TRUE(Await(io_, c->Ping()).ok());
}

}  // namespace
}  // namespace nearcache
