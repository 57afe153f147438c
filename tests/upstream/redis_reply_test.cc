// RedisReply: RESP encoding of commands and conversion of hiredis replies.
#include "upstream/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <string>

#include "gtest/gtest.h"

namespace nearcache {
namespace {

// Parses one reply from `resp` with hiredis's reader, as the connection does.
RedisReply Parse(const std::string& resp) {
  redisReader* reader = redisReaderCreate();
  EXPECT_EQ(redisReaderFeed(reader, resp.data(), resp.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr);
  RedisReply out;
  if (raw != nullptr) {
    out = RedisReplyFromHiredis(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
  }
  redisReaderFree(reader);
  return out;
}

TEST(RedisReplyTest, EncodesCommandsAsBinarySafeMultibulk) {
  std::string out;
  AppendRedisCommand({"GET", std::string("a\0b", 3)}, &out);
  EXPECT_EQ(out, std::string("*2\r\n$3\r\nGET\r\n$3\r\na\0b\r\n", 22));
  AppendRedisCommand({"PING"}, &out);
  EXPECT_EQ(out.substr(22), "*1\r\n$4\r\nPING\r\n");
  std::string empty_arg;
  AppendRedisCommand({"ECHO", ""}, &empty_arg);
  EXPECT_EQ(empty_arg, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
}

TEST(RedisReplyTest, ConvertsEveryReplyType) {
  EXPECT_EQ(Parse("+OK\r\n"), RedisReply::Status("OK"));
  EXPECT_EQ(Parse("-WRONGTYPE bad\r\n"), RedisReply::Error("WRONGTYPE bad"));
  EXPECT_EQ(Parse(":-42\r\n"), RedisReply::Integer(-42));
  EXPECT_EQ(Parse("$-1\r\n"), RedisReply::Nil());
  EXPECT_EQ(Parse(std::string("$5\r\na\0b\r\n\r\n", 12)),
            RedisReply::String(std::string("a\0b\r\n", 5)));
  EXPECT_EQ(Parse("*-1\r\n"), RedisReply::Nil());
  EXPECT_EQ(Parse("*0\r\n"), RedisReply::Array({}));
  EXPECT_EQ(
      Parse("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n*2\r\n$1\r\nx\r\n$-1\r\n"),
      RedisReply::Array(
          {RedisReply::String("message"), RedisReply::String("c"),
           RedisReply::Array({RedisReply::String("x"), RedisReply::Nil()})}));
}

TEST(RedisReplyTest, TypesAreDistinguished) {
  EXPECT_NE(RedisReply::Status("OK"), RedisReply::String("OK"));
  EXPECT_NE(RedisReply::Error("OK"), RedisReply::Status("OK"));
  EXPECT_TRUE(RedisReply::Status("PONG").IsText("PONG"));
  EXPECT_TRUE(RedisReply::String("PONG").IsText("PONG"));
  EXPECT_FALSE(RedisReply::Error("PONG").IsText("PONG"));
}

TEST(RedisReplyTest, ToStringIsReadable) {
  RedisReply r =
      RedisReply::Array({RedisReply::String(std::string("a\0", 2)),
                         RedisReply::Integer(3), RedisReply::Nil(),
                         RedisReply::Error("ERR x"), RedisReply::Status("OK")});
  EXPECT_EQ(r.ToString(),
            "[\"a\\x00\", (integer) 3, (nil), (error) ERR x, OK]");
}

}  // namespace
}  // namespace nearcache
