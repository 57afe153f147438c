#include "upstream/redis_reply.h"

#include <hiredis/hiredis.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace nearcache {

RedisReply RedisReply::String(std::string s) {
  RedisReply r;
  r.type = Type::kString;
  r.str = std::move(s);
  return r;
}

RedisReply RedisReply::Status(std::string s) {
  RedisReply r;
  r.type = Type::kStatus;
  r.str = std::move(s);
  return r;
}

RedisReply RedisReply::Error(std::string s) {
  RedisReply r;
  r.type = Type::kError;
  r.str = std::move(s);
  return r;
}

RedisReply RedisReply::Integer(int64_t i) {
  RedisReply r;
  r.type = Type::kInteger;
  r.integer = i;
  return r;
}

RedisReply RedisReply::Nil() { return RedisReply(); }

RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply r;
  r.type = Type::kArray;
  r.elements = std::move(elements);
  return r;
}

namespace {

void AppendDebug(const RedisReply& r, std::string* out) {
  switch (r.type) {
    case RedisReply::Type::kString:
      absl::StrAppend(out, "\"", absl::CHexEscape(r.str), "\"");
      return;
    case RedisReply::Type::kStatus:
      absl::StrAppend(out, r.str);
      return;
    case RedisReply::Type::kError:
      absl::StrAppend(out, "(error) ", r.str);
      return;
    case RedisReply::Type::kInteger:
      absl::StrAppend(out, "(integer) ", r.integer);
      return;
    case RedisReply::Type::kNil:
      absl::StrAppend(out, "(nil)");
      return;
    case RedisReply::Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) out->append(", ");
        AppendDebug(r.elements[i], out);
      }
      out->push_back(']');
      return;
  }
}

}  // namespace

std::string RedisReply::ToString() const {
  std::string out;
  AppendDebug(*this, &out);
  return out;
}

bool operator==(const RedisReply& a, const RedisReply& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case RedisReply::Type::kString:
    case RedisReply::Type::kStatus:
    case RedisReply::Type::kError:
      return a.str == b.str;
    case RedisReply::Type::kInteger:
      return a.integer == b.integer;
    case RedisReply::Type::kNil:
      return true;
    case RedisReply::Type::kArray:
      return a.elements == b.elements;
  }
  return false;
}

const char* RedisReplyTypeName(RedisReply::Type type) {
  switch (type) {
    case RedisReply::Type::kString:
      return "string";
    case RedisReply::Type::kStatus:
      return "status";
    case RedisReply::Type::kError:
      return "error";
    case RedisReply::Type::kInteger:
      return "integer";
    case RedisReply::Type::kNil:
      return "nil";
    case RedisReply::Type::kArray:
      return "array";
  }
  return "unknown";
}

RedisReply RedisReplyFromHiredis(const redisReply* reply) {
  RedisReply r;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      r.type = RedisReply::Type::kString;
      r.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      r.type = RedisReply::Type::kStatus;
      r.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      r.type = RedisReply::Type::kError;
      r.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      r.type = RedisReply::Type::kInteger;
      r.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      r.type = RedisReply::Type::kArray;
      r.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        r.elements.push_back(RedisReplyFromHiredis(reply->element[i]));
      }
      break;
    case REDIS_REPLY_NIL:
    default:
      // hiredis 0.14 knows no RESP3 types; anything else would be a bug in
      // the reader, and nil is the least harmful reading of it.
      r.type = RedisReply::Type::kNil;
      break;
  }
  return r;
}

void AppendRedisCommand(const std::vector<std::string>& args,
                        std::string* out) {
  size_t need = 16;
  for (const std::string& a : args) need += a.size() + 24;
  out->reserve(out->size() + need);
  absl::StrAppend(out, "*", args.size(), "\r\n");
  for (const std::string& a : args) {
    absl::StrAppend(out, "$", a.size(), "\r\n");
    out->append(a);
    out->append("\r\n");
  }
}

}  // namespace nearcache
