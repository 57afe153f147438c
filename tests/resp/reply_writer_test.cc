// The contract of ReplyWriter (src/resp/reply_writer.h): byte-exact RESP2 as
// redis-server 7 writes it, and an output that drains correctly however the
// writes split it, borrowed payloads included.
#include "resp/reply_writer.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace nearcache::resp {
namespace {

using std::string_literals::operator""s;

TEST(ReplyWriterTest, SimpleStrings) {
  ReplyWriter out;
  out.AppendSimpleString("OK");
  out.AppendSimpleString("PONG");
  out.AppendSimpleString("");
  EXPECT_EQ(out.ToString(), "+OK\r\n+PONG\r\n+\r\n");
  EXPECT_EQ(out.size(), 15u);
}

TEST(ReplyWriterTest, SimpleStringNeverBreaksTheStream) {
  ReplyWriter out;
  out.AppendSimpleString("a\r\nb");
  EXPECT_EQ(out.ToString(), "+a  b\r\n");
}

TEST(ReplyWriterTest, Errors) {
  ReplyWriter out;
  out.AppendError("wrong number of arguments for 'get' command");
  out.AppendError("WRONGTYPE",
                  "Operation against a key holding the wrong kind of value");
  out.AppendError("NOAUTH", "");
  EXPECT_EQ(out.ToString(),
            "-ERR wrong number of arguments for 'get' command\r\n"
            "-WRONGTYPE Operation against a key holding the wrong kind of "
            "value\r\n"
            "-NOAUTH\r\n");
}

TEST(ReplyWriterTest, ErrorTextIsSanitizedLikeAddReplyErrorFormat) {
  ReplyWriter out;
  // CR/LF at the ends are trimmed, the others become spaces; other spaces
  // are kept (Redis's unknown-command text ends with one).
  out.AppendError("\r\nbad\r\nthing\n\r\n");
  out.AppendError("unknown command 'FOO', with args beginning with: ");
  out.AppendError("");
  EXPECT_EQ(out.ToString(),
            "-ERR bad  thing\r\n"
            "-ERR unknown command 'FOO', with args beginning with: \r\n"
            "-ERR \r\n");
}

TEST(ReplyWriterTest, Integers) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, ":0\r\n"},
      {1, ":1\r\n"},
      {-1, ":-1\r\n"},
      {9, ":9\r\n"},
      {10, ":10\r\n"},
      {99, ":99\r\n"},
      {100, ":100\r\n"},
      {-100, ":-100\r\n"},
      {1234567, ":1234567\r\n"},
      {std::numeric_limits<int64_t>::max(), ":9223372036854775807\r\n"},
      {std::numeric_limits<int64_t>::min(), ":-9223372036854775808\r\n"},
  };
  for (const auto& [n, expected] : cases) {
    ReplyWriter out;
    out.AppendInteger(n);
    EXPECT_EQ(out.ToString(), expected);
  }
}

TEST(ReplyWriterTest, Bulks) {
  ReplyWriter out;
  out.AppendBulk("bar");
  out.AppendBulk("");
  out.AppendBulk("\0\r\n"s);
  out.AppendNullBulk();
  EXPECT_EQ(out.ToString(),
            "$3\r\nbar\r\n"
            "$0\r\n\r\n"
            "$3\r\n\0\r\n\r\n"s
            "$-1\r\n");
}

TEST(ReplyWriterTest, Arrays) {
  ReplyWriter out;
  out.AppendArrayHeader(0);
  out.AppendNullArray();
  EXPECT_EQ(out.ToString(), "*0\r\n*-1\r\n");
}

TEST(ReplyWriterTest, RepliesAsRedisWritesThem) {
  // Captured from redis-server 7.0.15 after SET foo bar, HSET h f1 v1 f2 v2.
  ReplyWriter out;
  // MGET foo nosuch foo
  out.AppendArrayHeader(3);
  out.AppendBulk("bar");
  out.AppendNullBulk();
  out.AppendBulk("bar");
  // HMGET h f1 nosuch
  out.AppendArrayHeader(2);
  out.AppendBulk("v1");
  out.AppendNullBulk();
  // HGETALL h
  out.AppendArrayHeader(4);
  out.AppendBulk("f1");
  out.AppendBulk("v1");
  out.AppendBulk("f2");
  out.AppendBulk("v2");
  // EXISTS foo nosuch foo
  out.AppendInteger(2);
  // HGETALL nosuch
  out.AppendArrayHeader(0);
  EXPECT_EQ(out.ToString(),
            "*3\r\n$3\r\nbar\r\n$-1\r\n$3\r\nbar\r\n"
            "*2\r\n$2\r\nv1\r\n$-1\r\n"
            "*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n"
            ":2\r\n"
            "*0\r\n");
}

TEST(ReplyWriterTest, RawIsVerbatim) {
  ReplyWriter out;
  out.AppendRaw("+OK\r\n");
  out.AppendRaw("");
  EXPECT_EQ(out.ToString(), "+OK\r\n");
}

TEST(ReplyWriterTest, SmallSharedBulkIsCopied) {
  auto owner = std::make_shared<const std::string>("small value");
  ReplyWriter out;
  out.AppendBulkShared(*owner, owner);
  EXPECT_EQ(owner.use_count(), 1);  // not held
  std::vector<absl::string_view> chunks;
  out.GetChunks(&chunks);
  EXPECT_EQ(chunks.size(), 1u);
  EXPECT_EQ(out.ToString(), "$11\r\nsmall value\r\n");
}

TEST(ReplyWriterTest, LargeSharedBulkIsBorrowedUntilSent) {
  auto owner = std::make_shared<const std::string>(
      std::string(ReplyWriter::kMinBorrowBytes, 'v'));
  ReplyWriter out;
  out.AppendInteger(7);
  out.AppendBulkShared(*owner, owner);
  out.AppendSimpleString("OK");
  EXPECT_EQ(owner.use_count(), 2);
  const std::string expected = ":7\r\n$8192\r\n" + *owner + "\r\n+OK\r\n";
  EXPECT_EQ(out.ToString(), expected);
  EXPECT_EQ(out.size(), expected.size());

  std::vector<absl::string_view> chunks;
  out.GetChunks(&chunks);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], ":7\r\n$8192\r\n");
  EXPECT_EQ(chunks[1].data(), owner->data());  // not copied
  EXPECT_EQ(chunks[2], "\r\n+OK\r\n");

  // Still held while part of it is unsent.
  out.Consume(chunks[0].size() + 100);
  EXPECT_EQ(owner.use_count(), 2);
  out.GetChunks(&chunks);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].data(), owner->data() + 100);
  out.Consume(owner->size() - 100);
  EXPECT_EQ(owner.use_count(), 1);
  EXPECT_EQ(out.ToString(), "\r\n+OK\r\n");
  out.Consume(7);
  EXPECT_TRUE(out.empty());
}

TEST(ReplyWriterTest, MaxChunks) {
  auto owner = std::make_shared<const std::string>(
      std::string(ReplyWriter::kMinBorrowBytes, 'v'));
  ReplyWriter out;
  out.AppendBulkShared(*owner, owner);
  out.AppendBulkShared(*owner, owner);
  std::vector<absl::string_view> chunks;
  out.GetChunks(&chunks);
  EXPECT_EQ(chunks.size(), 5u);
  out.GetChunks(&chunks, 2);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], "$8192\r\n");
  EXPECT_EQ(chunks[1].data(), owner->data());
}

TEST(ReplyWriterTest, ClearKeepsNothing) {
  auto owner = std::make_shared<const std::string>(
      std::string(ReplyWriter::kMinBorrowBytes, 'v'));
  ReplyWriter out;
  out.AppendBulkShared(*owner, owner);
  out.Clear();
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(out.ToString(), "");
  EXPECT_EQ(owner.use_count(), 1);
}

TEST(ReplyWriterTest, SwapForWritesInFlight) {
  ReplyWriter pending;
  ReplyWriter in_flight;
  pending.AppendSimpleString("OK");
  std::swap(pending, in_flight);
  pending.AppendInteger(1);
  EXPECT_EQ(in_flight.ToString(), "+OK\r\n");
  EXPECT_EQ(pending.ToString(), ":1\r\n");
}

TEST(ReplyWriterTest, NeverFullyDrainedStaysCorrect) {
  // A connection whose writes always leave a little behind: the consumed
  // front of the buffer is dropped as it goes, borrowed payloads included.
  auto big = std::make_shared<const std::string>(
      std::string(ReplyWriter::kMinBorrowBytes, 'B'));
  const std::string small(2000, 's');
  ReplyWriter out;
  std::string appended;
  std::string drained;
  for (int i = 0; i < 200; ++i) {
    out.AppendBulk(small);
    out.AppendBulkShared(*big, big);
    appended += "$2000\r\n" + small + "\r\n$8192\r\n" + *big + "\r\n";
    const std::string pending = out.ToString();
    const size_t n = out.size() - 100;
    drained += pending.substr(0, n);
    out.Consume(n);
  }
  drained += out.ToString();
  EXPECT_EQ(drained, appended);
  EXPECT_EQ(big.use_count(), 2);  // only the last one is still unsent
}

// Appends random replies and drains them in random pieces, interleaved;
// what was drained must equal everything appended.
TEST(ReplyWriterTest, RandomPartialWrites) {
  std::mt19937 rng(7);
  auto big = std::make_shared<const std::string>(
      std::string(3 * ReplyWriter::kMinBorrowBytes, 'B'));
  for (int round = 0; round < 50; ++round) {
    ReplyWriter out;
    std::string appended;
    std::string drained;
    for (int step = 0; step < 400; ++step) {
      switch (std::uniform_int_distribution<int>(0, 4)(rng)) {
        case 0: {
          const int64_t n = std::uniform_int_distribution<int64_t>(
              std::numeric_limits<int64_t>::min(),
              std::numeric_limits<int64_t>::max())(rng);
          out.AppendInteger(n);
          appended += ":" + std::to_string(n) + "\r\n";
          break;
        }
        case 1: {
          const std::string s(
              std::uniform_int_distribution<size_t>(0, 3000)(rng), 's');
          out.AppendBulk(s);
          appended += "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
          break;
        }
        case 2: {
          const size_t off = std::uniform_int_distribution<size_t>(
              0, ReplyWriter::kMinBorrowBytes)(rng);
          const absl::string_view s = absl::string_view(*big).substr(off);
          out.AppendBulkShared(s, big);
          appended +=
              "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
          break;
        }
        case 3:
          out.AppendNullBulk();
          appended += "$-1\r\n";
          break;
        case 4: {
          // A write of a random part of the pending output.
          std::vector<absl::string_view> chunks;
          out.GetChunks(&chunks, 8);
          size_t n = std::uniform_int_distribution<size_t>(0, 40000)(rng);
          size_t sent = 0;
          for (absl::string_view chunk : chunks) {
            const size_t k = std::min(n - sent, chunk.size());
            drained.append(chunk.data(), k);
            sent += k;
            if (sent == n) break;
          }
          out.Consume(sent);
          break;
        }
      }
      ASSERT_EQ(out.size(), appended.size() - drained.size());
    }
    drained += out.ToString();
    ASSERT_EQ(drained, appended);
    out.Consume(out.size());
    EXPECT_TRUE(out.empty());
  }
  EXPECT_EQ(big.use_count(), 1);
}

}  // namespace
}  // namespace nearcache::resp
