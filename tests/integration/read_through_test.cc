// Read-through semantics against a real Redis, measured from Redis's side
// (INFO commandstats): single-flight, hits that never leave nearcache, MGET
// fetching only its misses, the key's own Redis expiry capping freshness,
// and negative caching.
#include <hiredis/hiredis.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"

namespace nearcache {
namespace {

constexpr absl::Duration kPollLimit = absl::Seconds(10);

class ReadThroughTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start().ok()); }

  void StartNearcache(
      std::vector<std::pair<std::string, std::string>> overrides = {}) {
    NearcacheOptions options;
    options.redis_address = "unix://" + redis_.unix_path();
    options.overrides = std::move(overrides);
    nearcache_ = std::make_unique<NearcacheProcess>(options);
    absl::Status s = nearcache_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  // `clients` connections, each sends `args` once, all released together.
  // Returns every reply.
  std::vector<RedisReply> Concurrently(int clients,
                                       const std::vector<std::string>& args) {
    std::vector<RedisClient> conns;
    for (int i = 0; i < clients; ++i) {
      conns.push_back(nearcache_->Connect());
      EXPECT_NE(conns.back(), nullptr);
      if (conns.back() == nullptr) return {};
    }
    std::vector<RedisReply> replies(clients);
    absl::Barrier* start = new absl::Barrier(clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        replies[i] = ClientCommand(conns[i].get(), args);
      });
    }
    for (std::thread& t : threads) t.join();
    return replies;
  }

  RedisServerProcess redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
};

TEST_F(ReadThroughTest, ConcurrentMissesOfOneKeyMakeOneRedisRead) {
  StartNearcache();
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string key = absl::StrCat("feature:", round);
    const std::string value =
        absl::StrCat("value-", round, std::string(500, 'v'));
    ASSERT_FALSE(redis_.Command({"SET", key, value}).is_error());
    const int64_t gets = redis_.CommandCalls("get");
    const int64_t pttls = redis_.CommandCalls("pttl");
    for (const RedisReply& r : Concurrently(50, {"GET", key})) {
      EXPECT_EQ(r, RedisReply::String(value));
    }
    EXPECT_EQ(redis_.CommandCalls("get") - gets, 1);
    EXPECT_EQ(redis_.CommandCalls("pttl") - pttls, 1);
  }
}

TEST_F(ReadThroughTest, ConcurrentHashMissesMakeOneRedisRead) {
  StartNearcache();
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string key = absl::StrCat("entity:", round);
    ASSERT_FALSE(
        redis_.Command({"HSET", key, "f1", "a", "f2", absl::StrCat(round)})
            .is_error());
    const int64_t hgetalls = redis_.CommandCalls("hgetall");
    // Mixed hash commands on one key share the one read.
    std::vector<RedisReply> replies = Concurrently(50, {"HGETALL", key});
    for (const RedisReply& r : replies) {
      EXPECT_EQ(r, RedisReply::Array(
                       {RedisReply::String("f1"), RedisReply::String("a"),
                        RedisReply::String("f2"),
                        RedisReply::String(absl::StrCat(round))}));
    }
    EXPECT_EQ(redis_.CommandCalls("hgetall") - hgetalls, 1);
    EXPECT_EQ(nearcache_->Command({"HMGET", key, "f2", "nope"}),
              RedisReply::Array({RedisReply::String(absl::StrCat(round)),
                                 RedisReply::Nil()}));
    EXPECT_EQ(redis_.CommandCalls("hgetall") - hgetalls, 1);
  }
}

TEST_F(ReadThroughTest, ConcurrentMissesOfAMissingKeyMakeOneRedisRead) {
  StartNearcache({{"cache.negative_ttl", "60s"}});
  const int64_t gets = redis_.CommandCalls("get");
  for (const RedisReply& r : Concurrently(50, {"GET", "no-such-key"})) {
    EXPECT_TRUE(r.is_nil()) << r.ToString();
  }
  EXPECT_EQ(redis_.CommandCalls("get") - gets, 1);
}

TEST_F(ReadThroughTest, HitsDoNotReachRedis) {
  StartNearcache({{"cache.ttl", "60s"}, {"cache.negative_ttl", "60s"}});
  ASSERT_FALSE(redis_.Command({"SET", "s", "v"}).is_error());
  ASSERT_FALSE(redis_.Command({"HSET", "h", "f", "x"}).is_error());
  EXPECT_EQ(nearcache_->Command({"GET", "s"}), RedisReply::String("v"));
  EXPECT_EQ(nearcache_->Command({"HGET", "h", "f"}), RedisReply::String("x"));
  EXPECT_TRUE(nearcache_->Command({"GET", "nothing"}).is_nil());
  const int64_t gets = redis_.CommandCalls("get");
  const int64_t hgetalls = redis_.CommandCalls("hgetall");
  const int64_t pttls = redis_.CommandCalls("pttl");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(nearcache_->Command({"GET", "s"}), RedisReply::String("v"));
    EXPECT_EQ(
        nearcache_->Command({"HGETALL", "h"}),
        RedisReply::Array({RedisReply::String("f"), RedisReply::String("x")}));
    EXPECT_EQ(nearcache_->Command({"HMGET", "h", "f", "g"}),
              RedisReply::Array({RedisReply::String("x"), RedisReply::Nil()}));
    EXPECT_EQ(nearcache_->Command({"EXISTS", "s", "h", "s"}),
              RedisReply::Integer(3));
    EXPECT_TRUE(nearcache_->Command({"GET", "nothing"}).is_nil());
    EXPECT_EQ(nearcache_->Command({"MGET", "s", "nothing"}),
              RedisReply::Array({RedisReply::String("v"), RedisReply::Nil()}));
  }
  EXPECT_EQ(redis_.CommandCalls("get"), gets);
  EXPECT_EQ(redis_.CommandCalls("hgetall"), hgetalls);
  EXPECT_EQ(redis_.CommandCalls("pttl"), pttls);
  EXPECT_EQ(redis_.CommandCalls("mget"), 0);
  EXPECT_EQ(redis_.CommandCalls("exists"), 0);
  EXPECT_EQ(redis_.CommandCalls("hmget"), 0);
}

TEST_F(ReadThroughTest, MgetFetchesOnlyItsMisses) {
  StartNearcache({{"cache.ttl", "60s"}, {"cache.negative_ttl", "60s"}});
  for (int i = 0; i < 6; ++i) {
    ASSERT_FALSE(
        redis_.Command({"SET", absl::StrCat("k", i), absl::StrCat("v", i)})
            .is_error());
  }
  EXPECT_EQ(nearcache_->Command({"GET", "k0"}), RedisReply::String("v0"));
  EXPECT_EQ(nearcache_->Command({"GET", "k1"}), RedisReply::String("v1"));
  const int64_t gets = redis_.CommandCalls("get");
  EXPECT_EQ(
      nearcache_->Command({"MGET", "k0", "k2", "k1", "k3", "absent", "k2"}),
      RedisReply::Array({RedisReply::String("v0"), RedisReply::String("v2"),
                         RedisReply::String("v1"), RedisReply::String("v3"),
                         RedisReply::Nil(), RedisReply::String("v2")}));
  // k2, k3 and absent: one read each, k2 once although named twice.
  EXPECT_EQ(redis_.CommandCalls("get") - gets, 3);
  EXPECT_EQ(redis_.CommandCalls("mget"), 0);
  // Now all of them are cached.
  EXPECT_EQ(
      nearcache_->Command({"MGET", "k3", "k2", "k1", "k0", "absent"}),
      RedisReply::Array({RedisReply::String("v3"), RedisReply::String("v2"),
                         RedisReply::String("v1"), RedisReply::String("v0"),
                         RedisReply::Nil()}));
  EXPECT_EQ(redis_.CommandCalls("get") - gets, 3);
}

TEST_F(ReadThroughTest, RedisExpiryCapsFreshness) {
  // A long cache ttl: only the key's own expiry can end its freshness.
  StartNearcache({{"cache.ttl", "30s"}, {"cache.max_stale", "10m"}});
  ASSERT_FALSE(redis_.Command({"SET", "short", "old", "PX", "300"}).is_error());
  ASSERT_FALSE(redis_.Command({"HSET", "shorth", "f", "old"}).is_error());
  ASSERT_FALSE(redis_.Command({"PEXPIRE", "shorth", "300"}).is_error());
  EXPECT_EQ(nearcache_->Command({"GET", "short"}), RedisReply::String("old"));
  EXPECT_EQ(nearcache_->Command({"HGET", "shorth", "f"}),
            RedisReply::String("old"));

  // Wait until Redis itself no longer has them (EXISTS also expires them).
  const absl::Time deadline = absl::Now() + kPollLimit;
  while (absl::Now() < deadline &&
         redis_.Command({"EXISTS", "short", "shorth"}) !=
             RedisReply::Integer(0)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(redis_.Command({"EXISTS", "short", "shorth"}),
            RedisReply::Integer(0));
  // From now on nearcache must never answer the old value.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(nearcache_->Command({"GET", "short"}).is_nil());
    EXPECT_TRUE(nearcache_->Command({"HGET", "shorth", "f"}).is_nil());
    EXPECT_EQ(nearcache_->Command({"EXISTS", "short"}), RedisReply::Integer(0));
  }
  // A key without expiry stays cached meanwhile (no re-read).
  ASSERT_FALSE(redis_.Command({"SET", "long", "v"}).is_error());
  EXPECT_EQ(nearcache_->Command({"GET", "long"}), RedisReply::String("v"));
  const int64_t gets = redis_.CommandCalls("get");
  EXPECT_EQ(nearcache_->Command({"GET", "long"}), RedisReply::String("v"));
  EXPECT_EQ(redis_.CommandCalls("get"), gets);
}

TEST_F(ReadThroughTest, RedisExpiryPollFromBeforeToAfter) {
  // Polls across the expiry: every answer is the value or nil, and once nil,
  // nil forever (the old value never comes back from the cache).
  StartNearcache({{"cache.ttl", "30s"}});
  ASSERT_FALSE(redis_.Command({"SET", "px", "old", "PX", "300"}).is_error());
  bool gone = false;
  const absl::Time deadline = absl::Now() + kPollLimit;
  int after_gone = 0;
  while (absl::Now() < deadline && after_gone < 20) {
    RedisReply r = nearcache_->Command({"GET", "px"});
    if (r.is_nil()) {
      gone = true;
    } else {
      ASSERT_FALSE(gone) << "the old value came back: " << r.ToString();
      ASSERT_EQ(r, RedisReply::String("old"));
    }
    if (gone) ++after_gone;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(gone);
}

TEST_F(ReadThroughTest, NegativeResultsAreCachedForNegativeTtl) {
  // No invalidation link (invalidation.tracking: false, the fixture's
  // default; invalidations are a separate subsystem): only negative_ttl
  // ends a cached "does not exist".
  constexpr absl::Duration kNegativeTtl = absl::Seconds(2);
  StartNearcache({{"cache.negative_ttl", "2s"}, {"cache.ttl", "30s"}});
  const absl::Time first_read = absl::Now();
  EXPECT_TRUE(nearcache_->Command({"GET", "later"}).is_nil());
  EXPECT_TRUE(nearcache_->Command({"HGETALL", "laterh"}).is_array());
  const int64_t gets = redis_.CommandCalls("get");
  ASSERT_FALSE(redis_.Command({"SET", "later", "now-here"}).is_error());
  ASSERT_FALSE(redis_.Command({"HSET", "laterh", "f", "x"}).is_error());
  RedisReply still = nearcache_->Command({"GET", "later"});
  RedisReply still_h = nearcache_->Command({"HGETALL", "laterh"});
  if (absl::Now() - first_read < kNegativeTtl) {
    EXPECT_TRUE(still.is_nil()) << still.ToString();
    EXPECT_EQ(still_h, RedisReply::Array({})) << still_h.ToString();
    EXPECT_EQ(redis_.CommandCalls("get"), gets) << "negative hit went to Redis";
  }
  // After negative_ttl the values show up (each entry expires on its own
  // clock, so poll for both).
  const absl::Time deadline = absl::Now() + kPollLimit;
  RedisReply r, rh;
  while (absl::Now() < deadline) {
    r = nearcache_->Command({"GET", "later"});
    rh = nearcache_->Command({"HGET", "laterh", "f"});
    if (!r.is_nil() && !rh.is_nil()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(r, RedisReply::String("now-here"));
  EXPECT_EQ(rh, RedisReply::String("x"));
  EXPECT_GE(absl::Now() - first_read, kNegativeTtl);
}

TEST_F(ReadThroughTest, ValuesAreServedAgainAfterTtl) {
  // With a short ttl and no invalidation, a change in Redis is seen once the
  // ttl passed, and each expiry costs one read.
  StartNearcache({{"cache.ttl", "300ms"}});
  ASSERT_FALSE(redis_.Command({"SET", "t", "v1"}).is_error());
  EXPECT_EQ(nearcache_->Command({"GET", "t"}), RedisReply::String("v1"));
  ASSERT_FALSE(redis_.Command({"SET", "t", "v2"}).is_error());
  const absl::Time deadline = absl::Now() + kPollLimit;
  RedisReply r;
  while (absl::Now() < deadline) {
    r = nearcache_->Command({"GET", "t"});
    if (r != RedisReply::String("v1")) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(r, RedisReply::String("v2"));
}

TEST_F(ReadThroughTest, PipelinedDuplicatesShareOneRead) {
  StartNearcache();
  ASSERT_FALSE(redis_.Command({"SET", "dup", "d"}).is_error());
  ASSERT_FALSE(redis_.Command({"HSET", "duph", "f", "d"}).is_error());
  RedisClient c = nearcache_->Connect();
  ASSERT_NE(c, nullptr);
  const int64_t gets = redis_.CommandCalls("get");
  const int64_t hgetalls = redis_.CommandCalls("hgetall");
  for (int i = 0; i < 30; ++i) {
    redisAppendCommand(c.get(), "GET dup");
    redisAppendCommand(c.get(), "HGET duph f");
  }
  for (int i = 0; i < 60; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    RedisReply r = RedisReplyFromHiredis(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    EXPECT_EQ(r, RedisReply::String("d"));
  }
  EXPECT_EQ(redis_.CommandCalls("get") - gets, 1);
  EXPECT_EQ(redis_.CommandCalls("hgetall") - hgetalls, 1);
}

// The INFO stats field `name`, or -1.
int64_t InfoStat(const RedisReply& info, absl::string_view name) {
  const std::string needle = absl::StrCat("\r\n", name, ":");
  const size_t at = info.str.find(needle);
  if (at == std::string::npos) return -1;
  const size_t begin = at + needle.size();
  int64_t v = -1;
  if (!absl::SimpleAtoi(
          info.str.substr(begin, info.str.find("\r\n", begin) - begin), &v)) {
    return -1;
  }
  return v;
}

TEST_F(ReadThroughTest, ByteBoundHoldsAndAnswersStayRight) {
  constexpr int64_t kMaxBytes = 64 * 1024;
  StartNearcache({{"cache.max_bytes", "64KiB"}, {"cache.ttl", "30s"}});
  // 300 KiB of values through a 64 KiB cache, plus one value larger than
  // the whole cache.
  for (int i = 0; i < 300; ++i) {
    ASSERT_FALSE(
        redis_
            .Command({"SET", absl::StrCat("big", i),
                      std::string(1000, static_cast<char>('a' + i % 26))})
            .is_error());
  }
  const std::string huge(200 * 1024, 'h');
  ASSERT_FALSE(redis_.Command({"SET", "huge", huge}).is_error());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 300; ++i) {
      EXPECT_EQ(nearcache_->Command({"GET", absl::StrCat("big", i)}),
                RedisReply::String(
                    std::string(1000, static_cast<char>('a' + i % 26))));
    }
    EXPECT_EQ(nearcache_->Command({"GET", "huge"}), RedisReply::String(huge));
  }
  RedisReply info = nearcache_->Command({"INFO", "stats"});
  EXPECT_EQ(InfoStat(info, "nearcache_cache_max_bytes"), kMaxBytes) << info.str;
  const int64_t bytes = InfoStat(info, "nearcache_cache_bytes");
  EXPECT_GT(bytes, 0) << info.str;
  EXPECT_LE(bytes, kMaxBytes) << info.str;
  EXPECT_GT(InfoStat(info, "evicted_keys"), 0) << info.str;
  EXPECT_LT(InfoStat(info, "nearcache_cache_entries"), 300) << info.str;
}

}  // namespace
}  // namespace nearcache
