// RedisReply: one RESP2 reply from Redis as a plain value tree, plus the two
// conversions the upstream layer needs at the wire: hiredis's parsed reply
// object -> RedisReply, and a command (argument vector) -> RESP multibulk.
//
// Redis error replies (-ERR, -WRONGTYPE, -NOAUTH ...) are values of type
// kError, not failures: the transport worked and Redis answered.
#ifndef NEARCACHE_UPSTREAM_REDIS_REPLY_H_
#define NEARCACHE_UPSTREAM_REDIS_REPLY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

// From hiredis/hiredis.h; only redis_reply.cc needs its definition.
struct redisReply;

namespace nearcache {

// Thread-compatible plain value.
struct RedisReply {
  enum class Type : uint8_t {
    kString,
    kStatus,
    kError,
    kInteger,
    kNil,
    kArray
  };

  Type type = Type::kNil;
  std::string str;                   // kString (binary-safe), kStatus, kError
  int64_t integer = 0;               // kInteger
  std::vector<RedisReply> elements;  // kArray

  static RedisReply String(std::string s);
  static RedisReply Status(std::string s);
  static RedisReply Error(std::string s);
  static RedisReply Integer(int64_t i);
  static RedisReply Nil();
  static RedisReply Array(std::vector<RedisReply> elements);

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  bool is_array() const { return type == Type::kArray; }
  // True for a kString or kStatus reply whose text equals `s`.
  bool IsText(absl::string_view s) const {
    return (type == Type::kString || type == Type::kStatus) && str == s;
  }

  // For logs and test failures, in redis-cli's spirit: "abc" (escaped),
  // (error) ERR ..., (integer) 5, (nil), ["a", (integer) 1].
  std::string ToString() const;
};

bool operator==(const RedisReply& a, const RedisReply& b);
inline bool operator!=(const RedisReply& a, const RedisReply& b) {
  return !(a == b);
}

const char* RedisReplyTypeName(RedisReply::Type type);

// Deep copy of a reply parsed by hiredis (its reader or its blocking API).
// The caller still owns `reply` and frees it with freeReplyObject().
// REQUIRES: reply != nullptr.
RedisReply RedisReplyFromHiredis(const redisReply* reply);

// Appends `args` to `out` as one RESP multibulk request
// (*N\r\n$len\r\narg\r\n...). Binary-safe: arguments may hold any bytes.
void AppendRedisCommand(const std::vector<std::string>& args, std::string* out);

}  // namespace nearcache

#endif  // NEARCACHE_UPSTREAM_REDIS_REPLY_H_
