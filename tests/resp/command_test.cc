// The command table (src/resp/command.h): lookups as Redis 7's
// lookupCommand() does them, arities, and error texts byte for byte as
// redis-server 7.0.15 sends them.
#include "resp/command.h"

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace nearcache::resp {
namespace {

using std::string_literals::operator""s;

CommandId IdOf(absl::string_view name) {
  const CommandInfo* info = FindCommand(name);
  EXPECT_NE(info, nullptr) << name;
  return info == nullptr ? CommandId::kUnsupported : info->id;
}

TEST(CommandTest, ServedCommandsAndTheirArity) {
  const struct {
    absl::string_view name;
    CommandId id;
    int arity;
  } cases[] = {
      {"ping", CommandId::kPing, -1},     {"echo", CommandId::kEcho, 2},
      {"get", CommandId::kGet, 2},        {"mget", CommandId::kMget, -2},
      {"exists", CommandId::kExists, -2}, {"hget", CommandId::kHget, 3},
      {"hmget", CommandId::kHmget, -3},   {"hgetall", CommandId::kHgetall, 2},
      {"select", CommandId::kSelect, 2},  {"client", CommandId::kClient, -2},
      {"hello", CommandId::kHello, -1},   {"command", CommandId::kCommand, -1},
      {"info", CommandId::kInfo, -1},     {"quit", CommandId::kQuit, -1},
  };
  for (const auto& c : cases) {
    const CommandInfo* info = FindCommand(c.name);
    ASSERT_NE(info, nullptr) << c.name;
    EXPECT_EQ(info->id, c.id) << c.name;
    EXPECT_EQ(info->arity, c.arity) << c.name;
    EXPECT_EQ(info->name, c.name);
    EXPECT_EQ(info->fullname, c.name);
  }
}

TEST(CommandTest, CaseInsensitive) {
  EXPECT_EQ(IdOf("GET"), CommandId::kGet);
  EXPECT_EQ(IdOf("gEt"), CommandId::kGet);
  EXPECT_EQ(IdOf("HMGET"), CommandId::kHmget);
  EXPECT_EQ(IdOf("Zunionstore"), CommandId::kWrite);
}

TEST(CommandTest, UnknownNames) {
  EXPECT_EQ(FindCommand(""), nullptr);
  EXPECT_EQ(FindCommand("ge"), nullptr);
  EXPECT_EQ(FindCommand("gett"), nullptr);
  EXPECT_EQ(FindCommand("get\0"s), nullptr);
  EXPECT_EQ(FindCommand("1get"), nullptr);
  EXPECT_EQ(FindCommand("\xc3\xa9"), nullptr);
  EXPECT_EQ(FindCommand("setname"), nullptr);  // a subcommand only
}

TEST(CommandTest, FirstAndLastNames) {
  // The ends of the table and of its letter ranges.
  EXPECT_EQ(IdOf("acl"), CommandId::kUnsupported);
  EXPECT_EQ(IdOf("append"), CommandId::kWrite);
  EXPECT_EQ(IdOf("zunionstore"), CommandId::kWrite);
  EXPECT_EQ(IdOf("zunion"), CommandId::kUnsupported);
  EXPECT_EQ(IdOf("xtrim"), CommandId::kWrite);
}

TEST(CommandTest, WritesAreRecognized) {
  for (absl::string_view name :
       {"set",     "setex",  "psetex",  "setnx",   "getset",  "getdel",
        "getex",   "append", "incr",    "incrby",  "decr",    "mset",
        "del",     "unlink", "expire",  "pexpire", "persist", "rename",
        "hset",    "hmset",  "hsetnx",  "hdel",    "hincrby", "lpush",
        "rpop",    "sadd",   "zadd",    "xadd",    "pfadd",   "flushall",
        "flushdb", "copy",   "restore", "setbit",  "bitop",   "sort"}) {
    EXPECT_EQ(IdOf(name), CommandId::kWrite) << name;
  }
}

TEST(CommandTest, OtherRedisCommandsAreUnsupported) {
  for (absl::string_view name :
       {"ttl",     "pttl",  "type",      "strlen",  "hexists", "hlen",
        "hkeys",   "scan",  "keys",      "dbsize",  "auth",    "multi",
        "exec",    "watch", "subscribe", "publish", "eval",    "config",
        "monitor", "time",  "reset"}) {
    EXPECT_EQ(IdOf(name), CommandId::kUnsupported) << name;
  }
}

TEST(CommandTest, HttpOnTheRespPort) {
  EXPECT_EQ(IdOf("POST"), CommandId::kSecurityWarning);
  EXPECT_EQ(IdOf("Host:"), CommandId::kSecurityWarning);
}

TEST(CommandTest, Arity) {
  const CommandInfo& get = *FindCommand("get");
  EXPECT_FALSE(ArityAllows(get, 1));
  EXPECT_TRUE(ArityAllows(get, 2));
  EXPECT_FALSE(ArityAllows(get, 3));
  const CommandInfo& hmget = *FindCommand("hmget");
  EXPECT_FALSE(ArityAllows(hmget, 2));
  EXPECT_TRUE(ArityAllows(hmget, 3));
  EXPECT_TRUE(ArityAllows(hmget, 300));
  const CommandInfo& ping = *FindCommand("ping");
  EXPECT_TRUE(ArityAllows(ping, 1));
  EXPECT_TRUE(ArityAllows(ping, 2));
}

TEST(CommandTest, LookupSubcommands) {
  const std::vector<absl::string_view> setname = {"CLIENT", "SetName", "x"};
  CommandLookup found = LookupCommand(setname);
  ASSERT_NE(found.command, nullptr);
  EXPECT_EQ(found.container, FindCommand("client"));
  EXPECT_EQ(found.command->id, CommandId::kClientSetname);
  EXPECT_EQ(found.command->fullname, "client|setname");
  EXPECT_EQ(found.command->arity, 3);

  const std::vector<absl::string_view> setinfo = {"client", "setinfo",
                                                  "lib-name", "redis-py"};
  found = LookupCommand(setinfo);
  ASSERT_NE(found.command, nullptr);
  EXPECT_EQ(found.command->id, CommandId::kClientSetinfo);
  EXPECT_TRUE(ArityAllows(*found.command, setinfo.size()));

  for (const auto& [args, id] :
       std::vector<std::pair<std::vector<absl::string_view>, CommandId>>{
           {{"client", "getname"}, CommandId::kClientGetname},
           {{"client", "id"}, CommandId::kClientId},
           {{"client", "info"}, CommandId::kClientInfo},
           {{"client", "kill", "x", "y"}, CommandId::kUnsupported},
           {{"command", "count"}, CommandId::kCommandCount},
           {{"command", "docs"}, CommandId::kCommandDocs},
           {{"command", "info", "get"}, CommandId::kCommandInfo},
           {{"config", "get", "save"}, CommandId::kUnsupported},
           {{"xgroup", "create", "s", "g", "$"}, CommandId::kWrite},
           {{"function", "flush"}, CommandId::kWrite},
       }) {
    found = LookupCommand(args);
    ASSERT_NE(found.command, nullptr) << args[0] << " " << args[1];
    EXPECT_EQ(found.command->id, id) << args[0] << " " << args[1];
  }

  // A container alone is looked up as itself.
  const std::vector<absl::string_view> command = {"COMMAND"};
  found = LookupCommand(command);
  ASSERT_NE(found.command, nullptr);
  EXPECT_EQ(found.command->id, CommandId::kCommand);
  EXPECT_EQ(found.container, nullptr);
}

TEST(CommandTest, UnknownSubcommand) {
  const std::vector<absl::string_view> args = {"client", "foo"};
  const CommandLookup found = LookupCommand(args);
  EXPECT_EQ(found.command, nullptr);
  EXPECT_EQ(found.container, FindCommand("client"));
  EXPECT_EQ(UnknownSubcommandMessage(args[0], args[1]),
            "unknown subcommand 'foo'. Try CLIENT HELP.");
  EXPECT_EQ(UnknownSubcommandMessage("client", "f\roo"),
            "unknown subcommand 'f oo'. Try CLIENT HELP.");
  EXPECT_EQ(
      UnknownSubcommandMessage("CoNfIg", std::string(200, 'x')),
      "unknown subcommand '" + std::string(128, 'x') + "'. Try CONFIG HELP.");
}

TEST(CommandTest, WrongArityMessages) {
  EXPECT_EQ(WrongArityMessage(*FindCommand("GET")),
            "wrong number of arguments for 'get' command");
  EXPECT_EQ(WrongArityMessage(*FindCommand("client")),
            "wrong number of arguments for 'client' command");
  const std::vector<absl::string_view> args = {"CLIENT", "SETNAME"};
  const CommandLookup found = LookupCommand(args);
  ASSERT_NE(found.command, nullptr);
  EXPECT_FALSE(ArityAllows(*found.command, args.size()));
  EXPECT_EQ(WrongArityMessage(*found.command),
            "wrong number of arguments for 'client|setname' command");
}

TEST(CommandTest, UnknownCommandMessages) {
  using Args = std::vector<absl::string_view>;
  const std::string x200(200, 'x');
  const std::string x100(100, 'x');
  const std::string y100(100, 'y');
  // Each expected text as redis-server 7.0.15 replied to the command.
  EXPECT_EQ(UnknownCommandMessage(Args{"FOO"}),
            "unknown command 'FOO', with args beginning with: ");
  EXPECT_EQ(UnknownCommandMessage(Args{"FO\rO", "a\nb"}),
            "unknown command 'FO O', with args beginning with: 'a b' ");
  EXPECT_EQ(UnknownCommandMessage(Args{"FOO", x200}),
            "unknown command 'FOO', with args beginning with: '" +
                std::string(128, 'x') + "' ");
  EXPECT_EQ(UnknownCommandMessage(Args{"FOO", x100, y100}),
            "unknown command 'FOO', with args beginning with: '" + x100 +
                "' '" + std::string(25, 'y') + "' ");
  const std::string nul_arg = "a\0b"s;
  EXPECT_EQ(UnknownCommandMessage(Args{"FOO", nul_arg, "c"}),
            "unknown command 'FOO', with args beginning with: 'a' 'c' ");
  const std::string nul_name = "F\0OO"s;
  EXPECT_EQ(UnknownCommandMessage(Args{nul_name}),
            "unknown command 'F', with args beginning with: ");
  EXPECT_EQ(UnknownCommandMessage(Args{x200}),
            "unknown command '" + std::string(128, 'x') +
                "', with args beginning with: ");
}

}  // namespace
}  // namespace nearcache::resp
