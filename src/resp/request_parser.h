// RequestParser: turns the bytes a RESP2 client sends into commands, the way
// redis-server 7 does (networking.c: processInputBuffer,
// processMultibulkBuffer, processInlineBuffer). It accepts multibulk requests
// (`*N\r\n$len\r\n...`) and inline requests (words split with sds.c's
// sdssplitargs() rules: "..." with \x41-style escapes, '...'), applies the same
// limits and reports the same error texts, so redis-cli, redis-py, hiredis and
// redis-benchmark see nearcache behave as redis-server does. No I/O: the caller
// moves the bytes.
//
// Zero-copy: the caller reads from the socket straight into the parser's
// buffer (PrepareWrite + Commit) and a parsed command is a list of
// string_views into that buffer. The buffer grows once to fit a large bulk
// argument announced by its header, so the payload is only ever written by
// the read() itself. The args vector is reused: no allocation per command in
// steady state.
//
// Usage:
//   RequestParser parser;
//   absl::Span<char> space = parser.PrepareWrite();
//   ssize_t n = read(fd, space.data(), space.size());  // n > 0
//   parser.Commit(n);
//   for (;;) {
//     RequestParser::Result r = parser.Next();
//     if (r == RequestParser::Result::kNeedMore) break;
//     if (r == RequestParser::Result::kError) {
//       // Reply "-ERR " + parser.status().message(), then close.
//       break;
//     }
//     Execute(parser.args());
//   }
//
// Differences from redis-server, all deliberate:
//   - Limits are options (below); Redis's are compiled in or configured.
//   - A line longer than max_inline_bytes is refused even when it arrived
//     whole; Redis refuses it only when it arrives in pieces. The outcome no
//     longer depends on how the kernel split the stream.
//   - max_request_bytes has no Redis equivalent (Redis closes the connection
//     at client-query-buffer-limit, without a reply).
// Kept from Redis on purpose: the byte after a header's '\r' and the two
// bytes after a bulk payload are skipped unchecked, and a NUL byte before the
// end of a header or inline line means the line never ends (Redis scans with
// strchr), so such a request waits until it is too big.
#ifndef NEARCACHE_SRC_RESP_REQUEST_PARSER_H_
#define NEARCACHE_SRC_RESP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace nearcache::resp {

struct RequestParserOptions {
  // Most arguments in one multibulk request: more is "invalid multibulk
  // length" (Redis allows up to INT_MAX).
  size_t max_args = 1048576;
  // Largest bulk argument: more is "invalid bulk length" (Redis:
  // proto-max-bulk-len, 512MiB by default).
  size_t max_bulk_bytes = size_t{64} << 20;
  // Longest inline request line, and longest `*N` / `$N` header line: more
  // is "too big inline request" / "too big (m)bulk count string" (Redis:
  // PROTO_INLINE_MAX_SIZE).
  size_t max_inline_bytes = size_t{64} << 10;
  // Most bytes one multibulk request may take, headers and CRLFs included:
  // more is "too big request".
  size_t max_request_bytes = size_t{64} << 20;
};

// Thread-compatible: one parser per connection, used by one thread at a time.
class RequestParser {
 public:
  enum class Result : uint8_t {
    kCommand,   // args() holds a complete command
    kNeedMore,  // every complete command has been returned; read more bytes
    kError,     // protocol error: see status(); the parser stays failed
  };

  // The buffer's initial size, and the size it returns to when idle after
  // a large request (Redis: PROTO_IOBUF_LEN).
  static constexpr size_t kInitialCapacity = 16 * 1024;
  // The least space PrepareWrite() offers by default: enough that a read
  // is never wastefully small, small enough that the partial request at
  // the end of a read moves to the front rather than the buffer growing.
  static constexpr size_t kMinWriteSpace = 4 * 1024;

  explicit RequestParser(const RequestParserOptions& options = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Returns writable space after the buffered bytes, at least `min_bytes`
  // long (more when a large bulk argument is awaited: the rest of it fits).
  // May move the buffered bytes: invalidates every view args() gave.
  absl::Span<char> PrepareWrite(size_t min_bytes = kMinWriteSpace);

  // Makes the first `n` bytes of the last PrepareWrite() span parseable.
  // REQUIRES: n <= that span's size, and no other call in between.
  void Commit(size_t n);

  // Copies `bytes` in: PrepareWrite + memcpy + Commit. Invalidates every
  // view args() gave.
  void Append(absl::string_view bytes);

  // Parses the next command. Commands complete before a protocol error are
  // all returned (kCommand) before kError is. Empty inline lines and `*0` /
  // `*-1` requests are skipped, as Redis does.
  Result Next();

  // The last command returned by Next(): name first, never empty. The span
  // is reused by the next Next(), but the bytes it views stay valid and
  // unchanged until the next PrepareWrite() or Append(): a caller may keep
  // the views of every command of one read and run them as a batch.
  // Binary-safe (inline requests reach any byte with \xHH).
  absl::Span<const absl::string_view> args() const { return args_; }

  // True when the last command came as an inline request (a telnet user, or
  // an HTTP request sent to the RESP port: see CommandId::kSecurityWarning).
  bool is_inline() const { return inline_; }

  // OK, or after kError an InvalidArgument status whose message is Redis's
  // text without "ERR ", e.g. "Protocol error: invalid bulk length".
  const absl::Status& status() const { return status_; }
  bool failed() const { return !status_.ok(); }

  // Committed bytes not yet returned as commands (a partial request).
  size_t buffered_bytes() const { return end_ - pos_; }
  // Size of the buffer: it shrinks back when idle after a large request.
  size_t capacity() const { return capacity_; }

 private:
  // Outcome of looking for the end of the line that starts at pos_.
  enum class LineResult : uint8_t { kFound, kIncomplete, kTooLong };

  LineResult FindLine(char delim, bool check_nul, size_t* at);
  // For a header line [pos_, at) that does not parse: true (and the line is
  // stuck) when a NUL in it would have hidden its end from Redis.
  bool EndHiddenByNul(size_t at);
  // A stuck line: kNeedMore until it is longer than max_inline_bytes.
  Result Stuck(absl::string_view too_big);
  Result ParseBulks();
  Result ParseInline();
  Result Fail(absl::string_view message);
  // Moves the unconsumed bytes [start_, end_) to `to` (which holds at least
  // end_ - start_ bytes) and rebases every offset and view.
  void Relocate(char* to);

  const RequestParserOptions options_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t start_ = 0;  // first byte of the request being parsed
  size_t pos_ = 0;    // next byte to parse
  size_t end_ = 0;    // end of the committed bytes
  size_t scan_ = 0;   // the search for the current line's end resumes here
  bool line_stuck_ = false;  // a NUL precedes the current line's end
  bool inline_ = false;
  int64_t args_left_ = 0;  // multibulk arguments still to read
  int64_t bulk_len_ = -1;  // length of the bulk being read; -1: header next
  std::vector<absl::string_view> args_;
  absl::Status status_;
};

}  // namespace nearcache::resp

#endif  // NEARCACHE_SRC_RESP_REQUEST_PARSER_H_
