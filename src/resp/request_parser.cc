#include "resp/request_parser.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nearcache::resp {
namespace {

// Redis's texts (networking.c), without the "ERR " that the reply adds.
constexpr absl::string_view kInvalidMultibulkLength =
    "Protocol error: invalid multibulk length";
constexpr absl::string_view kInvalidBulkLength =
    "Protocol error: invalid bulk length";
constexpr absl::string_view kTooBigMbulkCount =
    "Protocol error: too big mbulk count string";
constexpr absl::string_view kTooBigBulkCount =
    "Protocol error: too big bulk count string";
constexpr absl::string_view kTooBigInline =
    "Protocol error: too big inline request";
constexpr absl::string_view kUnbalancedQuotes =
    "Protocol error: unbalanced quotes in request";
// No Redis equivalent: see RequestParserOptions::max_request_bytes.
constexpr absl::string_view kTooBigRequest = "Protocol error: too big request";

// An idle buffer larger than this goes back to kInitialCapacity, so that one
// large request does not pin its memory for the connection's lifetime.
constexpr size_t kMaxIdleCapacity = size_t{1} << 20;

// Redis's string2ll() (util.c): optional '-', no '+', no leading zeros, no
// spaces, at most 20 characters, within int64_t.
bool ParseRedisInt(const char* s, size_t len, int64_t* out) {
  if (len == 0 || len >= 21) return false;
  if (len == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == len) return false;
  if (s[i] < '1' || s[i] > '9') return false;
  uint64_t v = static_cast<uint64_t>(s[i++] - '0');
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (; i < len; ++i) {
    const unsigned digit = static_cast<unsigned char>(s[i]) - '0';
    if (digit > 9) return false;
    if (v > kMax / 10) return false;
    v *= 10;
    if (v > kMax - digit) return false;
    v += digit;
  }
  constexpr uint64_t kInt64Max = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (v > kInt64Max + 1) return false;
    *out = static_cast<int64_t>(~v + 1);  // two's complement, defined in C++20
  } else {
    if (v > kInt64Max) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// isspace() in the C locale, which sdssplitargs() skips between words.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// sds.c's sdssplitargs() over the line [p, e), which holds no NUL byte. The
// words are decoded in place (a word never gets longer than its quoted
// form, so the write cursor never passes the read cursor) and appended to
// *args as views into the line. Returns false on unbalanced quotes.
bool SplitInlineArgs(char* p, char* const e,
                     std::vector<absl::string_view>* args) {
  // sdssplitargs() reads a NUL-terminated string; the end reads as NUL.
  const auto at = [e](const char* q) { return q < e ? *q : '\0'; };
  for (;;) {
    while (p < e && IsSpace(*p)) ++p;
    if (p == e) return true;
    char* const word = p;
    char* w = p;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(p);
      if (in_double) {
        if (c == '\\' && at(p + 1) == 'x' && IsHexDigit(at(p + 2)) &&
            IsHexDigit(at(p + 3))) {
          *w++ = static_cast<char>(HexValue(p[2]) * 16 + HexValue(p[3]));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          switch (*p) {
            case 'n':
              *w++ = '\n';
              break;
            case 'r':
              *w++ = '\r';
              break;
            case 't':
              *w++ = '\t';
              break;
            case 'b':
              *w++ = '\b';
              break;
            case 'a':
              *w++ = '\a';
              break;
            default:
              *w++ = *p;
              break;
          }
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing.
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          *w++ = c;
        }
      } else if (in_single) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          *w++ = '\'';
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          *w++ = c;
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            *w++ = c;
            break;
        }
      }
      if (p < e) ++p;
    }
    args->emplace_back(word, static_cast<size_t>(w - word));
  }
}

}  // namespace

RequestParser::RequestParser(const RequestParserOptions& options)
    : options_(options) {}

absl::Span<char> RequestParser::PrepareWrite(size_t min_bytes) {
  size_t want = std::max<size_t>(min_bytes, 1);
  if (args_left_ > 0 && bulk_len_ >= 0) {
    // Room for the whole awaited bulk (and its CRLF): it is then read in
    // place and never moved again.
    const size_t bulk_end = pos_ + static_cast<size_t>(bulk_len_) + 2;
    if (bulk_end > end_) want = std::max(want, bulk_end - end_);
  }
  const size_t pending = end_ - start_;
  if (pending == 0 && capacity_ > kMaxIdleCapacity &&
      want <= kInitialCapacity) {
    buf_.reset();
    capacity_ = 0;
    start_ = pos_ = end_ = scan_ = 0;
  }
  if (capacity_ - end_ < want) {
    const size_t needed = pending + want;
    if (needed <= capacity_ && pending <= capacity_ / 2) {
      // Moving at most half the buffer frees at least the other half:
      // amortized O(1) per byte.
      Relocate(buf_.get());
    } else {
      const size_t new_capacity =
          std::max({needed, 2 * capacity_, kInitialCapacity});
      std::unique_ptr<char[]> fresh =
          std::make_unique_for_overwrite<char[]>(new_capacity);
      Relocate(fresh.get());
      buf_ = std::move(fresh);
      capacity_ = new_capacity;
    }
  }
  return absl::Span<char>(buf_.get() + end_, capacity_ - end_);
}

void RequestParser::Commit(size_t n) {
  assert(n <= capacity_ - end_);
  end_ += n;
}

void RequestParser::Append(absl::string_view bytes) {
  if (bytes.empty()) return;
  absl::Span<char> space = PrepareWrite(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  Commit(bytes.size());
}

void RequestParser::Relocate(char* to) {
  const size_t pending = end_ - start_;
  const char* from = buf_.get() + start_;
  if (pending > 0 && to != from) std::memmove(to, from, pending);
  for (absl::string_view& arg : args_) {
    arg = absl::string_view(to + (arg.data() - from), arg.size());
  }
  pos_ -= start_;
  end_ -= start_;
  scan_ -= start_;
  start_ = 0;
}

RequestParser::Result RequestParser::Fail(absl::string_view message) {
  status_ = absl::InvalidArgumentError(message);
  args_.clear();
  args_left_ = 0;
  bulk_len_ = -1;
  return Result::kError;
}

// Looks for `delim` from pos_. Resumes where the last call stopped, so a
// line that arrives a byte at a time is scanned once. Redis looks with
// strchr(), which stops at a NUL byte: a NUL before `delim` means the line
// never ends. `check_nul` looks for one here; header lines skip that on the
// hot path and call EndHiddenByNul() only when they do not parse.
RequestParser::LineResult RequestParser::FindLine(char delim, bool check_nul,
                                                  size_t* at) {
  if (!line_stuck_) {
    const char* from = buf_.get() + scan_;
    const size_t n = end_ - scan_;
    const char* found = static_cast<const char*>(std::memchr(from, delim, n));
    const size_t upto =
        found != nullptr ? static_cast<size_t>(found - from) : n;
    if (check_nul && std::memchr(from, '\0', upto) != nullptr) {
      line_stuck_ = true;
    } else if (found != nullptr) {
      *at = static_cast<size_t>(found - buf_.get());
      scan_ = *at;
      if (*at - pos_ > options_.max_inline_bytes) return LineResult::kTooLong;
      return LineResult::kFound;
    } else {
      scan_ = end_;
    }
  }
  if (end_ - pos_ > options_.max_inline_bytes) return LineResult::kTooLong;
  return LineResult::kIncomplete;
}

bool RequestParser::EndHiddenByNul(size_t at) {
  if (std::memchr(buf_.get() + pos_, '\0', at - pos_) == nullptr) return false;
  line_stuck_ = true;
  return true;
}

RequestParser::Result RequestParser::Stuck(absl::string_view too_big) {
  if (end_ - pos_ > options_.max_inline_bytes) return Fail(too_big);
  return Result::kNeedMore;
}

RequestParser::Result RequestParser::Next() {
  if (failed()) return Result::kError;
  if (args_left_ > 0) return ParseBulks();
  for (;;) {
    // The previous command, if any, is consumed.
    args_.clear();
    inline_ = false;
    start_ = pos_;
    if (pos_ == end_) {
      // Nothing buffered: the next read lands at the start of the buffer.
      start_ = pos_ = end_ = scan_ = 0;
      return Result::kNeedMore;
    }
    if (buf_[pos_] != '*') {
      const Result result = ParseInline();
      if (result == Result::kCommand && args_.empty()) continue;
      return result;
    }
    size_t at;
    switch (FindLine('\r', /*check_nul=*/false, &at)) {
      case LineResult::kIncomplete:
        return Result::kNeedMore;
      case LineResult::kTooLong:
        return Fail(kTooBigMbulkCount);
      case LineResult::kFound:
        break;
    }
    // The byte after '\r' must be here too; Redis skips it unchecked.
    if (at + 2 > end_) return Result::kNeedMore;
    int64_t count;
    if (!ParseRedisInt(buf_.get() + pos_ + 1, at - pos_ - 1, &count) ||
        (count > 0 && static_cast<uint64_t>(count) > options_.max_args)) {
      if (EndHiddenByNul(at)) return Stuck(kTooBigMbulkCount);
      return Fail(kInvalidMultibulkLength);
    }
    pos_ = scan_ = at + 2;
    if (count <= 0) continue;  // `*0` and `*-1` are no requests
    args_left_ = count;
    bulk_len_ = -1;
    return ParseBulks();
  }
}

RequestParser::Result RequestParser::ParseBulks() {
  while (args_left_ > 0) {
    if (bulk_len_ < 0) {
      size_t at;
      switch (FindLine('\r', /*check_nul=*/false, &at)) {
        case LineResult::kIncomplete:
          return Result::kNeedMore;
        case LineResult::kTooLong:
          return Fail(kTooBigBulkCount);
        case LineResult::kFound:
          break;
      }
      if (at + 2 > end_) return Result::kNeedMore;
      const char first = buf_[pos_];
      if (first != '$') {
        if (EndHiddenByNul(at)) return Stuck(kTooBigBulkCount);
        // Redis formats the byte with %c, then turns CR and LF into spaces.
        const char shown = (first == '\r' || first == '\n') ? ' ' : first;
        return Fail(absl::StrCat("Protocol error: expected '$', got '",
                                 absl::string_view(&shown, 1), "'"));
      }
      int64_t len;
      if (!ParseRedisInt(buf_.get() + pos_ + 1, at - pos_ - 1, &len) ||
          len < 0 || static_cast<uint64_t>(len) > options_.max_bulk_bytes) {
        if (EndHiddenByNul(at)) return Stuck(kTooBigBulkCount);
        return Fail(kInvalidBulkLength);
      }
      // Checked on the header, before any of the payload is buffered.
      if ((at + 2 - start_) + static_cast<size_t>(len) + 2 >
          options_.max_request_bytes) {
        return Fail(kTooBigRequest);
      }
      pos_ = scan_ = at + 2;
      bulk_len_ = len;
    }
    const size_t len = static_cast<size_t>(bulk_len_);
    if (end_ - pos_ < len + 2) return Result::kNeedMore;
    args_.emplace_back(buf_.get() + pos_, len);
    // The CRLF after the payload is skipped unchecked, as Redis does.
    pos_ = scan_ = pos_ + len + 2;
    bulk_len_ = -1;
    --args_left_;
  }
  return Result::kCommand;
}

RequestParser::Result RequestParser::ParseInline() {
  size_t newline;
  switch (FindLine('\n', /*check_nul=*/true, &newline)) {
    case LineResult::kIncomplete:
      return Result::kNeedMore;
    case LineResult::kTooLong:
      return Fail(kTooBigInline);
    case LineResult::kFound:
      break;
  }
  size_t line_end = newline;
  if (line_end > pos_ && buf_[line_end - 1] == '\r') --line_end;
  char* const line = buf_.get() + pos_;
  char* const line_stop = buf_.get() + line_end;
  pos_ = scan_ = newline + 1;
  inline_ = true;
  if (!SplitInlineArgs(line, line_stop, &args_)) {
    return Fail(kUnbalancedQuotes);
  }
  return Result::kCommand;
}

}  // namespace nearcache::resp
