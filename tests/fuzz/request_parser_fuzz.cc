// libFuzzer target for resp::RequestParser (src/resp/request_parser.h).
//
// Input layout: 4 header bytes, then the byte stream a client sends.
//   byte 0  max_args (bits 0-2) and max_bulk_bytes (bits 3-5)
//   byte 1  max_inline_bytes (bits 0-2) and max_request_bytes (bits 3-5)
//   byte 2  how the stream is cut into reads (bits 0-1), how often the
//           parser is drained between reads (bits 2-3)
//   byte 3  seed of the chunk sizes
// The limits are small most of the time, so that every limit is hit.
//
// Checked, besides ASan/UBSan:
//   - every kCommand has at least one argument, and each argument lies in the
//     parser's committed bytes;
//   - the views of every command of one read keep their bytes until the next
//     PrepareWrite (the front-end runs a read's commands as one batch);
//   - after kError the parser stays failed, whatever is fed to it next;
//   - the outcome does not depend on how the stream was cut: the commands,
//     their inline flags, the final result, the error text and the bytes
//     left buffered are those of a parser given the whole stream at once.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "resp/request_parser.h"

namespace nearcache::resp {
namespace {

using Result = RequestParser::Result;

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

constexpr size_t kArgs[] = {1, 2, 3, 4, 8, 64, 1024, 1048576};
constexpr size_t kBulk[] = {0, 1, 3, 16, 100, 4096, 70000, size_t{64} << 20};
constexpr size_t kInline[] = {0, 1, 2, 7, 32, 300, 4096, size_t{64} << 10};
constexpr size_t kRequest[] = {1,    8,     24,    64,
                               1000, 20000, 70000, size_t{64} << 20};

struct Command {
  std::vector<std::string> args;
  bool is_inline = false;
  bool operator==(const Command&) const = default;
};

struct Outcome {
  std::vector<Command> commands;
  Result last = Result::kNeedMore;
  std::string error;
  size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

// A small deterministic generator for chunk sizes.
struct Rng {
  uint32_t state;
  uint32_t Next() {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  }
};

class Harness {
 public:
  explicit Harness(const RequestParserOptions& options) : parser_(options) {}

  // Copies `bytes` in through PrepareWrite/Commit, as a socket read would.
  void Feed(absl::string_view bytes, size_t min_bytes) {
    absl::Span<char> space = parser_.PrepareWrite(min_bytes);
    FUZZ_CHECK(space.size() >= min_bytes);
    FUZZ_CHECK(space.size() >= bytes.size());
    // The buffer is [begin_, begin_ + capacity): the span ends at its end.
    begin_ = space.data() + space.size() - parser_.capacity();
    std::memcpy(space.data(), bytes.data(), bytes.size());
    parser_.Commit(bytes.size());
    committed_end_ = space.data() + bytes.size();
    batch_views_.clear();
    batch_copies_.clear();
    if (failed_) FUZZ_CHECK(parser_.Next() == Result::kError);
  }

  // Calls Next() until it stops returning commands.
  void Drain(Outcome* out) {
    for (;;) {
      const Result r = parser_.Next();
      if (failed_) FUZZ_CHECK(r == Result::kError);
      if (r == Result::kError) {
        FUZZ_CHECK(parser_.failed());
        FUZZ_CHECK(!parser_.status().ok());
        failed_ = true;
        out->last = r;
        out->error = std::string(parser_.status().message());
        out->buffered = 0;
        FUZZ_CHECK(parser_.Next() == Result::kError);
        break;
      }
      FUZZ_CHECK(!parser_.failed());
      if (r == Result::kNeedMore) {
        out->last = r;
        out->buffered = parser_.buffered_bytes();
        break;
      }
      FUZZ_CHECK(r == Result::kCommand);
      const absl::Span<const absl::string_view> args = parser_.args();
      FUZZ_CHECK(!args.empty());
      Command command;
      command.is_inline = parser_.is_inline();
      for (absl::string_view arg : args) {
        FUZZ_CHECK(arg.data() >= begin_);
        FUZZ_CHECK(arg.data() + arg.size() <= committed_end_);
        command.args.emplace_back(arg);
        batch_views_.push_back(arg);
        batch_copies_.emplace_back(arg);
      }
      out->commands.push_back(std::move(command));
    }
    // Every view of this read still shows what it showed when returned.
    for (size_t i = 0; i < batch_views_.size(); ++i) {
      FUZZ_CHECK(batch_views_[i] == batch_copies_[i]);
    }
  }

  bool failed() const { return failed_; }

 private:
  RequestParser parser_;
  const char* begin_ = nullptr;
  const char* committed_end_ = nullptr;
  bool failed_ = false;
  std::vector<absl::string_view> batch_views_;
  std::vector<std::string> batch_copies_;
};

Outcome ParseWhole(const RequestParserOptions& options,
                   absl::string_view stream) {
  Harness h(options);
  Outcome out;
  if (!stream.empty()) h.Feed(stream, stream.size());
  h.Drain(&out);
  return out;
}

Outcome ParseChunked(const RequestParserOptions& options,
                     absl::string_view stream, uint8_t mode, uint8_t seed) {
  Harness h(options);
  Outcome out;
  Rng rng{0x9e3779b9u ^ seed};
  const int cut = mode & 3;
  const int drain = (mode >> 2) & 3;  // 0: always; else 1 in (drain + 1)
  size_t at = 0;
  while (at < stream.size()) {
    size_t n;
    switch (cut) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 1 + rng.Next() % 8;
        break;
      case 2:
        n = 1 + rng.Next() % 512;
        break;
      default:
        n = 1 + rng.Next() % 65536;
        break;
    }
    n = std::min(n, stream.size() - at);
    size_t min_bytes = n;
    switch (rng.Next() % 4) {
      case 0:
        min_bytes = RequestParser::kMinWriteSpace;
        break;
      case 1:
        min_bytes = n + rng.Next() % 64;
        break;
      default:
        break;
    }
    if (min_bytes < n) min_bytes = n;
    h.Feed(stream.substr(at, n), min_bytes);
    at += n;
    if (drain == 0 || rng.Next() % (drain + 1) == 0 || at == stream.size()) {
      h.Drain(&out);
    }
  }
  if (stream.empty()) h.Drain(&out);
  // A failed parser stays failed, whatever comes next.
  if (h.failed()) {
    h.Feed("*1\r\n$4\r\nPING\r\nPING\r\n", 1);
    Outcome more;
    h.Drain(&more);
    FUZZ_CHECK(more.commands.empty());
    FUZZ_CHECK(more.last == Result::kError);
    FUZZ_CHECK(more.error == out.error);
  }
  return out;
}

}  // namespace
}  // namespace nearcache::resp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nearcache::resp;
  if (size < 4) return 0;
  RequestParserOptions options;
  options.max_args = kArgs[data[0] & 7];
  options.max_bulk_bytes = kBulk[(data[0] >> 3) & 7];
  options.max_inline_bytes = kInline[data[1] & 7];
  options.max_request_bytes = kRequest[(data[1] >> 3) & 7];
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 4,
                                 size - 4);
  const Outcome whole = ParseWhole(options, stream);
  const Outcome chunked = ParseChunked(options, stream, data[2], data[3]);
  if (!(whole == chunked)) {
    std::fprintf(stderr,
                 "outcome depends on the chunking: whole %zu commands, last "
                 "%d, error '%s', buffered %zu; chunked %zu commands, last "
                 "%d, error '%s', buffered %zu\n",
                 whole.commands.size(), static_cast<int>(whole.last),
                 whole.error.c_str(), whole.buffered, chunked.commands.size(),
                 static_cast<int>(chunked.last), chunked.error.c_str(),
                 chunked.buffered);
    std::abort();
  }
  return 0;
}
