#include "resp/command.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace nearcache::resp {
namespace {

// Generated from `COMMAND` of redis-server 7.0.15 (name, arity, and whether
// the "write" flag is set), plus CLIENT SETINFO and CLIENT NO-TOUCH from
// 7.2, and "post" / "host:" (Redis's securityWarningCommand). Sorted by
// name; kept sorted by the static_asserts below.
constexpr CommandInfo kAclSubcommands[] = {
    {"cat", "acl|cat", CommandId::kUnsupported, -2},
    {"deluser", "acl|deluser", CommandId::kUnsupported, -3},
    {"dryrun", "acl|dryrun", CommandId::kUnsupported, -4},
    {"genpass", "acl|genpass", CommandId::kUnsupported, -2},
    {"getuser", "acl|getuser", CommandId::kUnsupported, 3},
    {"help", "acl|help", CommandId::kUnsupported, 2},
    {"list", "acl|list", CommandId::kUnsupported, 2},
    {"load", "acl|load", CommandId::kUnsupported, 2},
    {"log", "acl|log", CommandId::kUnsupported, -2},
    {"save", "acl|save", CommandId::kUnsupported, 2},
    {"setuser", "acl|setuser", CommandId::kUnsupported, -3},
    {"users", "acl|users", CommandId::kUnsupported, 2},
    {"whoami", "acl|whoami", CommandId::kUnsupported, 2},
};
constexpr CommandInfo kClientSubcommands[] = {
    {"caching", "client|caching", CommandId::kUnsupported, 3},
    {"getname", "client|getname", CommandId::kClientGetname, 2},
    {"getredir", "client|getredir", CommandId::kUnsupported, 2},
    {"help", "client|help", CommandId::kUnsupported, 2},
    {"id", "client|id", CommandId::kClientId, 2},
    {"info", "client|info", CommandId::kClientInfo, 2},
    {"kill", "client|kill", CommandId::kUnsupported, -3},
    {"list", "client|list", CommandId::kUnsupported, -2},
    {"no-evict", "client|no-evict", CommandId::kUnsupported, 3},
    {"no-touch", "client|no-touch", CommandId::kUnsupported, 3},
    {"pause", "client|pause", CommandId::kUnsupported, -3},
    {"reply", "client|reply", CommandId::kUnsupported, 3},
    {"setinfo", "client|setinfo", CommandId::kClientSetinfo, 4},
    {"setname", "client|setname", CommandId::kClientSetname, 3},
    {"tracking", "client|tracking", CommandId::kUnsupported, -3},
    {"trackinginfo", "client|trackinginfo", CommandId::kUnsupported, 2},
    {"unblock", "client|unblock", CommandId::kUnsupported, -3},
    {"unpause", "client|unpause", CommandId::kUnsupported, 2},
};
constexpr CommandInfo kClusterSubcommands[] = {
    {"addslots", "cluster|addslots", CommandId::kUnsupported, -3},
    {"addslotsrange", "cluster|addslotsrange", CommandId::kUnsupported, -4},
    {"bumpepoch", "cluster|bumpepoch", CommandId::kUnsupported, 2},
    {"count-failure-reports", "cluster|count-failure-reports",
     CommandId::kUnsupported, 3},
    {"countkeysinslot", "cluster|countkeysinslot", CommandId::kUnsupported, 3},
    {"delslots", "cluster|delslots", CommandId::kUnsupported, -3},
    {"delslotsrange", "cluster|delslotsrange", CommandId::kUnsupported, -4},
    {"failover", "cluster|failover", CommandId::kUnsupported, -2},
    {"flushslots", "cluster|flushslots", CommandId::kUnsupported, 2},
    {"forget", "cluster|forget", CommandId::kUnsupported, 3},
    {"getkeysinslot", "cluster|getkeysinslot", CommandId::kUnsupported, 4},
    {"help", "cluster|help", CommandId::kUnsupported, 2},
    {"info", "cluster|info", CommandId::kUnsupported, 2},
    {"keyslot", "cluster|keyslot", CommandId::kUnsupported, 3},
    {"links", "cluster|links", CommandId::kUnsupported, 2},
    {"meet", "cluster|meet", CommandId::kUnsupported, -4},
    {"myid", "cluster|myid", CommandId::kUnsupported, 2},
    {"nodes", "cluster|nodes", CommandId::kUnsupported, 2},
    {"replicas", "cluster|replicas", CommandId::kUnsupported, 3},
    {"replicate", "cluster|replicate", CommandId::kUnsupported, 3},
    {"reset", "cluster|reset", CommandId::kUnsupported, -2},
    {"saveconfig", "cluster|saveconfig", CommandId::kUnsupported, 2},
    {"set-config-epoch", "cluster|set-config-epoch", CommandId::kUnsupported,
     3},
    {"setslot", "cluster|setslot", CommandId::kUnsupported, -4},
    {"shards", "cluster|shards", CommandId::kUnsupported, 2},
    {"slaves", "cluster|slaves", CommandId::kUnsupported, 3},
    {"slots", "cluster|slots", CommandId::kUnsupported, 2},
};
constexpr CommandInfo kCommandSubcommands[] = {
    {"count", "command|count", CommandId::kCommandCount, 2},
    {"docs", "command|docs", CommandId::kCommandDocs, -2},
    {"getkeys", "command|getkeys", CommandId::kUnsupported, -4},
    {"getkeysandflags", "command|getkeysandflags", CommandId::kUnsupported, -4},
    {"help", "command|help", CommandId::kUnsupported, 2},
    {"info", "command|info", CommandId::kCommandInfo, -2},
    {"list", "command|list", CommandId::kUnsupported, -2},
};
constexpr CommandInfo kConfigSubcommands[] = {
    {"get", "config|get", CommandId::kUnsupported, -3},
    {"help", "config|help", CommandId::kUnsupported, 2},
    {"resetstat", "config|resetstat", CommandId::kUnsupported, 2},
    {"rewrite", "config|rewrite", CommandId::kUnsupported, 2},
    {"set", "config|set", CommandId::kUnsupported, -4},
};
constexpr CommandInfo kFunctionSubcommands[] = {
    {"delete", "function|delete", CommandId::kWrite, 3},
    {"dump", "function|dump", CommandId::kUnsupported, 2},
    {"flush", "function|flush", CommandId::kWrite, -2},
    {"help", "function|help", CommandId::kUnsupported, 2},
    {"kill", "function|kill", CommandId::kUnsupported, 2},
    {"list", "function|list", CommandId::kUnsupported, -2},
    {"load", "function|load", CommandId::kWrite, -3},
    {"restore", "function|restore", CommandId::kWrite, -3},
    {"stats", "function|stats", CommandId::kUnsupported, 2},
};
constexpr CommandInfo kLatencySubcommands[] = {
    {"doctor", "latency|doctor", CommandId::kUnsupported, 2},
    {"graph", "latency|graph", CommandId::kUnsupported, 3},
    {"help", "latency|help", CommandId::kUnsupported, 2},
    {"histogram", "latency|histogram", CommandId::kUnsupported, -2},
    {"history", "latency|history", CommandId::kUnsupported, 3},
    {"latest", "latency|latest", CommandId::kUnsupported, 2},
    {"reset", "latency|reset", CommandId::kUnsupported, -2},
};
constexpr CommandInfo kMemorySubcommands[] = {
    {"doctor", "memory|doctor", CommandId::kUnsupported, 2},
    {"help", "memory|help", CommandId::kUnsupported, 2},
    {"malloc-stats", "memory|malloc-stats", CommandId::kUnsupported, 2},
    {"purge", "memory|purge", CommandId::kUnsupported, 2},
    {"stats", "memory|stats", CommandId::kUnsupported, 2},
    {"usage", "memory|usage", CommandId::kUnsupported, -3},
};
constexpr CommandInfo kModuleSubcommands[] = {
    {"help", "module|help", CommandId::kUnsupported, 2},
    {"list", "module|list", CommandId::kUnsupported, 2},
    {"load", "module|load", CommandId::kUnsupported, -3},
    {"loadex", "module|loadex", CommandId::kUnsupported, -3},
    {"unload", "module|unload", CommandId::kUnsupported, 3},
};
constexpr CommandInfo kObjectSubcommands[] = {
    {"encoding", "object|encoding", CommandId::kUnsupported, 3},
    {"freq", "object|freq", CommandId::kUnsupported, 3},
    {"help", "object|help", CommandId::kUnsupported, 2},
    {"idletime", "object|idletime", CommandId::kUnsupported, 3},
    {"refcount", "object|refcount", CommandId::kUnsupported, 3},
};
constexpr CommandInfo kPubsubSubcommands[] = {
    {"channels", "pubsub|channels", CommandId::kUnsupported, -2},
    {"help", "pubsub|help", CommandId::kUnsupported, 2},
    {"numpat", "pubsub|numpat", CommandId::kUnsupported, 2},
    {"numsub", "pubsub|numsub", CommandId::kUnsupported, -2},
    {"shardchannels", "pubsub|shardchannels", CommandId::kUnsupported, -2},
    {"shardnumsub", "pubsub|shardnumsub", CommandId::kUnsupported, -2},
};
constexpr CommandInfo kScriptSubcommands[] = {
    {"debug", "script|debug", CommandId::kUnsupported, 3},
    {"exists", "script|exists", CommandId::kUnsupported, -3},
    {"flush", "script|flush", CommandId::kUnsupported, -2},
    {"help", "script|help", CommandId::kUnsupported, 2},
    {"kill", "script|kill", CommandId::kUnsupported, 2},
    {"load", "script|load", CommandId::kUnsupported, 3},
};
constexpr CommandInfo kSlowlogSubcommands[] = {
    {"get", "slowlog|get", CommandId::kUnsupported, -2},
    {"help", "slowlog|help", CommandId::kUnsupported, 2},
    {"len", "slowlog|len", CommandId::kUnsupported, 2},
    {"reset", "slowlog|reset", CommandId::kUnsupported, 2},
};
constexpr CommandInfo kXgroupSubcommands[] = {
    {"create", "xgroup|create", CommandId::kWrite, -5},
    {"createconsumer", "xgroup|createconsumer", CommandId::kWrite, 5},
    {"delconsumer", "xgroup|delconsumer", CommandId::kWrite, 5},
    {"destroy", "xgroup|destroy", CommandId::kWrite, 4},
    {"help", "xgroup|help", CommandId::kUnsupported, 2},
    {"setid", "xgroup|setid", CommandId::kWrite, -5},
};
constexpr CommandInfo kXinfoSubcommands[] = {
    {"consumers", "xinfo|consumers", CommandId::kUnsupported, 4},
    {"groups", "xinfo|groups", CommandId::kUnsupported, 3},
    {"help", "xinfo|help", CommandId::kUnsupported, 2},
    {"stream", "xinfo|stream", CommandId::kUnsupported, -3},
};

constexpr CommandInfo kCommands[] = {
    {"acl", "acl", CommandId::kUnsupported, -2, kAclSubcommands},
    {"append", "append", CommandId::kWrite, 3},
    {"asking", "asking", CommandId::kUnsupported, 1},
    {"auth", "auth", CommandId::kUnsupported, -2},
    {"bgrewriteaof", "bgrewriteaof", CommandId::kUnsupported, 1},
    {"bgsave", "bgsave", CommandId::kUnsupported, -1},
    {"bitcount", "bitcount", CommandId::kUnsupported, -2},
    {"bitfield", "bitfield", CommandId::kWrite, -2},
    {"bitfield_ro", "bitfield_ro", CommandId::kUnsupported, -2},
    {"bitop", "bitop", CommandId::kWrite, -4},
    {"bitpos", "bitpos", CommandId::kUnsupported, -3},
    {"blmove", "blmove", CommandId::kWrite, 6},
    {"blmpop", "blmpop", CommandId::kWrite, -5},
    {"blpop", "blpop", CommandId::kWrite, -3},
    {"brpop", "brpop", CommandId::kWrite, -3},
    {"brpoplpush", "brpoplpush", CommandId::kWrite, 4},
    {"bzmpop", "bzmpop", CommandId::kWrite, -5},
    {"bzpopmax", "bzpopmax", CommandId::kWrite, -3},
    {"bzpopmin", "bzpopmin", CommandId::kWrite, -3},
    {"client", "client", CommandId::kClient, -2, kClientSubcommands},
    {"cluster", "cluster", CommandId::kUnsupported, -2, kClusterSubcommands},
    {"command", "command", CommandId::kCommand, -1, kCommandSubcommands},
    {"config", "config", CommandId::kUnsupported, -2, kConfigSubcommands},
    {"copy", "copy", CommandId::kWrite, -3},
    {"dbsize", "dbsize", CommandId::kUnsupported, 1},
    {"debug", "debug", CommandId::kUnsupported, -2},
    {"decr", "decr", CommandId::kWrite, 2},
    {"decrby", "decrby", CommandId::kWrite, 3},
    {"del", "del", CommandId::kWrite, -2},
    {"discard", "discard", CommandId::kUnsupported, 1},
    {"dump", "dump", CommandId::kUnsupported, 2},
    {"echo", "echo", CommandId::kEcho, 2},
    {"eval", "eval", CommandId::kUnsupported, -3},
    {"eval_ro", "eval_ro", CommandId::kUnsupported, -3},
    {"evalsha", "evalsha", CommandId::kUnsupported, -3},
    {"evalsha_ro", "evalsha_ro", CommandId::kUnsupported, -3},
    {"exec", "exec", CommandId::kUnsupported, 1},
    {"exists", "exists", CommandId::kExists, -2},
    {"expire", "expire", CommandId::kWrite, -3},
    {"expireat", "expireat", CommandId::kWrite, -3},
    {"expiretime", "expiretime", CommandId::kUnsupported, 2},
    {"failover", "failover", CommandId::kUnsupported, -1},
    {"fcall", "fcall", CommandId::kUnsupported, -3},
    {"fcall_ro", "fcall_ro", CommandId::kUnsupported, -3},
    {"flushall", "flushall", CommandId::kWrite, -1},
    {"flushdb", "flushdb", CommandId::kWrite, -1},
    {"function", "function", CommandId::kUnsupported, -2, kFunctionSubcommands},
    {"geoadd", "geoadd", CommandId::kWrite, -5},
    {"geodist", "geodist", CommandId::kUnsupported, -4},
    {"geohash", "geohash", CommandId::kUnsupported, -2},
    {"geopos", "geopos", CommandId::kUnsupported, -2},
    {"georadius", "georadius", CommandId::kWrite, -6},
    {"georadius_ro", "georadius_ro", CommandId::kUnsupported, -6},
    {"georadiusbymember", "georadiusbymember", CommandId::kWrite, -5},
    {"georadiusbymember_ro", "georadiusbymember_ro", CommandId::kUnsupported,
     -5},
    {"geosearch", "geosearch", CommandId::kUnsupported, -7},
    {"geosearchstore", "geosearchstore", CommandId::kWrite, -8},
    {"get", "get", CommandId::kGet, 2},
    {"getbit", "getbit", CommandId::kUnsupported, 3},
    {"getdel", "getdel", CommandId::kWrite, 2},
    {"getex", "getex", CommandId::kWrite, -2},
    {"getrange", "getrange", CommandId::kUnsupported, 4},
    {"getset", "getset", CommandId::kWrite, 3},
    {"hdel", "hdel", CommandId::kWrite, -3},
    {"hello", "hello", CommandId::kHello, -1},
    {"hexists", "hexists", CommandId::kUnsupported, 3},
    {"hget", "hget", CommandId::kHget, 3},
    {"hgetall", "hgetall", CommandId::kHgetall, 2},
    {"hincrby", "hincrby", CommandId::kWrite, 4},
    {"hincrbyfloat", "hincrbyfloat", CommandId::kWrite, 4},
    {"hkeys", "hkeys", CommandId::kUnsupported, 2},
    {"hlen", "hlen", CommandId::kUnsupported, 2},
    {"hmget", "hmget", CommandId::kHmget, -3},
    {"hmset", "hmset", CommandId::kWrite, -4},
    {"host:", "host:", CommandId::kSecurityWarning, -1},
    {"hrandfield", "hrandfield", CommandId::kUnsupported, -2},
    {"hscan", "hscan", CommandId::kUnsupported, -3},
    {"hset", "hset", CommandId::kWrite, -4},
    {"hsetnx", "hsetnx", CommandId::kWrite, 4},
    {"hstrlen", "hstrlen", CommandId::kUnsupported, 3},
    {"hvals", "hvals", CommandId::kUnsupported, 2},
    {"incr", "incr", CommandId::kWrite, 2},
    {"incrby", "incrby", CommandId::kWrite, 3},
    {"incrbyfloat", "incrbyfloat", CommandId::kWrite, 3},
    {"info", "info", CommandId::kInfo, -1},
    {"keys", "keys", CommandId::kUnsupported, 2},
    {"lastsave", "lastsave", CommandId::kUnsupported, 1},
    {"latency", "latency", CommandId::kUnsupported, -2, kLatencySubcommands},
    {"lcs", "lcs", CommandId::kUnsupported, -3},
    {"lindex", "lindex", CommandId::kUnsupported, 3},
    {"linsert", "linsert", CommandId::kWrite, 5},
    {"llen", "llen", CommandId::kUnsupported, 2},
    {"lmove", "lmove", CommandId::kWrite, 5},
    {"lmpop", "lmpop", CommandId::kWrite, -4},
    {"lolwut", "lolwut", CommandId::kUnsupported, -1},
    {"lpop", "lpop", CommandId::kWrite, -2},
    {"lpos", "lpos", CommandId::kUnsupported, -3},
    {"lpush", "lpush", CommandId::kWrite, -3},
    {"lpushx", "lpushx", CommandId::kWrite, -3},
    {"lrange", "lrange", CommandId::kUnsupported, 4},
    {"lrem", "lrem", CommandId::kWrite, 4},
    {"lset", "lset", CommandId::kWrite, 4},
    {"ltrim", "ltrim", CommandId::kWrite, 4},
    {"memory", "memory", CommandId::kUnsupported, -2, kMemorySubcommands},
    {"mget", "mget", CommandId::kMget, -2},
    {"migrate", "migrate", CommandId::kWrite, -6},
    {"module", "module", CommandId::kUnsupported, -2, kModuleSubcommands},
    {"monitor", "monitor", CommandId::kUnsupported, 1},
    {"move", "move", CommandId::kWrite, 3},
    {"mset", "mset", CommandId::kWrite, -3},
    {"msetnx", "msetnx", CommandId::kWrite, -3},
    {"multi", "multi", CommandId::kUnsupported, 1},
    {"object", "object", CommandId::kUnsupported, -2, kObjectSubcommands},
    {"persist", "persist", CommandId::kWrite, 2},
    {"pexpire", "pexpire", CommandId::kWrite, -3},
    {"pexpireat", "pexpireat", CommandId::kWrite, -3},
    {"pexpiretime", "pexpiretime", CommandId::kUnsupported, 2},
    {"pfadd", "pfadd", CommandId::kWrite, -2},
    {"pfcount", "pfcount", CommandId::kUnsupported, -2},
    {"pfdebug", "pfdebug", CommandId::kWrite, 3},
    {"pfmerge", "pfmerge", CommandId::kWrite, -2},
    {"pfselftest", "pfselftest", CommandId::kUnsupported, 1},
    {"ping", "ping", CommandId::kPing, -1},
    {"post", "post", CommandId::kSecurityWarning, -1},
    {"psetex", "psetex", CommandId::kWrite, 4},
    {"psubscribe", "psubscribe", CommandId::kUnsupported, -2},
    {"psync", "psync", CommandId::kUnsupported, -3},
    {"pttl", "pttl", CommandId::kUnsupported, 2},
    {"publish", "publish", CommandId::kUnsupported, 3},
    {"pubsub", "pubsub", CommandId::kUnsupported, -2, kPubsubSubcommands},
    {"punsubscribe", "punsubscribe", CommandId::kUnsupported, -1},
    {"quit", "quit", CommandId::kQuit, -1},
    {"randomkey", "randomkey", CommandId::kUnsupported, 1},
    {"readonly", "readonly", CommandId::kUnsupported, 1},
    {"readwrite", "readwrite", CommandId::kUnsupported, 1},
    {"rename", "rename", CommandId::kWrite, 3},
    {"renamenx", "renamenx", CommandId::kWrite, 3},
    {"replconf", "replconf", CommandId::kUnsupported, -1},
    {"replicaof", "replicaof", CommandId::kUnsupported, 3},
    {"reset", "reset", CommandId::kUnsupported, 1},
    {"restore", "restore", CommandId::kWrite, -4},
    {"restore-asking", "restore-asking", CommandId::kWrite, -4},
    {"role", "role", CommandId::kUnsupported, 1},
    {"rpop", "rpop", CommandId::kWrite, -2},
    {"rpoplpush", "rpoplpush", CommandId::kWrite, 3},
    {"rpush", "rpush", CommandId::kWrite, -3},
    {"rpushx", "rpushx", CommandId::kWrite, -3},
    {"sadd", "sadd", CommandId::kWrite, -3},
    {"save", "save", CommandId::kUnsupported, 1},
    {"scan", "scan", CommandId::kUnsupported, -2},
    {"scard", "scard", CommandId::kUnsupported, 2},
    {"script", "script", CommandId::kUnsupported, -2, kScriptSubcommands},
    {"sdiff", "sdiff", CommandId::kUnsupported, -2},
    {"sdiffstore", "sdiffstore", CommandId::kWrite, -3},
    {"select", "select", CommandId::kSelect, 2},
    {"set", "set", CommandId::kWrite, -3},
    {"setbit", "setbit", CommandId::kWrite, 4},
    {"setex", "setex", CommandId::kWrite, 4},
    {"setnx", "setnx", CommandId::kWrite, 3},
    {"setrange", "setrange", CommandId::kWrite, 4},
    {"shutdown", "shutdown", CommandId::kUnsupported, -1},
    {"sinter", "sinter", CommandId::kUnsupported, -2},
    {"sintercard", "sintercard", CommandId::kUnsupported, -3},
    {"sinterstore", "sinterstore", CommandId::kWrite, -3},
    {"sismember", "sismember", CommandId::kUnsupported, 3},
    {"slaveof", "slaveof", CommandId::kUnsupported, 3},
    {"slowlog", "slowlog", CommandId::kUnsupported, -2, kSlowlogSubcommands},
    {"smembers", "smembers", CommandId::kUnsupported, 2},
    {"smismember", "smismember", CommandId::kUnsupported, -3},
    {"smove", "smove", CommandId::kWrite, 4},
    {"sort", "sort", CommandId::kWrite, -2},
    {"sort_ro", "sort_ro", CommandId::kUnsupported, -2},
    {"spop", "spop", CommandId::kWrite, -2},
    {"spublish", "spublish", CommandId::kUnsupported, 3},
    {"srandmember", "srandmember", CommandId::kUnsupported, -2},
    {"srem", "srem", CommandId::kWrite, -3},
    {"sscan", "sscan", CommandId::kUnsupported, -3},
    {"ssubscribe", "ssubscribe", CommandId::kUnsupported, -2},
    {"strlen", "strlen", CommandId::kUnsupported, 2},
    {"subscribe", "subscribe", CommandId::kUnsupported, -2},
    {"substr", "substr", CommandId::kUnsupported, 4},
    {"sunion", "sunion", CommandId::kUnsupported, -2},
    {"sunionstore", "sunionstore", CommandId::kWrite, -3},
    {"sunsubscribe", "sunsubscribe", CommandId::kUnsupported, -1},
    {"swapdb", "swapdb", CommandId::kWrite, 3},
    {"sync", "sync", CommandId::kUnsupported, 1},
    {"time", "time", CommandId::kUnsupported, 1},
    {"touch", "touch", CommandId::kUnsupported, -2},
    {"ttl", "ttl", CommandId::kUnsupported, 2},
    {"type", "type", CommandId::kUnsupported, 2},
    {"unlink", "unlink", CommandId::kWrite, -2},
    {"unsubscribe", "unsubscribe", CommandId::kUnsupported, -1},
    {"unwatch", "unwatch", CommandId::kUnsupported, 1},
    {"wait", "wait", CommandId::kUnsupported, 3},
    {"watch", "watch", CommandId::kUnsupported, -2},
    {"xack", "xack", CommandId::kWrite, -4},
    {"xadd", "xadd", CommandId::kWrite, -5},
    {"xautoclaim", "xautoclaim", CommandId::kWrite, -6},
    {"xclaim", "xclaim", CommandId::kWrite, -6},
    {"xdel", "xdel", CommandId::kWrite, -3},
    {"xgroup", "xgroup", CommandId::kUnsupported, -2, kXgroupSubcommands},
    {"xinfo", "xinfo", CommandId::kUnsupported, -2, kXinfoSubcommands},
    {"xlen", "xlen", CommandId::kUnsupported, 2},
    {"xpending", "xpending", CommandId::kUnsupported, -3},
    {"xrange", "xrange", CommandId::kUnsupported, -4},
    {"xread", "xread", CommandId::kUnsupported, -4},
    {"xreadgroup", "xreadgroup", CommandId::kWrite, -7},
    {"xrevrange", "xrevrange", CommandId::kUnsupported, -4},
    {"xsetid", "xsetid", CommandId::kWrite, -3},
    {"xtrim", "xtrim", CommandId::kWrite, -4},
    {"zadd", "zadd", CommandId::kWrite, -4},
    {"zcard", "zcard", CommandId::kUnsupported, 2},
    {"zcount", "zcount", CommandId::kUnsupported, 4},
    {"zdiff", "zdiff", CommandId::kUnsupported, -3},
    {"zdiffstore", "zdiffstore", CommandId::kWrite, -4},
    {"zincrby", "zincrby", CommandId::kWrite, 4},
    {"zinter", "zinter", CommandId::kUnsupported, -3},
    {"zintercard", "zintercard", CommandId::kUnsupported, -3},
    {"zinterstore", "zinterstore", CommandId::kWrite, -4},
    {"zlexcount", "zlexcount", CommandId::kUnsupported, 4},
    {"zmpop", "zmpop", CommandId::kWrite, -4},
    {"zmscore", "zmscore", CommandId::kUnsupported, -3},
    {"zpopmax", "zpopmax", CommandId::kWrite, -2},
    {"zpopmin", "zpopmin", CommandId::kWrite, -2},
    {"zrandmember", "zrandmember", CommandId::kUnsupported, -2},
    {"zrange", "zrange", CommandId::kUnsupported, -4},
    {"zrangebylex", "zrangebylex", CommandId::kUnsupported, -4},
    {"zrangebyscore", "zrangebyscore", CommandId::kUnsupported, -4},
    {"zrangestore", "zrangestore", CommandId::kWrite, -5},
    {"zrank", "zrank", CommandId::kUnsupported, 3},
    {"zrem", "zrem", CommandId::kWrite, -3},
    {"zremrangebylex", "zremrangebylex", CommandId::kWrite, 4},
    {"zremrangebyrank", "zremrangebyrank", CommandId::kWrite, 4},
    {"zremrangebyscore", "zremrangebyscore", CommandId::kWrite, 4},
    {"zrevrange", "zrevrange", CommandId::kUnsupported, -4},
    {"zrevrangebylex", "zrevrangebylex", CommandId::kUnsupported, -4},
    {"zrevrangebyscore", "zrevrangebyscore", CommandId::kUnsupported, -4},
    {"zrevrank", "zrevrank", CommandId::kUnsupported, 3},
    {"zscan", "zscan", CommandId::kUnsupported, -3},
    {"zscore", "zscore", CommandId::kUnsupported, 3},
    {"zunion", "zunion", CommandId::kUnsupported, -3},
    {"zunionstore", "zunionstore", CommandId::kWrite, -4},
};

char ToLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

char ToUpperAscii(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Compares `query` in any case with a lowercase table name, bytewise.
int CompareName(absl::string_view query, absl::string_view name) {
  const size_t n = std::min(query.size(), name.size());
  for (size_t i = 0; i < n; ++i) {
    const auto a = static_cast<unsigned char>(ToLowerAscii(query[i]));
    const auto b = static_cast<unsigned char>(name[i]);
    if (a != b) return a < b ? -1 : 1;
  }
  if (query.size() == name.size()) return 0;
  return query.size() < name.size() ? -1 : 1;
}

constexpr bool IsSorted(absl::Span<const CommandInfo> table) {
  for (size_t i = 1; i < table.size(); ++i) {
    if (!(table[i - 1].name < table[i].name)) return false;
  }
  for (const CommandInfo& info : table) {
    if (!IsSorted(info.subcommands)) return false;
  }
  return true;
}
static_assert(IsSorted(kCommands), "command table must be sorted by name");

const CommandInfo* Find(absl::Span<const CommandInfo> table,
                        absl::string_view name) {
  size_t lo = 0;
  size_t hi = table.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const int c = CompareName(name, table[mid].name);
    if (c == 0) return &table[mid];
    if (c < 0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return nullptr;
}

// The range of kCommands whose names start with each letter, so that a
// lookup binary-searches a dozen names rather than all of them.
struct Range {
  uint16_t begin = 0;
  uint16_t end = 0;
};

constexpr std::array<Range, 26> BuildLetterIndex() {
  std::array<Range, 26> index{};
  for (size_t i = 0; i < std::size(kCommands); ++i) {
    const int letter = kCommands[i].name[0] - 'a';
    if (index[letter].end == 0) index[letter].begin = static_cast<uint16_t>(i);
    index[letter].end = static_cast<uint16_t>(i + 1);
  }
  return index;
}
constexpr std::array<Range, 26> kLetterIndex = BuildLetterIndex();

// printf's "%.*s" of a C string: at most `max` bytes, up to the first NUL
// (Redis formats arguments as C strings).
absl::string_view AsCString(absl::string_view s, size_t max) {
  s = s.substr(0, max);
  return s.substr(0, s.find('\0'));
}

// Redis's rejectCommandFormat() turns CR and LF into spaces.
std::string MapCrLfToSpaces(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

const CommandInfo* FindCommand(absl::string_view name) {
  // GET is most of what a feature server sends: skip the search for it.
  static const CommandInfo* const kGetInfo = [] {
    const Range r = kLetterIndex['g' - 'a'];
    return Find(
        absl::MakeConstSpan(kCommands).subspan(r.begin, r.end - r.begin),
        "get");
  }();
  if (name.size() == 3 && (name[0] | 0x20) == 'g' && (name[1] | 0x20) == 'e' &&
      (name[2] | 0x20) == 't') {
    return kGetInfo;
  }
  if (name.empty()) return nullptr;
  const char first = ToLowerAscii(name[0]);
  if (first < 'a' || first > 'z') return nullptr;
  const Range range = kLetterIndex[first - 'a'];
  return Find(absl::MakeConstSpan(kCommands).subspan(range.begin,
                                                     range.end - range.begin),
              name);
}

const CommandInfo* FindSubcommand(const CommandInfo& container,
                                  absl::string_view name) {
  return Find(container.subcommands, name);
}

CommandLookup LookupCommand(absl::Span<const absl::string_view> args) {
  CommandLookup found;
  const CommandInfo* command = FindCommand(args[0]);
  if (command == nullptr) return found;
  if (!command->is_container() || args.size() < 2) {
    found.command = command;
    return found;
  }
  found.container = command;
  found.command = FindSubcommand(*command, args[1]);
  return found;
}

std::string WrongArityMessage(const CommandInfo& info) {
  std::string out = "wrong number of arguments for '";
  out.append(info.fullname.data(), info.fullname.size());
  out.append("' command");
  return out;
}

std::string UnknownCommandMessage(absl::Span<const absl::string_view> args) {
  // "unknown command '%.128s', with args beginning with: %s", where each
  // argument adds "'%.*s' " with a precision of 128 minus the list so far,
  // until the list reaches 128 bytes.
  std::string out = "unknown command '";
  const absl::string_view name = AsCString(args[0], 128);
  out.append(name.data(), name.size());
  out.append("', with args beginning with: ");
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    const absl::string_view arg = AsCString(args[i], 128 - list.size());
    list.push_back('\'');
    list.append(arg.data(), arg.size());
    list.append("' ");
  }
  out.append(list);
  return MapCrLfToSpaces(std::move(out));
}

std::string UnknownSubcommandMessage(absl::string_view command,
                                     absl::string_view subcommand) {
  std::string out = "unknown subcommand '";
  const absl::string_view sub = AsCString(subcommand, 128);
  out.append(sub.data(), sub.size());
  out.append("'. Try ");
  for (char c : AsCString(command, std::string::npos)) {
    out.push_back(ToUpperAscii(c));
  }
  out.append(" HELP.");
  return MapCrLfToSpaces(std::move(out));
}

}  // namespace nearcache::resp
