// libFuzzer target for resp::ReplyWriter (src/resp/reply_writer.h): the
// input is a program of replies to append, interleaved with partial writes
// (GetChunks with a bounded chunk count, then Consume of part of it).
//
// Checked, besides ASan/UBSan:
//   - the unconsumed output is, byte for byte, what an independent encoder
//     of Redis's reply formats gives for the same replies, and size() is its
//     length;
//   - the bytes, as they are consumed, parse back with hiredis's
//     redisReader (the parser real clients use) into exactly the replies
//     appended: types, strings, integers, nesting;
//   - a borrowed payload's owner is released once its bytes are consumed.
#include <fuzzer/FuzzedDataProvider.h>
#include <hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "resp/reply_writer.h"

namespace nearcache::resp {
namespace {

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

constexpr int kMaxDepth = 5;  // hiredis 0.14 reads at most 7 levels
constexpr size_t kMaxReplies = 200;
// Payloads of kMinBorrowBytes and more, per input: enough to borrow some and
// to pass the writer's compaction threshold, few enough to keep runs fast.
constexpr int kMaxLargePayloads = 6;

// A reply as hiredis reports it.
struct Reply {
  int type = REDIS_REPLY_NIL;
  std::string str;  // STRING, STATUS, ERROR
  long long integer = 0;
  std::vector<Reply> elements;  // ARRAY
};

bool IsCrOrLf(char c) { return c == '\r' || c == '\n'; }

// Redis's sanitizing of status and error texts, as ReplyWriter documents it.
std::string Sanitized(absl::string_view text, bool trim) {
  if (trim) {
    while (!text.empty() && IsCrOrLf(text.front())) text.remove_prefix(1);
    while (!text.empty() && IsCrOrLf(text.back())) text.remove_suffix(1);
  }
  std::string out(text);
  for (char& c : out) {
    if (IsCrOrLf(c)) c = ' ';
  }
  return out;
}

// The reference encoder: RESP2 as redis-server writes it.
void Encode(const Reply& r, bool null_array, std::string* out) {
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      absl::StrAppend(out, "+", r.str, "\r\n");
      break;
    case REDIS_REPLY_ERROR:
      absl::StrAppend(out, "-", r.str, "\r\n");
      break;
    case REDIS_REPLY_INTEGER:
      absl::StrAppend(out, ":", r.integer, "\r\n");
      break;
    case REDIS_REPLY_STRING:
      absl::StrAppend(out, "$", r.str.size(), "\r\n", r.str, "\r\n");
      break;
    case REDIS_REPLY_NIL:
      out->append(null_array ? "*-1\r\n" : "$-1\r\n");
      break;
    case REDIS_REPLY_ARRAY:
      absl::StrAppend(out, "*", r.elements.size(), "\r\n");
      for (const Reply& e : r.elements) Encode(e, false, out);
      break;
  }
}

void ExpectSame(const redisReply* got, const Reply& want) {
  FUZZ_CHECK(got != nullptr);
  FUZZ_CHECK(got->type == want.type);
  switch (want.type) {
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STRING:
      FUZZ_CHECK(absl::string_view(got->str, got->len) == want.str);
      break;
    case REDIS_REPLY_INTEGER:
      FUZZ_CHECK(got->integer == want.integer);
      break;
    case REDIS_REPLY_ARRAY:
      FUZZ_CHECK(got->elements == want.elements.size());
      for (size_t i = 0; i < want.elements.size(); ++i) {
        ExpectSame(got->element[i], want.elements[i]);
      }
      break;
    default:
      break;
  }
}

class Harness {
 public:
  explicit Harness(FuzzedDataProvider* in) : in_(in) {
    reader_ = redisReaderCreate();
    FUZZ_CHECK(reader_ != nullptr);
  }
  ~Harness() { redisReaderFree(reader_); }

  void Run() {
    while (in_->remaining_bytes() > 0 && replies_ < kMaxReplies) {
      if (in_->ConsumeIntegralInRange<int>(0, 3) == 0) {
        Write(/*all=*/false);
      } else {
        std::string encoded;
        Reply r = Append(0, &encoded);
        expected_bytes_ += encoded;
        expected_.push_back(std::move(r));
      }
    }
    Write(/*all=*/true);
    FUZZ_CHECK(out_.empty());
    FUZZ_CHECK(out_.size() == 0);
    FUZZ_CHECK(consumed_ == expected_bytes_.size());
    ReadReplies();
    FUZZ_CHECK(next_expected_ == expected_.size());
    // Nothing is left half-read.
    void* extra = nullptr;
    FUZZ_CHECK(redisReaderGetReply(reader_, &extra) == REDIS_OK);
    FUZZ_CHECK(extra == nullptr);
    // Every borrowed payload was sent: its owner is let go.
    for (const std::weak_ptr<std::string>& w : owners_) {
      FUZZ_CHECK(w.expired());
    }
  }

 private:
  std::string Bytes() {
    if (in_->ConsumeBool() && in_->ConsumeBool() &&
        large_payloads_ < kMaxLargePayloads) {
      ++large_payloads_;
      // Large: around and above ReplyWriter::kMinBorrowBytes.
      const size_t n = in_->ConsumeIntegralInRange<size_t>(
          0, 3 * ReplyWriter::kMinBorrowBytes);
      const char fill = in_->ConsumeIntegral<char>();
      std::string s(n, fill);
      if (n > 0) s[n / 2] = '\r';
      return s;
    }
    return in_->ConsumeRandomLengthString(64);
  }

  // Appends one reply to out_ and returns what hiredis must read back.
  Reply Append(int depth, std::string* encoded) {
    ++replies_;
    Reply r;
    bool null_array = false;
    switch (in_->ConsumeIntegralInRange<int>(0, 9)) {
      case 0: {
        const std::string text = in_->ConsumeRandomLengthString(64);
        out_.AppendSimpleString(text);
        r.type = REDIS_REPLY_STATUS;
        r.str = Sanitized(text, /*trim=*/false);
        break;
      }
      case 1: {
        const std::string message = in_->ConsumeRandomLengthString(64);
        out_.AppendError(message);
        r.type = REDIS_REPLY_ERROR;
        r.str = "ERR " + Sanitized(message, /*trim=*/true);
        break;
      }
      case 2: {
        const std::string code = in_->ConsumeRandomLengthString(16);
        const std::string message = in_->ConsumeRandomLengthString(64);
        out_.AppendError(code, message);
        r.type = REDIS_REPLY_ERROR;
        r.str = Sanitized(code, /*trim=*/true);
        if (!message.empty()) {
          r.str += " " + Sanitized(message, /*trim=*/true);
        }
        break;
      }
      case 3: {
        r.type = REDIS_REPLY_INTEGER;
        r.integer = in_->ConsumeIntegral<int64_t>();
        out_.AppendInteger(r.integer);
        break;
      }
      case 4: {
        r.type = REDIS_REPLY_STRING;
        r.str = Bytes();
        out_.AppendBulk(r.str);
        break;
      }
      case 5: {
        r.type = REDIS_REPLY_STRING;
        auto owner = std::make_shared<std::string>(Bytes());
        r.str = *owner;
        out_.AppendBulkShared(*owner, owner);
        owners_.push_back(owner);
        break;
      }
      case 6:
        r.type = REDIS_REPLY_NIL;
        out_.AppendNullBulk();
        break;
      case 7: {
        r.type = REDIS_REPLY_ARRAY;
        const size_t n = depth < kMaxDepth && replies_ < kMaxReplies
                             ? in_->ConsumeIntegralInRange<size_t>(0, 6)
                             : 0;
        out_.AppendArrayHeader(n);
        std::string header = absl::StrCat("*", n, "\r\n");
        encoded->append(header);
        for (size_t i = 0; i < n; ++i) {
          r.elements.push_back(Append(depth + 1, encoded));
        }
        return r;
      }
      case 8:
        r.type = REDIS_REPLY_NIL;
        null_array = true;
        out_.AppendNullArray();
        break;
      default: {
        // A reply already encoded, e.g. one cached whole.
        r.type = REDIS_REPLY_INTEGER;
        r.integer = in_->ConsumeIntegral<int32_t>();
        out_.AppendRaw(absl::StrCat(":", r.integer, "\r\n"));
        break;
      }
    }
    Encode(r, null_array, encoded);
    return r;
  }

  // The pending output equals the reference encoding past what was consumed.
  void CheckPending() {
    FUZZ_CHECK(out_.size() == expected_bytes_.size() - consumed_);
    std::vector<absl::string_view> chunks;
    out_.GetChunks(&chunks);
    size_t at = consumed_;
    for (absl::string_view chunk : chunks) {
      FUZZ_CHECK(!chunk.empty());
      FUZZ_CHECK(absl::string_view(expected_bytes_).substr(at, chunk.size()) ==
                 chunk);
      at += chunk.size();
    }
    FUZZ_CHECK(at == expected_bytes_.size());
  }

  // A write that sends part (or all) of the pending output.
  void Write(bool all) {
    do {
      CheckPending();
      std::vector<absl::string_view> chunks;
      const size_t max_chunks =
          all ? 64 : in_->ConsumeIntegralInRange<size_t>(1, 4);
      out_.GetChunks(&chunks, max_chunks);
      FUZZ_CHECK(chunks.size() <= max_chunks);
      size_t offered = 0;
      for (absl::string_view chunk : chunks) offered += chunk.size();
      FUZZ_CHECK(offered <= out_.size());
      size_t n =
          all ? offered : in_->ConsumeIntegralInRange<size_t>(0, offered);
      const size_t sent = n;
      for (absl::string_view chunk : chunks) {
        if (n == 0) break;
        const size_t k = std::min(n, chunk.size());
        FUZZ_CHECK(redisReaderFeed(reader_, chunk.data(), k) == REDIS_OK);
        n -= k;
      }
      const size_t before = out_.size();
      out_.Consume(sent);
      FUZZ_CHECK(out_.size() == before - sent);
      consumed_ += sent;
      ReadReplies();
    } while (all && !out_.empty());
    CheckPending();
  }

  void ReadReplies() {
    for (;;) {
      void* got = nullptr;
      FUZZ_CHECK(redisReaderGetReply(reader_, &got) == REDIS_OK);
      if (got == nullptr) return;
      FUZZ_CHECK(next_expected_ < expected_.size());
      ExpectSame(static_cast<redisReply*>(got), expected_[next_expected_++]);
      freeReplyObject(got);
    }
  }

  FuzzedDataProvider* const in_;
  redisReader* reader_ = nullptr;
  ReplyWriter out_;
  std::vector<Reply> expected_;
  std::string expected_bytes_;
  size_t consumed_ = 0;
  size_t next_expected_ = 0;
  size_t replies_ = 0;
  int large_payloads_ = 0;
  std::vector<std::weak_ptr<std::string>> owners_;
};

}  // namespace
}  // namespace nearcache::resp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  nearcache::resp::Harness harness(&in);
  harness.Run();
  return 0;
}
