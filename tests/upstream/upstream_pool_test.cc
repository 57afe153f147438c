// UpstreamPool against a real redis-server: reconnects, on_connect, the
// circuit breaker, and Stop().
#include "upstream/upstream_pool.h"

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/redis_server.h"
#include "tests/upstream/run_coroutine.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;

class UpstreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::Status started = redis_.Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  UpstreamPoolOptions Options(int pool_size) {
    UpstreamPoolOptions o;
    o.conn.endpoint = redis_.unix_endpoint();
    o.conn.connect_timeout = absl::Seconds(2);
    o.conn.command_timeout = absl::Seconds(2);
    o.pool_size = pool_size;
    o.breaker_failures = 3;
    o.breaker_cooldown = absl::Milliseconds(300);
    o.reconnect_min = absl::Milliseconds(20);
    o.reconnect_max = absl::Milliseconds(100);
    o.on_state_change = [this](bool up) { state_changes_.push_back(up); };
    o.on_connection_lost = [this](int64_t id, absl::Status) {
      lost_ids_.push_back(id);
    };
    return o;
  }

  absl::StatusOr<RedisReply> Exec(UpstreamPool& pool,
                                  std::vector<std::string> args) {
    return Await(io_, pool.Execute(std::move(args)));
  }

  // Names of the clients connected to Redis, from CLIENT LIST.
  std::vector<std::string> ClientNames() {
    std::vector<std::string> names;
    RedisReply list = redis_.Command({"CLIENT", "LIST"});
    for (absl::string_view line : absl::StrSplit(list.str, '\n')) {
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        if (absl::ConsumePrefix(&field, "name=") && !field.empty()) {
          names.emplace_back(field);
        }
      }
    }
    return names;
  }

  boost::asio::io_context io_;
  RedisServerProcess redis_;
  std::vector<bool> state_changes_;
  std::vector<int64_t> lost_ids_;
};

TEST_F(UpstreamPoolTest, ConnectsAllSlotsAndServes) {
  UpstreamPool pool(io_.get_executor(), Options(3));
  EXPECT_FALSE(pool.up());
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 3; }));
  EXPECT_TRUE(pool.up());
  EXPECT_EQ(state_changes_, std::vector<bool>({true}));
  EXPECT_EQ(pool.breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(ClientNames(), std::vector<std::string>(3, "nearcache"));

  redis_.Command({"SET", "k", "v"});
  absl::StatusOr<RedisReply> got = Exec(pool, {"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, RedisReply::String("v"));
  // A Redis error reply is an answer, not a transport failure.
  absl::StatusOr<RedisReply> wrong = Exec(pool, {"HGET", "k", "f"});
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->is_error());
  absl::StatusOr<std::vector<RedisReply>> batch =
      Await(io_, pool.ExecuteBatch({{"GET", "k"}, {"EXISTS", "k"}}));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ((*batch)[1], RedisReply::Integer(1));

  UpstreamStats stats = pool.stats();
  EXPECT_EQ(stats.requests_ok, 3u);
  EXPECT_EQ(
      stats.requests_error + stats.requests_timeout + stats.requests_rejected,
      0u);
  EXPECT_EQ(stats.connects_ok, 3u);
}

asio::awaitable<bool> IncrOnce(UpstreamPool* pool) {
  std::vector<std::string> args = {"INCR", "counter"};
  absl::StatusOr<RedisReply> r = co_await pool->Execute(std::move(args));
  co_return r.ok() && r->type == RedisReply::Type::kInteger;
}

TEST_F(UpstreamPoolTest, ConcurrentRequestsSpreadOverConnections) {
  UpstreamPool pool(io_.get_executor(), Options(4));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 4; }));
  std::vector<std::shared_ptr<std::optional<bool>>> results;
  for (int i = 0; i < 400; ++i) results.push_back(Spawn(io_, IncrOnce(&pool)));
  ASSERT_TRUE(RunUntil(io_, [&] {
    for (const auto& r : results) {
      if (!r->has_value()) return false;
    }
    return true;
  }));
  for (const auto& r : results) EXPECT_TRUE(**r);
  EXPECT_EQ(redis_.Command({"GET", "counter"}), RedisReply::String("400"));
  // Every connection took a share: CLIENT LIST's per-connection command
  // counters are not in Redis 7.0, so check that each one ran something.
  RedisReply list = redis_.Command({"CLIENT", "LIST"});
  int busy = 0;
  for (absl::string_view line : absl::StrSplit(list.str, '\n')) {
    if (absl::StrContains(line, "name=nearcache") &&
        absl::StrContains(line, "cmd=incr")) {
      ++busy;
    }
  }
  EXPECT_EQ(busy, 4);
}

TEST_F(UpstreamPoolTest, RejectsFastWithoutConnection) {
  redis_.Kill();
  UpstreamPool pool(io_.get_executor(), Options(2));
  pool.Start();
  RunFor(io_, absl::Milliseconds(100));
  EXPECT_FALSE(pool.up());
  absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("no connection"));
  // ... and why: the last connect's error.
  EXPECT_THAT(r.status().message(), HasSubstr(redis_.unix_path()));
  EXPECT_EQ(pool.last_connect_error().code(), absl::StatusCode::kUnavailable);
  UpstreamStats stats = pool.stats();
  EXPECT_EQ(stats.requests_rejected, 1u);
  EXPECT_GE(stats.connects_failed, 2u);
  EXPECT_EQ(stats.breaker, BreakerState::kOpen);
  EXPECT_TRUE(state_changes_.empty());

  // It comes up by itself once Redis is there.
  ASSERT_TRUE(redis_.Start().ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.up(); }));
  EXPECT_TRUE(Exec(pool, {"PING"}).ok());
  EXPECT_EQ(pool.breaker_state(), BreakerState::kClosed);
}

TEST_F(UpstreamPoolTest, AclUserWithoutGetGetsAPermissionErrorReply) {
  ASSERT_FALSE(redis_
                   .Command({"ACL", "SETUSER", "feast", "on", ">secret", "~*",
                             "+@read", "-get", "+client", "+select", "+ping"})
                   .is_error());
  redis_.Command({"SET", "k", "v"});
  UpstreamPoolOptions o = Options(2);
  o.conn.username = "feast";
  o.conn.password = "secret";
  UpstreamPool pool(io_.get_executor(), o);
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 2; }))
      << pool.last_connect_error();

  // Redis answered: a reply (not a transport failure) that names the user's
  // missing permission, and the breaker stays closed however often it comes.
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->is_error());
    EXPECT_THAT(r->str, HasSubstr("NOPERM"));
    EXPECT_THAT(r->str, HasSubstr("'get'"));
  }
  EXPECT_EQ(pool.breaker_state(), BreakerState::kClosed);
  absl::StatusOr<RedisReply> h = Exec(pool, {"HGETALL", "nohash"});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->is_error());
}

TEST_F(UpstreamPoolTest, AclUserThatCannotHandshakeIsWhyRequestsAreRejected) {
  // No +client: CLIENT SETNAME / CLIENT ID in the handshake are refused.
  ASSERT_FALSE(
      redis_
          .Command({"ACL", "SETUSER", "feast", "on", ">secret", "~*", "+@read"})
          .is_error());
  UpstreamPoolOptions o = Options(1);
  o.conn.username = "feast";
  o.conn.password = "secret";
  UpstreamPool pool(io_.get_executor(), o);
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connects_failed > 0; }));
  EXPECT_FALSE(pool.up());
  EXPECT_EQ(pool.last_connect_error().code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("no connection to Redis"));
  EXPECT_THAT(r.status().message(), HasSubstr("NOPERM"));
  EXPECT_THAT(r.status().message(), HasSubstr("CLIENT"));

  // Granting the permission lets the pool in on its next attempt.
  ASSERT_FALSE(
      redis_.Command({"ACL", "SETUSER", "feast", "+client"}).is_error());
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.up(); }));
  EXPECT_TRUE(pool.last_connect_error().ok());
}

TEST_F(UpstreamPoolTest, ReconnectsAfterRedisRestart) {
  UpstreamPool pool(io_.get_executor(), Options(2));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 2; }));
  std::vector<int64_t> first_ids;
  RedisReply clients = redis_.Command({"CLIENT", "LIST"});

  ASSERT_TRUE(redis_.Restart().ok());
  ASSERT_TRUE(RunUntil(io_, [&] {
    return lost_ids_.size() == 2 && pool.stats().connections_up == 2;
  }));
  EXPECT_EQ(state_changes_, std::vector<bool>({true, false, true}));
  for (int64_t id : lost_ids_) EXPECT_GT(id, 0);
  absl::StatusOr<RedisReply> r = Exec(pool, {"SET", "k", "v"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(redis_.Command({"GET", "k"}), RedisReply::String("v"));
}

TEST_F(UpstreamPoolTest, OnConnectRunsBeforeJoiningAndIsRetried) {
  UpstreamPoolOptions o = Options(2);
  int calls = 0;
  o.on_connect = [&calls](RedisConnection& c) -> asio::awaitable<absl::Status> {
    ++calls;
    if (calls <= 2) co_return absl::InternalError("not yet");
    std::vector<std::string> args = {"CLIENT", "SETNAME", "tracked"};
    absl::StatusOr<RedisReply> r = co_await c.Execute(std::move(args));
    if (!r.ok()) co_return r.status();
    co_return absl::OkStatus();
  };
  UpstreamPool pool(io_.get_executor(), std::move(o));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 2; }));
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(pool.stats().connects_failed, 2u);
  // Failed ones were dropped; only prepared connections serve.
  EXPECT_EQ(ClientNames(), std::vector<std::string>(2, "tracked"));
}

asio::awaitable<absl::Status> Rename(RedisConnection& c) {
  std::vector<std::string> args = {"CLIENT", "SETNAME", "renamed"};
  absl::StatusOr<RedisReply> r = co_await c.Execute(std::move(args));
  if (!r.ok()) co_return r.status();
  co_return absl::OkStatus();
}

TEST_F(UpstreamPoolTest, ForEachConnectionVisitsServingConnections) {
  UpstreamPool pool(io_.get_executor(), Options(3));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 3; }));
  Await(io_, [&]() -> asio::awaitable<bool> {
    co_await pool.ForEachConnection(Rename);
    co_return true;
  }());
  EXPECT_EQ(ClientNames(), std::vector<std::string>(3, "renamed"));

  // A connection the function fails on is closed and replaced.
  int visited = 0;
  Await(io_, [&]() -> asio::awaitable<bool> {
    co_await pool.ForEachConnection(
        [&visited](RedisConnection&) -> asio::awaitable<absl::Status> {
          ++visited;
          co_return visited == 1 ? absl::InternalError("x") : absl::OkStatus();
        });
    co_return true;
  }());
  EXPECT_EQ(visited, 3);
  ASSERT_TRUE(RunUntil(io_, [&] { return lost_ids_.size() == 1; }));
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 3; }));
}

TEST_F(UpstreamPoolTest, BreakerOpensRejectsFastAndProbeClosesIt) {
  UpstreamPoolOptions o = Options(4);
  o.conn.command_timeout = absl::Milliseconds(200);
  o.breaker_failures = 2;
  o.breaker_cooldown = absl::Milliseconds(500);
  UpstreamPool pool(io_.get_executor(), std::move(o));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 4; }));
  int64_t gets_before = redis_.CommandCalls("get");

  redis_.Pause();
  // Each timeout costs its connection; two in a row open the breaker while
  // two connections are still up.
  EXPECT_EQ(Exec(pool, {"GET", "k"}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Exec(pool, {"GET", "k"}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(pool.up());
  EXPECT_EQ(pool.breaker_state(), BreakerState::kOpen);
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<RedisReply> r = Exec(pool, {"GET", "k"});
    // kUnavailable, not kDeadlineExceeded: nobody waited for a timeout.
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(r.status().message(), HasSubstr("breaker open"));
  }
  UpstreamStats stats = pool.stats();
  EXPECT_EQ(stats.requests_timeout, 2u);
  EXPECT_EQ(stats.requests_rejected, 10u);
  redis_.Resume();
  // At most the two timed-out GETs ever reached Redis; the rejected ones
  // never left the process.
  EXPECT_LE(redis_.CommandCalls("get") - gets_before, 2);

  // After the cooldown, exactly one request goes through as the probe.
  ASSERT_TRUE(RunUntil(
      io_, [&] { return pool.breaker_state() == BreakerState::kHalfOpen; }));
  auto probe = Spawn(io_, pool.Execute({"GET", "k"}));
  auto other = Spawn(io_, pool.Execute({"GET", "k"}));
  ASSERT_TRUE(
      RunUntil(io_, [&] { return probe->has_value() && other->has_value(); }));
  EXPECT_TRUE((*probe)->ok()) << (*probe)->status();
  EXPECT_EQ((*other)->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT((*other)->status().message(), HasSubstr("probe"));
  EXPECT_EQ(pool.breaker_state(), BreakerState::kClosed);
  EXPECT_TRUE(Exec(pool, {"GET", "k"}).ok());
}

TEST_F(UpstreamPoolTest, FailedProbeReopensBreaker) {
  UpstreamPoolOptions o = Options(4);
  o.conn.command_timeout = absl::Milliseconds(150);
  o.breaker_failures = 1;
  o.breaker_cooldown = absl::Milliseconds(200);
  UpstreamPool pool(io_.get_executor(), std::move(o));
  pool.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool.stats().connections_up == 4; }));
  redis_.Pause();
  EXPECT_EQ(Exec(pool, {"GET", "k"}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(pool.breaker_state(), BreakerState::kOpen);
  ASSERT_TRUE(RunUntil(
      io_, [&] { return pool.breaker_state() == BreakerState::kHalfOpen; }));
  // The probe times out against the still-paused server.
  EXPECT_EQ(Exec(pool, {"GET", "k"}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(pool.breaker_state(), BreakerState::kOpen);
  EXPECT_THAT(Exec(pool, {"GET", "k"}).status().message(),
              HasSubstr("breaker open"));
  redis_.Resume();
}

TEST_F(UpstreamPoolTest, StopFailsPendingAndRejectsLater) {
  auto pool = std::make_unique<UpstreamPool>(io_.get_executor(), Options(2));
  pool->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return pool->stats().connections_up == 2; }));
  redis_.Pause();
  auto pending = Spawn(io_, pool->Execute({"GET", "k"}));
  RunFor(io_, absl::Milliseconds(20));
  pool->Stop();
  ASSERT_TRUE(RunUntil(io_, [&] { return pending->has_value(); }));
  EXPECT_EQ((*pending)->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(pool->up());
  EXPECT_THAT(Exec(*pool, {"GET", "k"}).status().message(),
              HasSubstr("stopped"));
  redis_.Resume();
  // No callbacks after Stop, not even for the connections it closed.
  RunFor(io_, absl::Milliseconds(50));
  EXPECT_EQ(state_changes_, std::vector<bool>({true}));
  EXPECT_TRUE(lost_ids_.empty());
  pool.reset();
  RunFor(io_, absl::Milliseconds(50));
}

TEST_F(UpstreamPoolTest, DestroyedWhileConnectingAndReconnecting) {
  // Background coroutines own what they touch: destroying the pool in the
  // middle of backoff sleeps and connects is safe (ASan checks this).
  redis_.Kill();
  auto pool = std::make_unique<UpstreamPool>(io_.get_executor(), Options(3));
  pool->Start();
  RunFor(io_, absl::Milliseconds(60));
  pool.reset();
  ASSERT_TRUE(redis_.Start().ok());
  RunFor(io_, absl::Milliseconds(200));
  EXPECT_TRUE(state_changes_.empty());
}

}  // namespace
}  // namespace nearcache
