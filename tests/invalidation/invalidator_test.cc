// Invalidator: the messages it applies (HandlePush, no Redis needed), and
// the link against a real redis-server: subscription, default / BCAST /
// channel-only modes, re-tracking of data connections, and what it does when
// the link or a tracked data connection is lost (see invalidator.h).
//
// The test thread plays the upstream thread: it runs the io_context that the
// pool and the invalidator live on. The cache runs on a ManualClock that
// never moves, so an entry changes state only through invalidation or
// SetFreshnessAllowed. Waits are bounded; nothing asserts on elapsed time.
#include "invalidation/invalidator.h"

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "nearcache/cache.h"
#include "nearcache/value.h"
#include "service/lookup_service.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fakes/redis_server.h"
#include "tests/upstream/run_coroutine.h"
#include "upstream/upstream_pool.h"

namespace nearcache {
namespace {

using std::string_literals::operator""s;

constexpr absl::string_view kChannel = "nearcache:invalidate";

RedisReply Message(absl::string_view channel, RedisReply payload) {
  return RedisReply::Array({RedisReply::String("message"),
                            RedisReply::String(std::string(channel)),
                            std::move(payload)});
}

RedisReply TrackingMessage(std::vector<std::string> keys) {
  std::vector<RedisReply> elements;
  for (std::string& k : keys) elements.push_back(RedisReply::String(k));
  return Message("__redis__:invalidate", RedisReply::Array(elements));
}

RedisReply ChannelMessage(absl::string_view text) {
  return Message(kChannel, RedisReply::String(std::string(text)));
}

// Builds what App builds (cache, pool, lookup service, invalidator) around
// an io_context that the test thread runs.
class InvalidatorFixture : public testing::Test {
 protected:
  InvalidatorFixture() : cache_(CacheOptionsForTest(), &clock_) {}

  ~InvalidatorFixture() override {
    if (invalidator_ != nullptr) invalidator_->Stop();
    if (pool_ != nullptr) pool_->Stop();
    RunFor(io_, absl::Milliseconds(20));
  }

  static CacheOptions CacheOptionsForTest() {
    CacheOptions o;
    o.ttl = absl::Hours(1);
    o.negative_ttl = absl::Hours(1);
    o.max_stale = absl::Hours(1);
    o.num_shards = 4;
    return o;
  }

  InvalidatorOptions Options() {
    InvalidatorOptions o;
    o.conn.connect_timeout = absl::Seconds(2);
    o.ping_interval = absl::Milliseconds(50);
    o.ping_timeout = absl::Milliseconds(300);
    o.reconnect_min = absl::Milliseconds(10);
    o.reconnect_max = absl::Milliseconds(50);
    o.on_link_change = [this](bool up) { link_changes_.push_back(up); };
    return o;
  }

  // Builds the layers; `endpoint` is where the pool and the link connect.
  void Build(InvalidatorOptions inv, int pool_size = 2,
             RedisEndpoint endpoint = RedisEndpoint()) {
    UpstreamPoolOptions p;
    p.conn.endpoint = endpoint;
    p.conn.connect_timeout = absl::Seconds(2);
    p.conn.command_timeout = absl::Seconds(2);
    p.pool_size = pool_size;
    p.reconnect_min = absl::Milliseconds(10);
    p.reconnect_max = absl::Milliseconds(50);
    p.on_connect = [this](RedisConnection& conn) {
      return invalidator_->TrackDataConnection(conn);
    };
    p.on_connection_lost = [this](int64_t id, absl::Status) {
      invalidator_->OnDataConnectionLost(id);
    };
    pool_ = std::make_unique<UpstreamPool>(io_.get_executor(), p);
    service_ = std::make_unique<LookupService>(&cache_, pool_.get(),
                                               io_.get_executor());
    inv.conn.endpoint = endpoint;
    inv.retrack_data_connections = [this](int64_t link_id) {
      return pool_->ForEachConnection(
          [link_id](RedisConnection& conn) { return Retrack(conn, link_id); });
    };
    invalidator_ = std::make_unique<Invalidator>(io_.get_executor(), inv,
                                                 &cache_, service_.get());
  }

  // As App's RetrackConnection.
  static boost::asio::awaitable<absl::Status> Retrack(RedisConnection& conn,
                                                      int64_t link_id) {
    std::vector<std::vector<std::string>> commands = {
        {"CLIENT", "TRACKING", "off"},
        {"CLIENT", "TRACKING", "on", "REDIRECT", absl::StrCat(link_id)}};
    auto replies = co_await conn.ExecuteBatch(std::move(commands));
    if (!replies.ok()) co_return replies.status();
    for (const RedisReply& r : *replies) {
      if (r.is_error()) co_return absl::FailedPreconditionError(r.str);
    }
    co_return absl::OkStatus();
  }

  // Stores `value` as if just read from Redis (nothing racing it).
  InsertResult Put(absl::string_view key, absl::string_view value) {
    FetchTicket ticket = cache_.BeginFetch(key);
    return cache_.Insert(key, ticket, Value::String(std::string(value)));
  }

  // The state of `key`'s entry; nullopt when absent.
  std::optional<EntryState> StateOf(absl::string_view key) {
    std::optional<CacheEntry> e = cache_.Lookup(key);
    if (!e.has_value()) return std::nullopt;
    return e->state;
  }

  bool IsFresh(absl::string_view key) {
    return StateOf(key) == EntryState::kFresh;
  }

  ManualClock clock_;
  boost::asio::io_context io_;
  ShardedLruCache cache_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<LookupService> service_;
  std::unique_ptr<Invalidator> invalidator_;
  std::vector<bool> link_changes_;
};

// ---------------------------------------------------------------------------
// HandlePush: message formats, without Redis. The invalidator is not
// started, so the cache's freshness stays allowed.

class HandlePushTest : public InvalidatorFixture {
 protected:
  void SetUp() override {
    Build(Options());
    for (const char* k : {"a", "b", "c"}) Put(k, "v");
  }
};

TEST_F(HandlePushTest, TrackingMessageInvalidatesEachNamedKey) {
  invalidator_->HandlePush(TrackingMessage({"a", "b"}));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_EQ(StateOf("b"), EntryState::kInvalidated);
  EXPECT_TRUE(IsFresh("c"));
  EXPECT_EQ(invalidator_->counters().tracking.load(), 2u);
}

TEST_F(HandlePushTest, InvalidatedEntryKeepsItsValueForStaleIfError) {
  invalidator_->HandlePush(TrackingMessage({"a"}));
  std::optional<CacheEntry> e = cache_.Lookup("a");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, EntryState::kInvalidated);
  EXPECT_EQ(e->value->str(), "v");
}

TEST_F(HandlePushTest, TrackingNullPayloadIsFlushall) {
  invalidator_->HandlePush(Message("__redis__:invalidate", RedisReply::Nil()));
  for (const char* k : {"a", "b", "c"}) {
    EXPECT_EQ(StateOf(k), EntryState::kInvalidated) << k;
  }
  EXPECT_EQ(invalidator_->counters().flush.load(), 1u);
}

TEST_F(HandlePushTest, ReadInFlightWhenItsKeyIsInvalidatedStoresStaleOnly) {
  FetchTicket ticket = cache_.BeginFetch("d");
  invalidator_->HandlePush(TrackingMessage({"d"}));
  EXPECT_EQ(cache_.Insert("d", ticket, Value::String("old")),
            InsertResult::kStoredInvalidated);
  EXPECT_EQ(StateOf("d"), EntryState::kInvalidated);
}

TEST_F(HandlePushTest, ReadInFlightDuringFlushallStoresStaleOnly) {
  FetchTicket ticket = cache_.BeginFetch("d");
  invalidator_->HandlePush(Message("__redis__:invalidate", RedisReply::Nil()));
  EXPECT_EQ(cache_.Insert("d", ticket, Value::String("old")),
            InsertResult::kStoredInvalidated);
}

TEST_F(HandlePushTest, ChannelOneKey) {
  invalidator_->HandlePush(ChannelMessage("b"));
  EXPECT_TRUE(IsFresh("a"));
  EXPECT_EQ(StateOf("b"), EntryState::kInvalidated);
  EXPECT_TRUE(IsFresh("c"));
  EXPECT_EQ(invalidator_->counters().channel.load(), 1u);
}

TEST_F(HandlePushTest, ChannelSeveralKeysOnePerLine) {
  invalidator_->HandlePush(ChannelMessage("a\nc"));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_TRUE(IsFresh("b"));
  EXPECT_EQ(StateOf("c"), EntryState::kInvalidated);
  EXPECT_EQ(invalidator_->counters().channel.load(), 2u);
}

TEST_F(HandlePushTest, ChannelCrlfTrailingNewlineAndEmptyLines) {
  invalidator_->HandlePush(ChannelMessage("a\r\n\n\r\nb\n"));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_EQ(StateOf("b"), EntryState::kInvalidated);
  EXPECT_TRUE(IsFresh("c"));
  EXPECT_EQ(invalidator_->counters().channel.load(), 2u);
}

TEST_F(HandlePushTest, ChannelStarInvalidatesEverything) {
  invalidator_->HandlePush(ChannelMessage("*"));
  for (const char* k : {"a", "b", "c"}) {
    EXPECT_EQ(StateOf(k), EntryState::kInvalidated) << k;
  }
  EXPECT_EQ(invalidator_->counters().flush.load(), 1u);
}

// A writer that ends every message with a newline (or lists "*" among keys)
// still means "everything": over-invalidating is safe, missing is not.
TEST_F(HandlePushTest, ChannelStarLineInvalidatesEverything) {
  invalidator_->HandlePush(ChannelMessage("*\n"));
  for (const char* k : {"a", "b", "c"}) {
    EXPECT_EQ(StateOf(k), EntryState::kInvalidated) << k;
  }
  Put("a", "v");
  invalidator_->HandlePush(ChannelMessage("x\r\n*\r\ny"));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_EQ(invalidator_->counters().flush.load(), 2u);
}

TEST_F(HandlePushTest, ChannelKeysAreBinarySafe) {
  const std::string key = "ent\0ity\xff"s;
  Put(key, "v");
  invalidator_->HandlePush(ChannelMessage("zz\n"s + key));
  EXPECT_EQ(StateOf(key), EntryState::kInvalidated);
  EXPECT_TRUE(IsFresh("a"));
}

TEST_F(HandlePushTest, TrackingKeysAreBinarySafe) {
  const std::string key = "ent\0ity\n"s;
  Put(key, "v");
  invalidator_->HandlePush(TrackingMessage({key}));
  EXPECT_EQ(StateOf(key), EntryState::kInvalidated);
}

TEST_F(HandlePushTest, IgnoresConfirmationsPongsAndOtherChannels) {
  invalidator_->HandlePush(RedisReply::Array(
      {RedisReply::String("subscribe"),
       RedisReply::String(std::string(kChannel)), RedisReply::Integer(1)}));
  invalidator_->HandlePush(
      RedisReply::Array({RedisReply::String("pong"), RedisReply::String("")}));
  invalidator_->HandlePush(Message("other", RedisReply::String("a")));
  invalidator_->HandlePush(RedisReply::String("a"));
  invalidator_->HandlePush(RedisReply::Array(
      {RedisReply::String("pmessage"), RedisReply::String("p*"),
       RedisReply::String(std::string(kChannel)), RedisReply::String("a")}));
  for (const char* k : {"a", "b", "c"}) EXPECT_TRUE(IsFresh(k)) << k;
}

TEST_F(InvalidatorFixture, TrackingMessagesIgnoredWhenTrackingIsOff) {
  InvalidatorOptions o = Options();
  o.tracking = false;
  Build(o);
  Put("a", "v");
  invalidator_->HandlePush(TrackingMessage({"a"}));
  EXPECT_TRUE(IsFresh("a"));
  invalidator_->HandlePush(ChannelMessage("a"));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
}

TEST_F(InvalidatorFixture, ChannelMessagesIgnoredWithoutAChannel) {
  InvalidatorOptions o = Options();
  o.channel = "";
  Build(o);
  Put("a", "v");
  invalidator_->HandlePush(ChannelMessage("a"));
  EXPECT_TRUE(IsFresh("a"));
}

TEST_F(InvalidatorFixture, CustomChannelName) {
  InvalidatorOptions o = Options();
  o.channel = "features:changed";
  Build(o);
  Put("a", "v");
  invalidator_->HandlePush(ChannelMessage("a"));
  EXPECT_TRUE(IsFresh("a"));
  invalidator_->HandlePush(
      Message("features:changed", RedisReply::String("a")));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
}

TEST_F(InvalidatorFixture, NothingToListenToAllowsFreshnessWithoutALink) {
  InvalidatorOptions o = Options();
  o.tracking = false;
  o.channel = "";
  Build(o);
  cache_.SetFreshnessAllowed(false);
  invalidator_->Start();
  Put("a", "v");
  EXPECT_TRUE(IsFresh("a"));
  EXPECT_FALSE(invalidator_->link_up());
}

TEST_F(InvalidatorFixture, OnDataConnectionLostInvalidatesAllInDefaultMode) {
  Build(Options());
  Put("a", "v");
  invalidator_->OnDataConnectionLost(42);
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_EQ(invalidator_->counters().reconnect.load(), 1u);
}

TEST_F(InvalidatorFixture, OnDataConnectionLostIsHarmlessInBcastMode) {
  InvalidatorOptions o = Options();
  o.tracking_prefixes = {"f:"};
  Build(o);
  Put("a", "v");
  invalidator_->OnDataConnectionLost(42);
  EXPECT_TRUE(IsFresh("a"));
}

// ---------------------------------------------------------------------------
// Against a real redis-server.

// One line of CLIENT LIST as field -> value.
using ClientInfo = std::map<std::string, std::string>;

class InvalidatorRedisTest : public InvalidatorFixture {
 protected:
  void SetUp() override {
    absl::Status started = redis_.Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  void BuildAndStart(InvalidatorOptions o, int pool_size = 2) {
    Build(std::move(o), pool_size, redis_.unix_endpoint());
    invalidator_->Start();
    pool_->Start();
  }

  std::vector<ClientInfo> Clients(absl::string_view name) {
    std::vector<ClientInfo> out;
    RedisReply list = redis_.Command({"CLIENT", "LIST"});
    for (absl::string_view line :
         absl::StrSplit(list.str, '\n', absl::SkipWhitespace())) {
      ClientInfo info;
      for (absl::string_view field : absl::StrSplit(line, ' ')) {
        std::pair<std::string, std::string> kv =
            absl::StrSplit(field, absl::MaxSplits('=', 1));
        info[kv.first] = kv.second;
      }
      if (info["name"] == name) out.push_back(std::move(info));
    }
    return out;
  }

  std::vector<ClientInfo> DataConnections() { return Clients("nearcache"); }
  std::vector<ClientInfo> Links() { return Clients("nearcache-invalidation"); }

  // Every data connection tracks with REDIRECT to the current link.
  bool AllDataConnectionsTrackTheLink(size_t expected) {
    std::vector<ClientInfo> conns = DataConnections();
    if (conns.size() != expected) return false;
    for (ClientInfo& c : conns) {
      if (c["flags"].find('t') == std::string::npos) return false;
      if (c["redir"] != absl::StrCat(invalidator_->link_id())) return false;
    }
    return true;
  }

  bool WaitLinkUp() {
    return RunUntil(io_, [&] { return invalidator_->link_up(); });
  }
  bool WaitPoolUp(int n) {
    return RunUntil(io_, [&] { return pool_->stats().connections_up == n; });
  }

  // Reads `key` through the lookup service (so a tracked data connection
  // reads it) and returns the value Redis gave.
  std::string ReadThrough(const std::string& key) {
    std::vector<FetchOutcome> out =
        Await(io_, service_->Fetch({FetchRequest{key, FetchKind::kString}}));
    if (out.size() != 1 || !out[0].status.ok() || out[0].value == nullptr) {
      ADD_FAILURE() << "fetch of " << key << " failed";
      return "";
    }
    return out[0].value->exists() ? std::string(out[0].value->str()) : "(nil)";
  }

  bool WaitInvalidated(absl::string_view key) {
    return RunUntil(io_,
                    [&] { return StateOf(key) == EntryState::kInvalidated; });
  }

  RedisServerProcess redis_;
};

TEST_F(InvalidatorRedisTest, FreshnessIsOffUntilTheLinkIsUp) {
  Build(Options(), 2, redis_.unix_endpoint());
  invalidator_->Start();
  Put("early", "v");
  EXPECT_EQ(StateOf("early"), EntryState::kInvalidated);
  pool_->Start();
  ASSERT_TRUE(WaitLinkUp());
  // Stored before the link was up: not covered by it.
  EXPECT_EQ(StateOf("early"), EntryState::kInvalidated);
  Put("late", "v");
  EXPECT_TRUE(IsFresh("late"));
  EXPECT_EQ(link_changes_, std::vector<bool>({true}));
}

TEST_F(InvalidatorRedisTest, DefaultModeLinkSubscribesAndDataConnectionsTrack) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  std::vector<ClientInfo> links = Links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0]["id"], absl::StrCat(invalidator_->link_id()));
  EXPECT_EQ(links[0]["sub"], "2");  // __redis__:invalidate + app channel
  EXPECT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(2); }));
}

TEST_F(InvalidatorRedisTest, WriteToAKeyReadThroughThePoolInvalidatesIt) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  redis_.Command({"SET", "k", "v1"});
  EXPECT_EQ(ReadThrough("k"), "v1");
  EXPECT_TRUE(IsFresh("k"));
  redis_.Command({"SET", "k", "v2"});
  EXPECT_TRUE(WaitInvalidated("k"));
  EXPECT_GE(invalidator_->counters().tracking.load(), 1u);
  EXPECT_EQ(ReadThrough("k"), "v2");
  EXPECT_TRUE(IsFresh("k"));
}

TEST_F(InvalidatorRedisTest, FlushallInvalidatesEverything) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(2); }));
  Put("never-read-from-redis", "v");
  EXPECT_TRUE(IsFresh("never-read-from-redis"));
  redis_.Command({"FLUSHALL"});
  EXPECT_TRUE(WaitInvalidated("never-read-from-redis"));
  // One null message per tracking client, all redirected to the link.
  EXPECT_GE(invalidator_->counters().flush.load(), 1u);
}

TEST_F(InvalidatorRedisTest, ChannelMessagesFromRedis) {
  InvalidatorOptions o = Options();
  o.tracking = false;
  BuildAndStart(o);
  ASSERT_TRUE(WaitLinkUp());
  std::vector<ClientInfo> links = Links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0]["sub"], "1");
  for (const char* k : {"a", "b", "c", "d"}) Put(k, "v");
  redis_.Command({"PUBLISH", std::string(kChannel), "a"});
  EXPECT_TRUE(WaitInvalidated("a"));
  redis_.Command({"PUBLISH", std::string(kChannel), "b\nc"});
  EXPECT_TRUE(WaitInvalidated("b"));
  EXPECT_TRUE(WaitInvalidated("c"));
  EXPECT_TRUE(IsFresh("d"));
  redis_.Command({"PUBLISH", std::string(kChannel), "*"});
  EXPECT_TRUE(WaitInvalidated("d"));
}

TEST_F(InvalidatorRedisTest, TrackingOffIgnoresWrites) {
  InvalidatorOptions o = Options();
  o.tracking = false;
  BuildAndStart(o);
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  redis_.Command({"SET", "k", "v1"});
  EXPECT_EQ(ReadThrough("k"), "v1");
  for (ClientInfo& c : DataConnections()) {
    EXPECT_EQ(c["flags"].find('t'), std::string::npos) << c["flags"];
  }
  redis_.Command({"SET", "k", "v2"});
  // The channel's own message is the fence: published after the write, it
  // arrives after any tracking message would have.
  Put("fence", "v");
  redis_.Command({"PUBLISH", std::string(kChannel), "fence"});
  ASSERT_TRUE(WaitInvalidated("fence"));
  EXPECT_TRUE(IsFresh("k"));
}

TEST_F(InvalidatorRedisTest, BcastModeHearsPrefixWritesWithoutReads) {
  InvalidatorOptions o = Options();
  o.tracking_prefixes = {"f:", "g:"};
  BuildAndStart(o);
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  std::vector<ClientInfo> links = Links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_NE(links[0]["flags"].find('t'), std::string::npos);
  EXPECT_NE(links[0]["flags"].find('B'), std::string::npos);
  for (ClientInfo& c : DataConnections()) {
    EXPECT_EQ(c["flags"].find('t'), std::string::npos) << c["flags"];
  }
  for (const char* k : {"f:1", "g:1", "h:1"}) Put(k, "v");
  redis_.Command({"SET", "f:1", "x"});
  redis_.Command({"SET", "g:1", "x"});
  redis_.Command({"SET", "h:1", "x"});
  EXPECT_TRUE(WaitInvalidated("f:1"));
  EXPECT_TRUE(WaitInvalidated("g:1"));
  // Outside the prefixes nothing is heard: fence with the channel.
  Put("fence", "v");
  redis_.Command({"PUBLISH", std::string(kChannel), "fence"});
  ASSERT_TRUE(WaitInvalidated("fence"));
  EXPECT_TRUE(IsFresh("h:1"));
}

TEST_F(InvalidatorRedisTest, LinkKilledInvalidatesAllThenComesBackRetracked) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(2); }));
  const int64_t old_link = invalidator_->link_id();
  const uint64_t reconnects = invalidator_->counters().reconnect.load();
  Put("a", "v");

  redis_.Command({"CLIENT", "KILL", "ID", absl::StrCat(old_link)});
  ASSERT_TRUE(RunUntil(io_, [&] { return !invalidator_->link_up(); }));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_GT(invalidator_->counters().reconnect.load(), reconnects);

  ASSERT_TRUE(WaitLinkUp());
  EXPECT_NE(invalidator_->link_id(), old_link);
  EXPECT_EQ(link_changes_, std::vector<bool>({true, false, true}));
  EXPECT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(2); }));

  // Reads through the re-tracked connections are heard again.
  redis_.Command({"SET", "k", "v1"});
  EXPECT_EQ(ReadThrough("k"), "v1");
  EXPECT_TRUE(IsFresh("k"));
  redis_.Command({"SET", "k", "v2"});
  EXPECT_TRUE(WaitInvalidated("k"));
}

// The link cannot reconnect (maxclients): freshness stays off, so every
// read goes to Redis, and a value stored meanwhile is not fresh after.
TEST_F(InvalidatorRedisTest, WhileTheLinkIsDownNothingIsFresh) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  const int64_t old_link = invalidator_->link_id();
  // Test client + 2 data connections: the link's reconnect is refused.
  redis_.Command({"CONFIG", "SET", "maxclients", "3"});
  redis_.Command({"CLIENT", "KILL", "ID", absl::StrCat(old_link)});
  ASSERT_TRUE(RunUntil(io_, [&] { return !invalidator_->link_up(); }));
  RunFor(io_, absl::Milliseconds(100));  // a few refused reconnects
  EXPECT_FALSE(invalidator_->link_up());
  Put("during", "v");
  EXPECT_EQ(StateOf("during"), EntryState::kInvalidated);

  redis_.Command({"CONFIG", "SET", "maxclients", "10000"});
  ASSERT_TRUE(WaitLinkUp());
  EXPECT_EQ(StateOf("during"), EntryState::kInvalidated);
  Put("after", "v");
  EXPECT_TRUE(IsFresh("after"));
}

TEST_F(InvalidatorRedisTest, TrackedDataConnectionLostInvalidatesAll) {
  BuildAndStart(Options(), 1);
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(1));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(1); }));
  redis_.Command({"SET", "k", "v1"});
  EXPECT_EQ(ReadThrough("k"), "v1");
  EXPECT_TRUE(IsFresh("k"));
  std::vector<ClientInfo> conns = DataConnections();
  ASSERT_EQ(conns.size(), 1u);
  redis_.Command({"CLIENT", "KILL", "ID", conns[0]["id"]});
  // Redis will not say that k changes now (redis/redis#11767).
  redis_.Command({"SET", "k", "v2"});
  EXPECT_TRUE(WaitInvalidated("k"));
  EXPECT_GE(invalidator_->counters().reconnect.load(), 2u);
  ASSERT_TRUE(WaitPoolUp(1));
  EXPECT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(1); }));
  EXPECT_EQ(ReadThrough("k"), "v2");
}

TEST_F(InvalidatorRedisTest, MissedPingDeclaresTheLinkLost) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  Put("a", "v");
  redis_.Pause();
  const bool lost = RunUntil(io_, [&] { return !invalidator_->link_up(); });
  redis_.Resume();
  ASSERT_TRUE(lost);
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  EXPECT_TRUE(WaitLinkUp());
}

TEST_F(InvalidatorRedisTest, RedisRestartInvalidatesAndRelinks) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  ASSERT_TRUE(WaitPoolUp(2));
  Put("a", "v");
  ASSERT_TRUE(redis_.Restart().ok());
  // (The new server numbers its clients from 1 again: the id may repeat.)
  ASSERT_TRUE(RunUntil(io_, [&] {
    return link_changes_ == std::vector<bool>({true, false, true});
  }));
  EXPECT_EQ(StateOf("a"), EntryState::kInvalidated);
  ASSERT_TRUE(WaitPoolUp(2));
  EXPECT_TRUE(RunUntil(io_, [&] { return AllDataConnectionsTrackTheLink(2); }));
}

TEST_F(InvalidatorRedisTest, TrackDataConnectionWithoutALinkDoesNothing) {
  Build(Options(), 1, redis_.unix_endpoint());
  pool_->Start();  // the invalidator is not started: no link
  ASSERT_TRUE(WaitPoolUp(1));
  std::vector<ClientInfo> conns = DataConnections();
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0]["flags"].find('t'), std::string::npos);
}

TEST_F(InvalidatorRedisTest, StopClosesTheLink) {
  BuildAndStart(Options());
  ASSERT_TRUE(WaitLinkUp());
  invalidator_->Stop();
  EXPECT_FALSE(invalidator_->link_up());
  EXPECT_TRUE(RunUntil(io_, [&] { return Links().empty(); }));
}

}  // namespace
}  // namespace nearcache
