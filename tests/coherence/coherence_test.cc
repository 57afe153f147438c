// Coherence: after a change in Redis, nearcache never serves the old value
// as fresh. A real redis-server and the real nearcache binary (cache.ttl
// 60 s: only an invalidation can change what it serves).
//
// Every test first makes sure the old value is cached fresh (served as a
// cache hit), then changes Redis, then:
//   - for changes Redis (or the writer) reports: waits a bounded time for the
//     invalidation (polls until the reply changes, at most 2 s), then the
//     new reply must stay;
//   - for changes that happen while the invalidation link or a tracked data
//     connection is lost (no message will ever come): what nearcache serves
//     must not be the old value, except marked STALE while Redis itself is
//     unreachable; when the write happened while nearcache knew the link was
//     down, the very next read, without any wait, must be the new value.
//
// Most tests run in the three modes (docs/coherence.md): default tracking,
// BCAST (tracking_prefixes ["f:"]) and channel-only (tracking: false; the
// writer PUBLISHes the keys it changed).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/coherence/coherence_fixture.h"

namespace nearcache {
namespace coherence {
namespace {

class CoherenceTest : public CoherenceFixture,
                      public testing::WithParamInterface<Mode> {
 protected:
  void StartInMode(
      std::vector<std::pair<std::string, std::string>> extra = {}) {
    StartNearcache(GetParam(), std::move(extra));
  }

  // Polls `key` in Redis until it no longer exists (its TTL ran out).
  void WaitExpiredInRedis(const std::string& key) {
    const absl::Time deadline = absl::Now() + kReconnectWait;
    while (redis_.Command({"EXISTS", key}) != RedisReply::Integer(0) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(redis_.Command({"EXISTS", key}), RedisReply::Integer(0));
  }
};

INSTANTIATE_TEST_SUITE_P(Modes, CoherenceTest,
                         testing::Values(Mode::kDefault, Mode::kBcast,
                                         Mode::kChannel),
                         [](const testing::TestParamInfo<Mode>& info) {
                           return ModeName(info.param);
                         });

// --- Changes that Redis (or the writer) reports ----------------------------

TEST_P(CoherenceTest, SetOfACachedKey) {
  StartInMode();
  const std::string k = K("set");
  Write({"SET", k, "v1"}, {k});
  CacheFresh({"GET", k}, Str("v1"));
  Write({"SET", k, "v2"}, {k});
  ExpectChange({"GET", k}, Str("v2"));
  // And again: the re-read value is tracked too.
  Write({"SET", k, "v3"}, {k});
  ExpectChange({"GET", k}, Str("v3"));
}

TEST_P(CoherenceTest, SetOfAKeyCachedAsMissing) {
  StartInMode();
  const std::string k = K("nil-then-set");
  CacheFresh({"GET", k}, Nil());
  Write({"SET", k, "born"}, {k});
  ExpectChange({"GET", k}, Str("born"));
}

TEST_P(CoherenceTest, DelOfACachedKey) {
  StartInMode();
  const std::string k = K("del");
  Write({"SET", k, "v1"}, {k});
  CacheFresh({"GET", k}, Str("v1"));
  Write({"DEL", k}, {k});
  ExpectChange({"GET", k}, Nil());
}

TEST_P(CoherenceTest, MgetSeesAChangeToOneOfItsKeys) {
  StartInMode();
  const std::string a = K("mget-a"), b = K("mget-b");
  Write({"MSET", a, "a1", b, "b1"}, {a, b});
  CacheFresh({"MGET", a, b}, RedisReply::Array({Str("a1"), Str("b1")}));
  Write({"SET", b, "b2"}, {b});
  ExpectChange({"MGET", a, b}, RedisReply::Array({Str("a1"), Str("b2")}));
}

TEST_P(CoherenceTest, ExpiryOfAKeyReadWithItsTtl) {
  StartInMode();
  const std::string k = K("px");
  Write({"SET", k, "short-lived", "PX", "1500"}, {k});
  CacheFresh({"GET", k}, Str("short-lived"));
  WaitExpiredInRedis(k);
  ExpectChange({"GET", k}, Nil());
}

TEST_P(CoherenceTest, PexpireOfACachedKey) {
  StartInMode();
  const std::string k = K("pexpire");
  Write({"SET", k, "v1"}, {k});
  CacheFresh({"GET", k}, Str("v1"));  // cached with no expiry
  Write({"PEXPIRE", k, "300"}, {k});
  WaitExpiredInRedis(k);
  ExpectChange({"GET", k}, Nil());
}

TEST_P(CoherenceTest, HsetOfACachedHash) {
  StartInMode();
  const std::string h = K("hash");
  Write({"HSET", h, "f1", "a", "f2", "b"}, {h});
  CacheFresh({"HGETALL", h},
             RedisReply::Array({Str("f1"), Str("a"), Str("f2"), Str("b")}));
  CacheFresh({"HGET", h, "f1"}, Str("a"));
  CacheFresh({"HMGET", h, "f1", "f2"}, RedisReply::Array({Str("a"), Str("b")}));
  Write({"HSET", h, "f1", "c"}, {h});
  ExpectChange({"HGET", h, "f1"}, Str("c"));
  ExpectChange({"HGETALL", h},
               RedisReply::Array({Str("f1"), Str("c"), Str("f2"), Str("b")}));
  ExpectChange({"HMGET", h, "f1", "f2"},
               RedisReply::Array({Str("c"), Str("b")}));
}

TEST_P(CoherenceTest, Flushall) {
  StartInMode();
  const std::string a = K("flush-a"), h = K("flush-h"), none = K("flush-none");
  Write({"SET", a, "v1"}, {a});
  Write({"HSET", h, "f", "v"}, {h});
  CacheFresh({"GET", a}, Str("v1"));
  CacheFresh({"HGETALL", h}, RedisReply::Array({Str("f"), Str("v")}));
  CacheFresh({"GET", none}, Nil());
  Write({"FLUSHALL"}, {"*"});
  ExpectChange({"GET", a}, Nil());
  ExpectChange({"HGETALL", h}, RedisReply::Array({}));
  // A key that did not exist before the flush and is written after it.
  Write({"SET", none, "now"}, {none});
  ExpectChange({"GET", none}, Str("now"));
}

// --- Losing the invalidation link ------------------------------------------

// The link is killed and a write lands at once, before nearcache can have
// re-established anything: Redis (or the writer's PUBLISH) has nobody to
// tell. The write must still be seen.
TEST_P(CoherenceTest, WriteJustAfterTheLinkIsKilledIsSeen) {
  StartInMode();
  const std::string k = K("link-killed");
  Write({"SET", k, "v1"}, {k});
  CacheFresh({"GET", k}, Str("v1"));
  Kill(LinkId());
  Write({"SET", k, "v2"}, {k});
  ExpectChange({"GET", k}, Str("v2"), /*expect_cached=*/false);
  // Once the link is back, changes are heard again.
  ASSERT_TRUE(WaitFreshnessOn());
  EXPECT_EQ(Links().size(), 1u);
  Write({"SET", k, "v3"}, {k});
  ExpectChange({"GET", k}, Str("v3"));
}

// The link is killed and kept down (Redis refuses new connections). While
// nearcache knows it is down, every read revalidates: a write made then is
// served by the very next read, with no wait. A key re-cached while the link
// is down and written again before it is back (nobody can tell nearcache) is
// not served old once the link is back.
TEST_P(CoherenceTest, WhileTheLinkIsDownEveryReadRevalidates) {
  StartInMode();
  const std::string k1 = K("down-1"), k2 = K("down-2"), k3 = K("down-3");
  for (const std::string& k : {k1, k2, k3}) {
    Write({"SET", k, "v1"}, {k});
    CacheFresh({"GET", k}, Str("v1"));
  }

  KillLinkAndKeepItDown();
  Write({"SET", k1, "v2"}, {k1});
  Read r = Do({"GET", k1});
  EXPECT_EQ(r.reply, Str("v2")) << "the first read after a write made while "
                                   "the link was down: "
                                << r;
  // Unchanged keys are revalidated with Redis too, read after read.
  for (int i = 0; i < 3; ++i) {
    r = Do({"GET", k2});
    EXPECT_EQ(r.reply, Str("v1"));
    EXPECT_EQ(r.source, Source::kMiss) << "served from the cache while the "
                                          "invalidation link is down: "
                                       << r;
  }
  // k3 is read (and stored) while the link is down, then changes, unheard,
  // and is not read again until the link is back.
  r = Do({"GET", k3});
  EXPECT_EQ(r.reply, Str("v1")) << r;
  Write({"SET", k3, "v2"}, {k3});

  AllowConnections();
  ASSERT_TRUE(WaitFreshnessOn()) << "the link never came back";
  r = Do({"GET", k3});
  EXPECT_EQ(r.reply, Str("v2")) << "first read after the link came back of a "
                                   "key written while it was down: "
                                << r;
  r = Do({"GET", k1});
  EXPECT_EQ(r.reply, Str("v2")) << "first read after the link came back: " << r;

  // Tracking is re-established for reads made after the link is back.
  for (const std::string& k : {k1, k2, k3}) {
    CacheFresh({"GET", k}, Str(k == k2 ? "v1" : "v2"));
    Write({"SET", k, "v3"}, {k});
    ExpectChange({"GET", k}, Str("v3"));
  }
}

// --- Redis restarted with no data --------------------------------------------

TEST_P(CoherenceTest, RedisRestartedEmptyOldValuesAreNotServedAsFresh) {
  StartInMode();
  const std::string k = K("restart"), h = K("restart-h");
  Write({"SET", k, "old"}, {k});
  Write({"HSET", h, "f", "old"}, {h});
  CacheFresh({"GET", k}, Str("old"));
  CacheFresh({"HGETALL", h}, RedisReply::Array({Str("f"), Str("old")}));

  redis_.Kill();
  // Redis is down: the old value may be served, marked stale only.
  Read r;
  const absl::Time deadline = absl::Now() + kReconnectWait;
  do {
    r = Do({"GET", k});
    ASSERT_EQ(r.reply, Str("old")) << r;
  } while (r.source == Source::kHit && absl::Now() < deadline);
  EXPECT_EQ(r.source, Source::kStale) << r;

  ASSERT_TRUE(redis_.Start().ok());
  for (const auto& [args, empty] :
       std::vector<std::pair<std::vector<std::string>, RedisReply>>{
           {{"GET", k}, Nil()}, {{"HGETALL", h}, RedisReply::Array({})}}) {
    const absl::Time until = absl::Now() + kReconnectWait;
    do {
      r = Do(args);
      if (r.reply == empty) break;
      ASSERT_EQ(r.source, Source::kStale)
          << "old value served as fresh after Redis came back empty: " << r;
      absl::SleepFor(absl::Milliseconds(1));
    } while (absl::Now() < until);
    EXPECT_EQ(r.reply, empty) << r;
  }

  ASSERT_TRUE(WaitFreshnessOn());
  Write({"SET", k, "new"}, {k});
  ExpectChange({"GET", k}, Str("new"));
}

// --- Default tracking mode only ----------------------------------------------

class DefaultModeTest : public CoherenceFixture {};

// Redis stops tracking the keys a killed data connection read, silently
// (redis/redis#11767): nearcache must not keep serving them as fresh.
TEST_F(DefaultModeTest, DataConnectionKilledThenKeyWritten) {
  StartNearcache(Mode::kDefault, {{"redis.pool_size", "1"}});
  const std::string k = K("data-conn");
  redis_.Command({"SET", k, "v1"});
  CacheFresh({"GET", k}, Str("v1"));  // read on the only data connection
  std::vector<ClientInfo> conns = DataConnections();
  ASSERT_EQ(conns.size(), 1u);
  const std::string old_id = conns[0]["id"];
  Kill(old_id);
  redis_.Command({"SET", k, "v2"});  // no invalidation will be sent

  // Wait until nearcache has noticed and reconnected.
  const absl::Time deadline = absl::Now() + kReconnectWait;
  for (;;) {
    conns = DataConnections();
    if (conns.size() == 1 && conns[0]["id"] != old_id) break;
    ASSERT_LT(absl::Now(), deadline) << "the data connection never came back";
    absl::SleepFor(absl::Milliseconds(5));
  }
  Read r;
  const absl::Time until = absl::Now() + kReconnectWait;
  do {
    r = Do({"GET", k});
    if (r.reply == Str("v2")) break;
    ASSERT_EQ(r.source, Source::kStale)
        << "old value served as fresh after its data connection died: " << r;
    absl::SleepFor(absl::Milliseconds(1));
  } while (absl::Now() < until);
  ASSERT_EQ(r.reply, Str("v2")) << r;
  // The new connection tracks: the next write is heard.
  CacheFresh({"GET", k}, Str("v2"));
  redis_.Command({"SET", k, "v3"});
  ExpectChange({"GET", k}, Str("v3"));
}

// Several data connections: whichever read the key, killing all of them one
// after the other never lets the old value out as fresh.
TEST_F(DefaultModeTest, EveryDataConnectionKilledThenKeysWritten) {
  StartNearcache(Mode::kDefault, {{"redis.pool_size", "3"}});
  std::vector<std::string> keys;
  for (int i = 0; i < 6; ++i) keys.push_back(K(absl::StrCat("many-", i)));
  for (const std::string& k : keys) {
    redis_.Command({"SET", k, "v1"});
    CacheFresh({"GET", k}, Str("v1"));
  }
  std::vector<ClientInfo> old = DataConnections();
  ASSERT_EQ(old.size(), 3u);
  for (ClientInfo& c : old) Kill(c["id"]);
  for (const std::string& k : keys) redis_.Command({"SET", k, "v2"});
  // Wait until nearcache has noticed every kill and reconnected.
  const absl::Time deadline = absl::Now() + kReconnectWait;
  for (;;) {
    std::vector<ClientInfo> now = DataConnections();
    bool all_new = now.size() == 3;
    for (ClientInfo& c : now) {
      for (ClientInfo& o : old) all_new = all_new && c["id"] != o["id"];
    }
    if (all_new) break;
    ASSERT_LT(absl::Now(), deadline) << "the data connections never came back";
    absl::SleepFor(absl::Milliseconds(5));
  }
  for (const std::string& k : keys) {
    Read r;
    const absl::Time until = absl::Now() + kReconnectWait;
    do {
      r = Do({"GET", k});
      if (r.reply == Str("v2")) break;
      ASSERT_EQ(r.source, Source::kStale) << k
                                          << ": old value served as fresh "
                                             "after its connection died: "
                                          << r;
      absl::SleepFor(absl::Milliseconds(1));
    } while (absl::Now() < until);
    EXPECT_EQ(r.reply, Str("v2")) << k << ": " << r;
  }
}

TEST_F(DefaultModeTest, FlushdbToo) {
  StartNearcache(Mode::kDefault);
  const std::string k = K("flushdb");
  redis_.Command({"SET", k, "v1"});
  CacheFresh({"GET", k}, Str("v1"));
  redis_.Command({"FLUSHDB"});
  ExpectChange({"GET", k}, Nil());
}

// The app channel works alongside tracking: a message for a key that did
// not change in Redis still makes the next read go to Redis.
TEST_F(DefaultModeTest, ChannelMessageInvalidatesAlongsideTracking) {
  StartNearcache(Mode::kDefault);
  const std::string k = K("chan-default");
  redis_.Command({"SET", k, "v1"});
  CacheFresh({"GET", k}, Str("v1"));
  Publish(k);
  Read r;
  const absl::Time until = absl::Now() + kInvalidationWait;
  do {
    r = Do({"GET", k});
  } while (r.source != Source::kMiss && absl::Now() < until);
  EXPECT_EQ(r.source, Source::kMiss) << r;
  EXPECT_EQ(r.reply, Str("v1"));
}

// --- BCAST mode only
// -----------------------------------------------------------

class BcastModeTest : public CoherenceFixture {};

// BCAST hears only its prefixes: a key outside them is not invalidated by a
// write (it stays cached until cache.ttl). Documented, and checked here so
// that the documentation stays true.
TEST_F(BcastModeTest, KeysOutsideThePrefixesAreNotTracked) {
  StartNearcache(Mode::kBcast);
  const std::string outside = "g:1", fence = K("fence");
  redis_.Command({"SET", outside, "v1"});
  CacheFresh({"GET", outside}, Str("v1"));
  redis_.Command({"SET", outside, "v2"});
  // f:fence's invalidation is sent after any message about g:1 would be.
  redis_.Command({"SET", fence, "v1"});
  CacheFresh({"GET", fence}, Str("v1"));
  redis_.Command({"SET", fence, "v2"});
  ExpectChange({"GET", fence}, Str("v2"));
  Read r = Do({"GET", outside});
  EXPECT_EQ(r.reply, Str("v1"));
  EXPECT_EQ(r.source, Source::kHit);
}

TEST_F(BcastModeTest, DataConnectionKilledNeedsNoFlush) {
  StartNearcache(Mode::kBcast, {{"redis.pool_size", "1"}});
  const std::string k = K("bcast-data");
  redis_.Command({"SET", k, "v1"});
  CacheFresh({"GET", k}, Str("v1"));
  std::vector<ClientInfo> conns = DataConnections();
  ASSERT_EQ(conns.size(), 1u);
  Kill(conns[0]["id"]);
  // The link, not the data connection, carries BCAST: the write is heard.
  redis_.Command({"SET", k, "v2"});
  ExpectChange({"GET", k}, Str("v2"));
}

// --- Channel-only mode (tracking: false)
// ---------------------------------------

class ChannelOnlyTest : public CoherenceFixture {
 protected:
  void SetUp() override {
    CoherenceFixture::SetUp();
    StartNearcache(Mode::kChannel);
  }
};

TEST_F(ChannelOnlyTest, OneKey) {
  const std::string k = K("c1");
  redis_.Command({"SET", k, "v1"});
  CacheFresh({"GET", k}, Str("v1"));
  redis_.Command({"SET", k, "v2"});
  // Without tracking only the writer's message tells nearcache.
  Read r = Do({"GET", k});
  EXPECT_EQ(r.reply, Str("v1"));
  EXPECT_EQ(r.source, Source::kHit);
  Publish(k);
  ExpectChange({"GET", k}, Str("v2"));
}

TEST_F(ChannelOnlyTest, SeveralKeysOnePerLine) {
  std::vector<std::string> keys = {K("c1"), K("c2"), K("c3"), K("c4")};
  for (const std::string& k : keys) {
    redis_.Command({"SET", k, "v1"});
    CacheFresh({"GET", k}, Str("v1"));
    redis_.Command({"SET", k, "v2"});
  }
  Publish(absl::StrCat(keys[0], "\n", keys[1], "\n", keys[2]));
  for (int i = 0; i < 3; ++i) ExpectChange({"GET", keys[i]}, Str("v2"));
  // Not named: still the cached value (the same message was applied).
  Read r = Do({"GET", keys[3]});
  EXPECT_EQ(r.reply, Str("v1"));
  EXPECT_EQ(r.source, Source::kHit);
}

TEST_F(ChannelOnlyTest, StarInvalidatesEverything) {
  const std::string a = K("s1"), h = K("s2"), none = K("s3");
  redis_.Command({"SET", a, "v1"});
  redis_.Command({"HSET", h, "f", "v1"});
  CacheFresh({"GET", a}, Str("v1"));
  CacheFresh({"HGET", h, "f"}, Str("v1"));
  CacheFresh({"GET", none}, Nil());
  redis_.Command({"SET", a, "v2"});
  redis_.Command({"HSET", h, "f", "v2"});
  redis_.Command({"SET", none, "v2"});
  Publish("*");
  ExpectChange({"GET", a}, Str("v2"));
  ExpectChange({"HGET", h, "f"}, Str("v2"));
  ExpectChange({"GET", none}, Str("v2"));
}

}  // namespace
}  // namespace coherence
}  // namespace nearcache
