// Real faults: the redis-server behind nearcache is killed (SIGKILL), paused
// (SIGSTOP: connections are accepted, nothing is answered) or restarted with
// no data. nearcache must keep serving what it has (fresh, or stale within
// max_stale), fail fast and clearly for what it has not, keep its traffic to
// a sick Redis bounded (circuit breaker), and recover on its own.
#include <hiredis/hiredis.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kPollLimit = absl::Seconds(10);
constexpr int kBreakerFailures = 3;

// An error reply nearcache itself made (not one Redis sent).
void ExpectNearcacheError(const RedisReply& r) {
  ASSERT_TRUE(r.is_error()) << r.ToString();
  EXPECT_THAT(r.str, StartsWith("ERR "));
  EXPECT_THAT(r.str, HasSubstr("nearcache"));
  EXPECT_FALSE(absl::StartsWith(r.str, "CLIENT:")) << "transport: " << r.str;
}

// Parameter: invalidation.tracking. Off, only TTLs bound staleness; on (the
// product default), losing Redis also loses the invalidation link, which
// must not get in the way of serving stale.
class FaultTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start().ok()); }

  void StartNearcache(
      std::vector<std::pair<std::string, std::string>> overrides) {
    NearcacheOptions options;
    options.redis_address = "unix://" + redis_.unix_path();
    options.overrides = {
        {"redis.command_timeout", "200ms"},
        {"redis.connect_timeout", "200ms"},
        {"redis.breaker_failures", absl::StrCat(kBreakerFailures)},
        {"redis.breaker_cooldown", "1s"},
        {"redis.pool_size", "4"},
        {"invalidation.tracking", GetParam() ? "true" : "false"},
    };
    for (auto& o : overrides) options.overrides.push_back(std::move(o));
    nearcache_ = std::make_unique<NearcacheProcess>(options);
    absl::Status s = nearcache_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // Puts string "s<i>" = "value<i>" and hash "h<i>" in Redis and reads both
  // through nearcache, so that they are cached.
  void LoadAndCache(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_FALSE(
          redis_
              .Command({"SET", absl::StrCat("s", i), absl::StrCat("value", i)})
              .is_error());
      ASSERT_FALSE(redis_
                       .Command({"HSET", absl::StrCat("h", i), "f",
                                 absl::StrCat("hv", i)})
                       .is_error());
      ASSERT_EQ(nearcache_->Command({"GET", absl::StrCat("s", i)}),
                RedisReply::String(absl::StrCat("value", i)));
      ASSERT_EQ(nearcache_->Command({"HGET", absl::StrCat("h", i), "f"}),
                RedisReply::String(absl::StrCat("hv", i)));
    }
  }

  void ExpectCachedValues(int n) {
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(nearcache_->Command({"GET", absl::StrCat("s", i)}),
                RedisReply::String(absl::StrCat("value", i)));
      EXPECT_EQ(nearcache_->Command({"HGETALL", absl::StrCat("h", i)}),
                RedisReply::Array({RedisReply::String("f"),
                                   RedisReply::String(absl::StrCat("hv", i))}));
    }
  }

  int64_t StaleHits() {
    return InfoField(nearcache_->Command({"INFO", "stats"}),
                     "nearcache_stale_hits");
  }

  RedisServerProcess redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
};

TEST_P(FaultTest, KilledRedisCachedKeysServedUncachedKeysFail) {
  StartNearcache({{"cache.ttl", "300ms"}, {"cache.max_stale", "5m"}});
  LoadAndCache(5);
  redis_.Kill();
  // Fresh entries: served as they are.
  ExpectCachedValues(5);
  // Past their ttl they are served stale (Redis is gone), unchanged.
  absl::SleepFor(absl::Milliseconds(400));
  const int64_t stale_before = StaleHits();
  ExpectCachedValues(5);
  EXPECT_GE(StaleHits() - stale_before, 10);
  // Keys never read fail with nearcache's error, fast (no hang: the client
  // would time out after 10 s and report a CLIENT: error).
  for (int i = 0; i < 20; ++i) {
    ExpectNearcacheError(
        nearcache_->Command({"GET", absl::StrCat("never", i)}));
  }
  ExpectNearcacheError(nearcache_->Command({"HGETALL", "never-h"}));
  // A command naming a cached and an uncached key fails as a whole.
  ExpectNearcacheError(nearcache_->Command({"MGET", "s0", "never0"}));
  // And the cached keys are still there.
  ExpectCachedValues(5);
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

TEST_P(FaultTest, PausedRedisBreakerOpensStaleServedAndTrafficBounded) {
  StartNearcache({{"cache.ttl", "300ms"}, {"cache.max_stale", "5m"}});
  LoadAndCache(5);
  absl::SleepFor(absl::Milliseconds(400));  // every cached entry expired
  const int64_t gets_before = redis_.CommandCalls("get");
  const int64_t hgetalls_before = redis_.CommandCalls("hgetall");
  redis_.Pause();

  // Uncached keys fail (after the command timeout) until the breaker opens;
  // then they are rejected at once.
  int sent = 0;
  bool breaker_open = false;
  for (int i = 0; i < 20 && !breaker_open; ++i, ++sent) {
    RedisReply r = nearcache_->Command({"GET", absl::StrCat("uncached", i)});
    ExpectNearcacheError(r);
    breaker_open = absl::StrContains(r.str, "circuit breaker open") ||
                   absl::StrContains(r.str, "no connection to Redis");
  }
  ASSERT_TRUE(breaker_open)
      << "the breaker never opened after " << sent << " timed out requests";
  EXPECT_LE(sent, kBreakerFailures + 1);

  // Cached but expired keys are answered stale, many times over.
  const int64_t stale_before = StaleHits();
  for (int round = 0; round < 10; ++round) {
    ExpectCachedValues(5);
    sent += 10;
  }
  EXPECT_GE(StaleHits() - stale_before, 100);
  for (int i = 0; i < 50; ++i, ++sent) {
    ExpectNearcacheError(
        nearcache_->Command({"GET", absl::StrCat("other", i)}));
  }
  ASSERT_GE(sent, 150);

  redis_.Resume();
  // What nearcache wrote while Redis was paused is executed now. Ask twice:
  // the second INFO is answered after every backlog the first one raced.
  redis_.CommandCalls("get");
  absl::SleepFor(absl::Milliseconds(100));
  const int64_t reads = redis_.CommandCalls("get") - gets_before +
                        redis_.CommandCalls("hgetall") - hgetalls_before;
  EXPECT_LE(reads, kBreakerFailures + 3)
      << "reads that reached the paused Redis, out of " << sent << " requests";
  EXPECT_GE(reads, 1);

  // nearcache recovers by itself: a new key is readable, and the stale
  // entries are refreshed.
  ASSERT_FALSE(redis_.Command({"SET", "after", "resume"}).is_error());
  RedisReply r;
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline) {
    r = nearcache_->Command({"GET", "after"});
    if (!r.is_error()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(r, RedisReply::String("resume"));
  ASSERT_FALSE(redis_.Command({"SET", "s0", "new0"}).is_error());
  EXPECT_EQ(nearcache_->Command({"GET", "s0"}), RedisReply::String("new0"));
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

TEST_P(FaultTest, FreshHitsDoNotWaitForAPausedRedis) {
  StartNearcache({{"cache.ttl", "30s"}});
  LoadAndCache(3);
  redis_.Pause();
  // Served from the cache without asking Redis: no timeout, no error.
  for (int i = 0; i < 20; ++i) ExpectCachedValues(3);
  redis_.Resume();
}

TEST_P(FaultTest, SigtermFinishesRequestsInFlight) {
  // A command timeout long enough that the request below is still waiting
  // for Redis when nearcache is told to stop.
  StartNearcache({{"cache.ttl", "30s"}, {"redis.command_timeout", "10s"}});
  ASSERT_FALSE(redis_.Command({"SET", "inflight", "answered"}).is_error());
  redis_.Pause();
  RedisClient waiting = nearcache_->Connect();
  ASSERT_NE(waiting, nullptr);
  ASSERT_EQ(redisAppendCommand(waiting.get(), "GET %s", "inflight"), REDIS_OK);
  int done = 0;
  while (!done) ASSERT_EQ(redisBufferWrite(waiting.get(), &done), REDIS_OK);
  // Let nearcache read it and send it to the paused Redis (not a timing
  // assertion: were it slower, the test would only be weaker).
  absl::SleepFor(absl::Milliseconds(200));
  nearcache_->Signal(SIGTERM);
  // It stops accepting first: the socket file goes away.
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline &&
         std::filesystem::exists(nearcache_->socket_path())) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_FALSE(std::filesystem::exists(nearcache_->socket_path()));
  EXPECT_EQ(nearcache_->Connect(), nullptr) << "accepted after SIGTERM";
  redis_.Resume();
  // The request in flight is answered, then nearcache exits 0.
  void* raw = nullptr;
  ASSERT_EQ(redisGetReply(waiting.get(), &raw), REDIS_OK) << waiting->errstr;
  RedisReply reply = RedisReplyFromHiredis(static_cast<redisReply*>(raw));
  freeReplyObject(raw);
  EXPECT_EQ(reply, RedisReply::String("answered"));
  absl::Status exited = nearcache_->WaitForCleanExit();
  EXPECT_TRUE(exited.ok()) << exited;
}

TEST_P(FaultTest, SigtermWhileRedisIsPausedExitsCleanly) {
  StartNearcache({{"cache.ttl", "30s"}});
  LoadAndCache(1);
  redis_.Pause();
  // Reconnects and a health check in progress against a Redis that never
  // answers must not hold the shutdown.
  ExpectNearcacheError(nearcache_->Command({"GET", "stuck"}));
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  redis_.Resume();
}

TEST_P(FaultTest, RestartedRedisIsPickedUpAgain) {
  StartNearcache({{"cache.ttl", "30s"}});
  LoadAndCache(2);
  ASSERT_TRUE(redis_.Restart().ok());  // same socket, no data
  ASSERT_FALSE(redis_.Command({"SET", "born-after-restart", "yes"}).is_error());
  ASSERT_FALSE(
      redis_.Command({"HSET", "hash-after-restart", "f", "yes"}).is_error());
  RedisReply r;
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline) {
    r = nearcache_->Command({"GET", "born-after-restart"});
    if (!r.is_error()) break;
    ExpectNearcacheError(r);
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(r, RedisReply::String("yes"));
  EXPECT_EQ(nearcache_->Command({"HGET", "hash-after-restart", "f"}),
            RedisReply::String("yes"));
  // The read went to the new server.
  EXPECT_GE(redis_.CommandCalls("get"), 1);
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

TEST_P(FaultTest, PastMaxStaleTheCallerGetsAnError) {
  StartNearcache({{"cache.ttl", "200ms"}, {"cache.max_stale", "300ms"}});
  LoadAndCache(3);
  redis_.Kill();
  // Well past read time + ttl + max_stale (500 ms).
  absl::SleepFor(absl::Milliseconds(800));
  for (int i = 0; i < 3; ++i) {
    ExpectNearcacheError(nearcache_->Command({"GET", absl::StrCat("s", i)}));
    ExpectNearcacheError(
        nearcache_->Command({"HGET", absl::StrCat("h", i), "f"}));
  }
  EXPECT_EQ(StaleHits(), 0);
}

TEST_P(FaultTest, RedisDownAtStartThenUp) {
  redis_.Kill();
  NearcacheOptions options;
  options.redis_address = "unix://" + redis_.unix_path();
  options.wait_for_redis = false;
  options.overrides = {
      {"invalidation.tracking", GetParam() ? "true" : "false"}};
  nearcache_ = std::make_unique<NearcacheProcess>(options);
  absl::Status s = nearcache_->Start();
  ASSERT_TRUE(s.ok()) << s;
  // Up and answering without Redis; reads fail clearly.
  EXPECT_EQ(nearcache_->Command({"PING"}), RedisReply::Status("PONG"));
  ExpectNearcacheError(nearcache_->Command({"GET", "k"}));
  ASSERT_TRUE(redis_.Start().ok());
  ASSERT_FALSE(redis_.Command({"SET", "k", "v"}).is_error());
  RedisReply r;
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline) {
    r = nearcache_->Command({"GET", "k"});
    if (!r.is_error()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(r, RedisReply::String("v"));
}

INSTANTIATE_TEST_SUITE_P(Tracking, FaultTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "TrackingOn" : "TrackingOff";
                         });

}  // namespace
}  // namespace nearcache
