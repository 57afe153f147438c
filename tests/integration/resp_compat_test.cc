// RESP compatibility: every command of the product contract sent as raw RESP
// bytes to a real redis-server and to a real nearcache in front of it, with
// the same data. Data commands must answer byte for byte as Redis does, on a
// miss (read through) and on a hit (rendered from the cache); the rest must
// answer as the contract says. Errors, writes and bad input must leave the
// connection (or, for protocol errors, the process and its cache) usable.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"
#include "tests/integration/raw_resp.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// listen.max_bulk_bytes for these tests: small, so the limit is testable.
constexpr size_t kMaxBulk = 1024;

const std::string kBinKey("k\0\r\nbin\xff", 9);
const std::string kBinValue("v\0\r\n\x01\xfe\r\n", 8);
const std::string kBinField("f\0\r\n", 4);

class RespCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    Load();
    NearcacheOptions options;
    options.redis_address = "unix://" + redis_.unix_path();
    // Long TTLs: the warm passes must find what the cold pass cached.
    options.overrides = {{"listen.max_bulk_bytes", absl::StrCat(kMaxBulk)},
                         {"cache.ttl", "60s"},
                         {"cache.negative_ttl", "60s"}};
    nearcache_ = std::make_unique<NearcacheProcess>(options);
    absl::Status started = nearcache_->Start();
    ASSERT_TRUE(started.ok()) << started;
    redis_conn_ = RawRespConnection::Connect(redis_.unix_path());
    nc_conn_ = RawRespConnection::Connect(nearcache_->socket_path());
    ASSERT_NE(redis_conn_, nullptr);
    ASSERT_NE(nc_conn_, nullptr);
  }

  void Load() {
    auto ok = [](const RedisReply& r) {
      ASSERT_FALSE(r.is_error()) << r.ToString();
    };
    ok(redis_.Command({"SET", "str", "hello"}));
    ok(redis_.Command({"SET", "str2", "world"}));
    ok(redis_.Command({"SET", "empty", ""}));
    ok(redis_.Command({"SET", "num", "12345"}));
    ok(redis_.Command({"SET", kBinKey, kBinValue}));
    ok(redis_.Command({"SET", "big", std::string(100 * 1024, 'x') + "end"}));
    ok(redis_.Command(
        {"HSET", "h", "f1", "v1", "f2", "v2", kBinField, kBinValue}));
    ok(redis_.Command({"HSET", "h2", "a", "1"}));
    std::vector<std::string> bighash = {"HSET", "bighash"};
    for (int i = 0; i < 300; ++i) {
      bighash.push_back(absl::StrCat("field", i));
      bighash.push_back(absl::StrCat("value", i * 7));
    }
    ok(redis_.Command(bighash));
    ok(redis_.Command({"HSET", kBinKey + "h", kBinField, kBinValue, "x", ""}));
    ok(redis_.Command({"RPUSH", "lst", "a", "b"}));
  }

  // Sends `bytes` to both servers and expects the same reply bytes.
  void ExpectSameRaw(const std::string& bytes, size_t replies = 1) {
    SCOPED_TRACE(
        absl::StrCat("request: ", absl::CHexEscape(bytes.substr(0, 300))));
    ASSERT_TRUE(redis_conn_->Send(bytes));
    ASSERT_TRUE(nc_conn_->Send(bytes));
    absl::StatusOr<std::string> want = redis_conn_->ReadReplies(replies);
    absl::StatusOr<std::string> got = nc_conn_->ReadReplies(replies);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(absl::CHexEscape(*got), absl::CHexEscape(*want));
  }
  void ExpectSame(const std::vector<std::string>& args) {
    ExpectSameRaw(EncodeCommand(args));
  }

  // nearcache's reply to `args`.
  std::string Nc(const std::vector<std::string>& args) {
    absl::StatusOr<std::string> r = nc_conn_->Call(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  // The data commands, in an order that exercises both paths for WRONGTYPE:
  // answered by Redis (cold) and rendered from a cached value of the other
  // type (warm).
  static std::vector<std::vector<std::string>> DataCommands() {
    return {
        {"GET", "str"},
        {"GET", "missing"},
        {"GET", "empty"},
        {"GET", "num"},
        {"GET", kBinKey},
        {"GET", "big"},
        {"HGET", "str", "f1"},    // cached string: WRONGTYPE from the cache
        {"HMGET", "str2", "f1"},  // cold string: WRONGTYPE from Redis
        {"HGETALL", "h"},
        {"GET", "h"},    // cached hash: WRONGTYPE from the cache
        {"GET", "h2"},   // cold hash: WRONGTYPE from Redis
        {"GET", "lst"},  // a list: never cached, Redis's error
        {"HGETALL", "lst"},
        {"HGET", "h", "f1"},
        {"HGET", "h", kBinField},
        {"HGET", "h", "nope"},
        {"HGET", "missing", "f1"},
        {"HGET", "missing2", "f1"},
        {"HMGET", "h", "f2", "nope", kBinField, "f1", "f1"},
        {"HMGET", "missing", "a", "b"},
        {"HGETALL", "bighash"},
        {"HGET", "bighash", "field299"},
        {"HGETALL", kBinKey + "h"},
        {"HGETALL", "missing"},
        {"HGETALL", "missing3"},
        {"HGETALL", "str"},
        {"MGET", "str", "missing", "h", "h2", "lst", kBinKey, "str", "empty"},
        {"MGET", "nope1"},
        {"EXISTS", "str", "str", "missing", "h", "lst", kBinKey, "nope", "h"},
        {"EXISTS", "missing"},
        {"PING"},
        {"PING", "hello world"},
        {"PING", kBinValue},
        {"ECHO", kBinValue},
        {"ECHO", ""},
        {"SELECT", "0"},
        {"SELECT", "zero"},
        {"get", "str"},
        {"gEt", "h"},
    };
  }

  RedisServerProcess redis_;
  std::unique_ptr<NearcacheProcess> nearcache_;
  std::unique_ptr<RawRespConnection> redis_conn_;
  std::unique_ptr<RawRespConnection> nc_conn_;
};

TEST_F(RespCompatTest, DataCommandsMatchRedisByteForByteColdAndWarm) {
  for (const char* pass : {"cold", "warm", "warm again"}) {
    SCOPED_TRACE(pass);
    for (const auto& args : DataCommands()) ExpectSame(args);
  }
}

TEST_F(RespCompatTest, WarmHitsAreServedFromTheCache) {
  for (const auto& args : DataCommands()) ExpectSame(args);
  // Everything that exists as a string or hash (or does not exist) is now
  // cached. Not cached: a Redis error (a list read with GET, a key first
  // read with the other type's command: lst, h2, str2), so those go to
  // Redis again.
  std::vector<std::pair<std::vector<std::string>, std::string>> want;
  for (const auto& args : DataCommands()) {
    bool uncacheable = false;
    for (const char* key : {"lst", "h2", "str2"}) {
      if (std::find(args.begin(), args.end(), key) != args.end()) {
        uncacheable = true;
      }
    }
    if (uncacheable) continue;
    absl::StatusOr<std::string> r = redis_conn_->Call(args);
    ASSERT_TRUE(r.ok()) << r.status();
    want.emplace_back(args, *r);
  }
  const int64_t gets = redis_.CommandCalls("get");
  const int64_t hgetalls = redis_.CommandCalls("hgetall");
  for (const auto& [args, bytes] : want) {
    EXPECT_EQ(absl::CHexEscape(Nc(args)), absl::CHexEscape(bytes)) << args[0];
  }
  EXPECT_EQ(redis_.CommandCalls("get"), gets);
  EXPECT_EQ(redis_.CommandCalls("hgetall"), hgetalls);
}

TEST_F(RespCompatTest, WrongArityErrorsMatchRedis) {
  const std::vector<std::vector<std::string>> cases = {
      {"GET"},
      {"GET", "a", "b"},
      {"MGET"},
      {"EXISTS"},
      {"HGET", "h"},
      {"HGET", "h", "a", "b"},
      {"HMGET", "h"},
      {"HGETALL"},
      {"HGETALL", "a", "b"},
      {"ECHO"},
      {"ECHO", "a", "b"},
      {"PING", "a", "b"},
      {"SELECT"},
      {"SELECT", "0", "1"},
      {"CLIENT"},
      {"CLIENT", "SETNAME"},
      {"CLIENT", "GETNAME", "x"},
      {"CLIENT", "ID", "x"},
      {"COMMAND", "COUNT", "x"},
      {"SET", "a"},
      {"HSET", "h", "f"},
  };
  for (const auto& args : cases) ExpectSame(args);
  // Still the same connection, still working.
  ExpectSame({"GET", "str"});
}

TEST_F(RespCompatTest, UnknownSubcommandMatchesRedis) {
  ExpectSame({"CLIENT", "FROBNICATE"});
  ExpectSame({"COMMAND", "FROBNICATE", "x"});
  ExpectSame({"GET", "str"});
}

TEST_F(RespCompatTest, PipelinedCommandsAnswerInOrder) {
  std::vector<std::vector<std::string>> commands;
  const std::vector<std::vector<std::string>> data = DataCommands();
  for (int i = 0; commands.size() < 100; ++i) {
    commands.push_back(data[(i * 7) % data.size()]);
    if (i % 5 == 0) commands.push_back({"GET", absl::StrCat("miss", i)});
    if (i % 9 == 0) commands.push_back({"ECHO", absl::StrCat("marker", i)});
  }
  commands.resize(100);
  std::string bytes;
  for (const auto& args : commands) bytes += EncodeCommand(args);
  // Cold, warm, and on a fresh connection.
  ExpectSameRaw(bytes, commands.size());
  ExpectSameRaw(bytes, commands.size());
  nc_conn_ = RawRespConnection::Connect(nearcache_->socket_path());
  ASSERT_NE(nc_conn_, nullptr);
  ExpectSameRaw(bytes, commands.size());
}

TEST_F(RespCompatTest, InlineCommandsWork) {
  ExpectSameRaw("PING\r\n");
  ExpectSameRaw("GET str\r\n");
  ExpectSameRaw("HGET h f1\r\nEXISTS str missing\r\n", 2);
}

TEST_F(RespCompatTest, SelectOnlyTheConfiguredDb) {
  EXPECT_EQ(Nc({"SELECT", "0"}), "+OK\r\n");
  const std::string other = Nc({"SELECT", "1"});
  EXPECT_THAT(other, StartsWith("-ERR "));
  EXPECT_THAT(other, HasSubstr("nearcache"));
  EXPECT_THAT(other, HasSubstr("0"));
  // A refused SELECT changes nothing: reads still come from db 0.
  ExpectSame({"GET", "str"});
}

TEST_F(RespCompatTest, ClientSubcommands) {
  ExpectSame({"CLIENT", "GETNAME"});  // $-1 before a name is set
  ExpectSame({"CLIENT", "SETNAME", "model-1"});
  ExpectSame({"CLIENT", "GETNAME"});
  ExpectSame({"CLIENT", "SETNAME", "has space"});
  ExpectSame({"CLIENT", "GETNAME"});      // the bad name did not replace it
  ExpectSame({"client", "setname", ""});  // an empty name clears it
  ExpectSame({"CLIENT", "GETNAME"});
  // redis-py 5 and other current clients send CLIENT SETINFO (Redis 7.2).
  EXPECT_EQ(Nc({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(Nc({"CLIENT", "SETINFO", "LIB-VER", "5.0.0"}), "+OK\r\n");

  const std::string id1 = Nc({"CLIENT", "ID"});
  ASSERT_THAT(id1, StartsWith(":"));
  EXPECT_EQ(Nc({"CLIENT", "ID"}), id1) << "stable within a connection";
  auto other = RawRespConnection::Connect(nearcache_->socket_path());
  ASSERT_NE(other, nullptr);
  absl::StatusOr<std::string> id2 = other->Call({"CLIENT", "ID"});
  ASSERT_TRUE(id2.ok()) << id2.status();
  EXPECT_THAT(*id2, StartsWith(":"));
  EXPECT_NE(*id2, id1) << "each connection has its own id";
}

TEST_F(RespCompatTest, HelloTwoAndThree) {
  RedisReply want = redis_.Command({"HELLO", "2"});
  RedisReply got = nearcache_->Command({"HELLO", "2"});
  ASSERT_TRUE(want.is_array()) << want.ToString();
  ASSERT_TRUE(got.is_array()) << got.ToString();
  ASSERT_EQ(got.elements.size(), want.elements.size()) << got.ToString();
  for (size_t i = 0; i < want.elements.size(); i += 2) {
    EXPECT_EQ(got.elements[i], want.elements[i]) << "key " << i;
  }
  // proto, mode, role as Redis says them.
  EXPECT_EQ(got.elements[5], RedisReply::Integer(2));
  EXPECT_EQ(got.elements[9], want.elements[9]);
  EXPECT_EQ(got.elements[11], want.elements[11]);
  // The id is the connection's CLIENT ID.
  EXPECT_EQ(got.elements[7], nearcache_->Command({"CLIENT", "ID"}));
  // HELLO with no version, and with SETNAME.
  EXPECT_TRUE(nearcache_->Command({"HELLO"}).is_array());
  EXPECT_TRUE(
      nearcache_->Command({"HELLO", "2", "SETNAME", "feast"}).is_array());
  EXPECT_EQ(nearcache_->Command({"CLIENT", "GETNAME"}),
            RedisReply::String("feast"));

  // RESP3 is not spoken: NOPROTO, and the connection stays on RESP2.
  const std::string three = Nc({"HELLO", "3"});
  EXPECT_THAT(three, StartsWith("-NOPROTO "));
  ExpectSame({"HGETALL", "h"});
}

TEST_F(RespCompatTest, CommandTableAgreesWithRedis) {
  RedisReply table = nearcache_->Command({"COMMAND"});
  ASSERT_TRUE(table.is_array()) << table.ToString();
  RedisReply count = nearcache_->Command({"COMMAND", "COUNT"});
  ASSERT_EQ(count.type, RedisReply::Type::kInteger) << count.ToString();
  EXPECT_EQ(count.integer, static_cast<int64_t>(table.elements.size()));
  std::vector<std::string> names;
  for (const RedisReply& row : table.elements) {
    ASSERT_TRUE(row.is_array()) << row.ToString();
    ASSERT_GE(row.elements.size(), 6u) << row.ToString();
    const std::string& name = row.elements[0].str;
    names.push_back(name);
    // Name, arity and key positions as Redis has them (clients that route by
    // key, and redis-py's command parser, read these).
    RedisReply info = redis_.Command({"COMMAND", "INFO", name});
    ASSERT_TRUE(info.is_array() && info.elements.size() == 1 &&
                info.elements[0].is_array())
        << name << ": " << info.ToString();
    const RedisReply& want = info.elements[0];
    SCOPED_TRACE(name);
    EXPECT_EQ(row.elements[0], want.elements[0]);
    EXPECT_EQ(row.elements[1], want.elements[1]) << "arity";
    EXPECT_EQ(row.elements[3], want.elements[3]) << "first key";
    EXPECT_EQ(row.elements[4], want.elements[4]) << "last key";
    EXPECT_EQ(row.elements[5], want.elements[5]) << "step";
  }
  for (const char* name :
       {"get", "mget", "exists", "hget", "hmget", "hgetall", "ping"}) {
    EXPECT_THAT(names, ::testing::Contains(name));
  }
  // COMMAND INFO for one served and one unknown command.
  RedisReply info = nearcache_->Command({"COMMAND", "INFO", "get", "nosuch"});
  ASSERT_TRUE(info.is_array()) << info.ToString();
  ASSERT_EQ(info.elements.size(), 2u);
  EXPECT_TRUE(info.elements[0].is_array());
  EXPECT_TRUE(info.elements[1].is_nil());
}

TEST_F(RespCompatTest, InfoLooksLikeRedis) {
  RedisReply info = nearcache_->Command({"INFO"});
  ASSERT_EQ(info.type, RedisReply::Type::kString) << info.ToString();
  EXPECT_THAT(info.str, HasSubstr("# Server\r\n"));
  EXPECT_THAT(info.str, HasSubstr("redis_version:"));
  EXPECT_THAT(info.str, HasSubstr("# Stats\r\n"));
  RedisReply server = nearcache_->Command({"INFO", "server"});
  ASSERT_EQ(server.type, RedisReply::Type::kString);
  EXPECT_THAT(server.str, HasSubstr("redis_version:"));
  EXPECT_THAT(server.str, ::testing::Not(HasSubstr("# Stats")));
}

TEST_F(RespCompatTest, WritesAreRefusedAndTheConnectionStaysUsable) {
  const std::vector<std::vector<std::string>> writes = {
      {"SET", "str", "changed"},
      {"DEL", "str"},
      {"HSET", "h", "f1", "changed"},
      {"EXPIRE", "str", "1"},
      {"INCR", "num"},
      {"FLUSHALL"},
  };
  const std::vector<std::string> names = {"set",    "del",  "hset",
                                          "expire", "incr", "flushall"};
  std::vector<int64_t> calls_before;
  for (const std::string& cmd : names) {
    calls_before.push_back(redis_.CommandCalls(cmd));
  }
  for (const auto& args : writes) {
    SCOPED_TRACE(args[0]);
    const std::string reply = Nc(args);
    EXPECT_THAT(reply, StartsWith("-ERR "));
    EXPECT_THAT(reply, HasSubstr("read-only"));
    EXPECT_THAT(reply, HasSubstr("nearcache"));
    EXPECT_EQ(Nc({"PING"}), "+PONG\r\n");
  }
  // Nothing reached Redis.
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(redis_.CommandCalls(names[i]), calls_before[i]) << names[i];
  }
  EXPECT_EQ(redis_.Command({"GET", "str"}), RedisReply::String("hello"));
  ExpectSame({"GET", "str"});
  ExpectSame({"HGETALL", "h"});
}

TEST_F(RespCompatTest, UnknownAndUnsupportedCommandsAreRefusedUsably) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"FROBNICATE", "a", "b"},
                                             {"TTL", "str"},
                                             {"SUBSCRIBE", "ch"},
                                             {"MULTI"}}) {
    SCOPED_TRACE(args[0]);
    const std::string reply = Nc(args);
    EXPECT_THAT(reply, StartsWith("-ERR "));
    EXPECT_THAT(reply, HasSubstr("read-only"));
    EXPECT_THAT(reply, HasSubstr("nearcache"));
    ExpectSame({"GET", "str"});
  }
  EXPECT_THAT(Nc({"FROBNICATE", "a", "b"}),
              HasSubstr("unknown command 'FROBNICATE'"));
}

TEST_F(RespCompatTest, QuitRepliesOkAndCloses) {
  ExpectSame({"QUIT"});
  EXPECT_TRUE(redis_conn_->ClosedByPeer());
  EXPECT_TRUE(nc_conn_->ClosedByPeer());
}

TEST_F(RespCompatTest, CommandsAfterQuitInOnePipelineAreNotRun) {
  ExpectSameRaw(EncodeCommand({"PING"}) + EncodeCommand({"QUIT"}) +
                    EncodeCommand({"GET", "str"}),
                2);
  EXPECT_TRUE(redis_conn_->ClosedByPeer());
  EXPECT_TRUE(nc_conn_->ClosedByPeer());
}

TEST_F(RespCompatTest, ProtocolErrorRepliesAndCloses) {
  // The command before the bad one is answered first, as Redis does.
  ExpectSameRaw(EncodeCommand({"GET", "str"}) + "*1\r\n$x\r\n", 2);
  EXPECT_TRUE(redis_conn_->ClosedByPeer());
  EXPECT_TRUE(nc_conn_->ClosedByPeer());

  for (const std::string& bad : std::vector<std::string>{
           "*1\r\n$x\r\n", "*x\r\n", "*2\r\n$3\r\nGET\r\n+str\r\n",
           "\"unbalanced\r\n"}) {
    SCOPED_TRACE(absl::CHexEscape(bad));
    redis_conn_ = RawRespConnection::Connect(redis_.unix_path());
    nc_conn_ = RawRespConnection::Connect(nearcache_->socket_path());
    ASSERT_NE(nc_conn_, nullptr);
    absl::StatusOr<std::string> reply = nc_conn_->CallRaw(bad);
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_THAT(*reply, StartsWith("-ERR Protocol error: "));
    EXPECT_TRUE(nc_conn_->ClosedByPeer());
    absl::StatusOr<std::string> want = redis_conn_->CallRaw(bad);
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_EQ(*reply, *want);
  }
}

TEST_F(RespCompatTest, OversizedBulkIsRefused) {
  // At the limit: served.
  ExpectSame({"GET", std::string(kMaxBulk, 'k')});
  // Over it: refused at the header, before the payload is read.
  absl::StatusOr<std::string> reply = nc_conn_->CallRaw(
      absl::StrCat("*2\r\n$3\r\nGET\r\n$", kMaxBulk + 1, "\r\n"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, StartsWith("-ERR Protocol error: "));
  EXPECT_TRUE(nc_conn_->ClosedByPeer());
  // A huge one too (no 4 GiB allocation).
  nc_conn_ = RawRespConnection::Connect(nearcache_->socket_path());
  ASSERT_NE(nc_conn_, nullptr);
  reply = nc_conn_->CallRaw("*2\r\n$3\r\nGET\r\n$4294967296\r\n");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, StartsWith("-ERR Protocol error: "));
  EXPECT_TRUE(nc_conn_->ClosedByPeer());
}

TEST_F(RespCompatTest, CachedDataSurvivesBadClients) {
  ExpectSame({"GET", "str"});
  ExpectSame({"HGETALL", "h"});
  absl::StatusOr<std::string> hash_bytes = redis_conn_->Call({"HGETALL", "h"});
  ASSERT_TRUE(hash_bytes.ok());
  const int64_t gets = redis_.CommandCalls("get");
  const int64_t hgetalls = redis_.CommandCalls("hgetall");

  // A write, an unknown command, a protocol error, an oversized bulk, a
  // QUIT and a client that vanishes mid-request.
  EXPECT_THAT(Nc({"SET", "str", "x"}), HasSubstr("read-only"));
  EXPECT_THAT(Nc({"NOPE"}), HasSubstr("read-only"));
  for (const std::string& bad : std::vector<std::string>{
           "*1\r\n$x\r\n",
           absl::StrCat("*2\r\n$3\r\nGET\r\n$", kMaxBulk + 1, "\r\n"),
           EncodeCommand({"QUIT"})}) {
    auto c = RawRespConnection::Connect(nearcache_->socket_path());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->CallRaw(bad).ok());
    EXPECT_TRUE(c->ClosedByPeer());
  }
  {
    auto c = RawRespConnection::Connect(nearcache_->socket_path());
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Send("*2\r\n$3\r\nGET\r\n$10\r\nabc"));
  }  // closed with half a request buffered

  auto fresh = RawRespConnection::Connect(nearcache_->socket_path());
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(*fresh->Call({"GET", "str"}), "$5\r\nhello\r\n");
  EXPECT_EQ(*fresh->Call({"HGETALL", "h"}), *hash_bytes);
  // Both were hits: nothing more reached Redis.
  EXPECT_EQ(redis_.CommandCalls("get"), gets);
  EXPECT_EQ(redis_.CommandCalls("hgetall"), hgetalls);
  EXPECT_TRUE(nearcache_->Stop().ok());
}

TEST_F(RespCompatTest, StopsCleanlyOnSigterm) {
  ExpectSame({"GET", "str"});
  absl::Status stopped = nearcache_->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
}

}  // namespace
}  // namespace nearcache
