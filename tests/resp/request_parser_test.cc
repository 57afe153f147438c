// The contract of RequestParser (src/resp/request_parser.h): it parses what
// redis-server 7 parses, the way it parses it, whatever the chunking of the
// stream. Expected texts and edge cases were checked against
// redis-server 7.0.15 (networking.c, sds.c's sdssplitargs).
#include "resp/request_parser.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nearcache::resp {
namespace {

using std::string_literals::operator""s;
using testing::ElementsAre;
using testing::IsEmpty;
using Command = std::vector<std::string>;
using Result = RequestParser::Result;

// The multibulk encoding redis-cli and hiredis send.
std::string Multibulk(const Command& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& arg : args) {
    absl::StrAppend(&out, "$", arg.size(), "\r\n", arg, "\r\n");
  }
  return out;
}

// An inline request quoting every byte that needs it, sdssplitargs-style.
std::string QuotedInline(const Command& args) {
  std::string out;
  for (const std::string& arg : args) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : arg) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20 || u >= 0x7f) {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out + "\r\n";
}

struct Parsed {
  std::vector<Command> commands;
  Result last = Result::kNeedMore;
  std::string error;
};

// Calls Next() until it stops returning commands; copies what it returns.
void Drain(RequestParser& parser, Parsed* parsed) {
  for (;;) {
    parsed->last = parser.Next();
    if (parsed->last != Result::kCommand) break;
    parsed->commands.emplace_back(parser.args().begin(), parser.args().end());
  }
  if (parsed->last == Result::kError) {
    parsed->error = std::string(parser.status().message());
  }
}

Parsed ParseAll(absl::string_view input, RequestParserOptions options = {}) {
  RequestParser parser(options);
  parser.Append(input);
  Parsed parsed;
  Drain(parser, &parsed);
  return parsed;
}

// Feeds `input` one byte at a time, draining after each.
Parsed ParseByteByByte(absl::string_view input,
                       RequestParserOptions options = {}) {
  RequestParser parser(options);
  Parsed parsed;
  for (char c : input) {
    parser.Append(absl::string_view(&c, 1));
    Drain(parser, &parsed);
    if (parsed.last == Result::kError) break;
  }
  return parsed;
}

std::string ErrorOf(absl::string_view input,
                    RequestParserOptions options = {}) {
  return ParseAll(input, options).error;
}

TEST(RequestParserTest, ParsesMultibulk) {
  RequestParser parser;
  parser.Append("*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n");
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("GET", "foo"));
  EXPECT_FALSE(parser.is_inline());
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  EXPECT_EQ(parser.buffered_bytes(), 0u);
  EXPECT_TRUE(parser.status().ok());
}

TEST(RequestParserTest, ParsesInline) {
  RequestParser parser;
  parser.Append("GET foo\r\nPING\n");
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("GET", "foo"));
  EXPECT_TRUE(parser.is_inline());
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("PING"));
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
}

TEST(RequestParserTest, ViewsStayValidUntilTheNextWrite) {
  // The front-end collects every command of one read, then runs them.
  RequestParser parser;
  parser.Append(
      "*2\r\n$3\r\nGET\r\n$1\r\na\r\nECHO \"\\x41b\"\r\n"
      "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n*1\r\n$3\r\nGE");
  std::vector<absl::string_view> kept;
  while (parser.Next() == Result::kCommand) {
    kept.insert(kept.end(), parser.args().begin(), parser.args().end());
  }
  EXPECT_THAT(kept, ElementsAre("GET", "a", "ECHO", "Ab", "GET", "c"));
}

TEST(RequestParserTest, WaitsForWholeRequest) {
  RequestParser parser;
  parser.Append("*2\r\n$3\r\nGET\r\n$3\r\nfo");
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  parser.Append("o\r");
  // Redis needs both bytes after the payload before it takes the argument.
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  parser.Append("\n");
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("GET", "foo"));
}

// A pipeline as redis-benchmark, redis-cli and a telnet user would mix it.
const std::string kPipeline =
    "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
    "PING\r\n"
    "\r\n"                       // empty inline line: skipped
    "*0\r\n"                     // skipped
    "*-1\r\n"                    // skipped
    "   \t \n"                   // blank inline line: skipped
    "SET  'a b'  \"c\\x00d\"\n"  // quoted inline words
    "*3\r\n$5\r\nHMGET\r\n$5\r\nk\0\r\nk\r\n$0\r\n\r\n"s
    "*1\r\n$4\r\nPING\r\n";

const std::vector<Command> kPipelineCommands = {
    {"GET", "foo"},
    {"PING"},
    {"SET", "a b", "c\0d"s},
    {"HMGET", "k\0\r\nk"s, ""},
    {"PING"},
};

TEST(RequestParserTest, PipelineAtOnce) {
  const Parsed parsed = ParseAll(kPipeline);
  EXPECT_EQ(parsed.commands, kPipelineCommands);
  EXPECT_EQ(parsed.last, Result::kNeedMore);
}

TEST(RequestParserTest, PipelineByteByByte) {
  const Parsed parsed = ParseByteByByte(kPipeline);
  EXPECT_EQ(parsed.commands, kPipelineCommands);
  EXPECT_EQ(parsed.last, Result::kNeedMore);
}

TEST(RequestParserTest, PipelineSplitAtEveryPoint) {
  for (size_t split = 0; split <= kPipeline.size(); ++split) {
    SCOPED_TRACE(absl::StrCat("split at ", split));
    RequestParser parser;
    Parsed parsed;
    parser.Append(absl::string_view(kPipeline).substr(0, split));
    Drain(parser, &parsed);
    parser.Append(absl::string_view(kPipeline).substr(split));
    Drain(parser, &parsed);
    EXPECT_EQ(parsed.commands, kPipelineCommands);
    EXPECT_EQ(parsed.last, Result::kNeedMore);
    EXPECT_EQ(parser.buffered_bytes(), 0u);
  }
}

TEST(RequestParserTest, BinarySafeBulks) {
  const std::string key = "\0\r\n$3\r\n*1\r\n\xff"s;
  const std::string value(300, '\0');
  const Parsed parsed = ParseAll(Multibulk({"SET", key, value}));
  ASSERT_EQ(parsed.commands.size(), 1u);
  EXPECT_EQ(parsed.commands[0], (Command{"SET", key, value}));
}

TEST(RequestParserTest, InlineQuotingLikeSdssplitargs) {
  struct Case {
    std::string line;
    Command args;
  };
  const std::vector<Case> cases = {
      {"ECHO \"hello world\"", {"ECHO", "hello world"}},
      {"ECHO 'hello world'", {"ECHO", "hello world"}},
      {"ECHO \"\\x41\\x4g\\n\"", {"ECHO", "Ax4g\n"}},  // checked on Redis
      {"ECHO \"\\xFF\\x00\"", {"ECHO", "\xff\0"s}},
      {"ECHO \"a\\\"b\\\\c\"", {"ECHO", "a\"b\\c"}},
      {"ECHO \"\\r\\t\\b\\a\\q\"", {"ECHO", "\r\t\b\aq"}},
      {"ECHO 'it\\'s'", {"ECHO", "it's"}},
      {"ECHO 'no\\nescape'", {"ECHO", "no\\nescape"}},
      {"ECHO ab\"cd\"", {"ECHO", "abcd"}},  // a quote may open mid-word
      {"ECHO ''", {"ECHO", ""}},
      {"ECHO \"\" x", {"ECHO", "", "x"}},
      {"  GET\tfoo  ", {"GET", "foo"}},
      {"GET a\vb", {"GET", "a\vb"}},  // \v only separates before a word
      {"\vGET", {"GET"}},
      {"GET a\rb", {"GET", "a", "b"}},
      {"ECHO \"x\"\t'y'", {"ECHO", "x", "y"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    for (const char* end : {"\r\n", "\n"}) {
      const Parsed parsed = ParseAll(c.line + end);
      EXPECT_EQ(parsed.last, Result::kNeedMore) << parsed.error;
      ASSERT_EQ(parsed.commands.size(), 1u);
      EXPECT_EQ(parsed.commands[0], c.args);
    }
  }
}

TEST(RequestParserTest, SkipsEmptyRequests) {
  const Parsed parsed = ParseAll("\n\r\n \t\r\n*0\r\n*-1\r\n*-7\r\nPING\n");
  EXPECT_THAT(parsed.commands, ElementsAre(Command{"PING"}));
}

TEST(RequestParserTest, ProtocolErrorTexts) {
  // The texts of redis-server 7.0.15.
  EXPECT_EQ(ErrorOf("*a\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*01\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*+1\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("* 1\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*1048577\r\n"),
            "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*99999999999999999999\r\n"),
            "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$x\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$-0\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$67108865\r\n"),
            "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\nx\r\n"), "Protocol error: expected '$', got 'x'");
  EXPECT_EQ(ErrorOf("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
  // %c of CR or LF, turned into a space by addReplyErrorFormat.
  EXPECT_EQ(ErrorOf("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
  EXPECT_EQ(ErrorOf("*1\r\n\n\r\n"), "Protocol error: expected '$', got ' '");
  EXPECT_EQ(ErrorOf("ECHO \"a\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO 'a\r\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO \"a\"x\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO 'a'x\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO \"a\\\"\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO 'a\\'\n"),
            "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("ECHO \"a\\\n"),
            "Protocol error: unbalanced quotes in request");
}

TEST(RequestParserTest, ErrorStatusIsInvalidArgument) {
  RequestParser parser;
  parser.Append("*x\r\n");
  EXPECT_EQ(parser.Next(), Result::kError);
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parser.args(), IsEmpty());
}

TEST(RequestParserTest, CommandsBeforeAnErrorComeFirst) {
  RequestParser parser;
  parser.Append("PING\r\n*1\r\n$4\r\nECHO\r\n*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("PING"));
  ASSERT_EQ(parser.Next(), Result::kCommand);
  EXPECT_THAT(parser.args(), ElementsAre("ECHO"));
  EXPECT_EQ(parser.Next(), Result::kError);
  EXPECT_EQ(parser.status().message(), "Protocol error: invalid bulk length");
  // Failed for good: what follows the error is never parsed.
  EXPECT_EQ(parser.Next(), Result::kError);
  parser.Append("PING\r\n");
  EXPECT_EQ(parser.Next(), Result::kError);
}

TEST(RequestParserTest, ErrorsAreTheSameByteByByte) {
  for (const std::string input :
       {"PING\n*1\r\n$x\r\n", "GET a\n*1\r\n:1\r\n", "ECHO\n*+1\r\n",
        "*1\r\n$1\r\na\r\nECHO 'x\n"}) {
    SCOPED_TRACE(input);
    const Parsed whole = ParseAll(input);
    const Parsed bytes = ParseByteByByte(input);
    EXPECT_EQ(whole.last, Result::kError);
    EXPECT_EQ(bytes.last, Result::kError);
    EXPECT_EQ(whole.error, bytes.error);
    EXPECT_EQ(whole.commands, bytes.commands);
    EXPECT_EQ(bytes.commands.size(), 1u);
  }
}

TEST(RequestParserTest, HeaderBytesAfterCrAreNotChecked) {
  // Redis skips the byte after a header's '\r', and the two bytes after a
  // payload, without looking at them.
  const Parsed parsed = ParseAll("*2\rX$3\r?GETxy$1\r\nkZZ");
  EXPECT_THAT(parsed.commands, ElementsAre(Command{"GET", "k"}));
}

TEST(RequestParserTest, TooBigMultibulkCountString) {
  // No '\r' within PROTO_INLINE_MAX_SIZE (64KiB) bytes of the line start.
  const std::string digits = "*" + std::string(65535, '1');
  EXPECT_EQ(ParseAll(digits).last, Result::kNeedMore);
  EXPECT_EQ(ErrorOf(digits + "1"),
            "Protocol error: too big mbulk count string");
  EXPECT_EQ(ParseAll(digits + "\r").last, Result::kNeedMore);
  EXPECT_EQ(ErrorOf(digits + "\r\n"),
            "Protocol error: invalid multibulk length");
  // Decided by the length of the line, not by how it arrived.
  EXPECT_EQ(ErrorOf(digits + "1\r\n"),
            "Protocol error: too big mbulk count string");
}

TEST(RequestParserTest, TooBigBulkCountString) {
  const std::string header = "*1\r\n$" + std::string(65535, '1');
  EXPECT_EQ(ParseAll(header).last, Result::kNeedMore);
  EXPECT_EQ(ErrorOf(header + "1"), "Protocol error: too big bulk count string");
  EXPECT_EQ(ErrorOf(header + "\r\n"), "Protocol error: invalid bulk length");
}

TEST(RequestParserTest, TooBigInlineRequest) {
  EXPECT_EQ(ParseAll(std::string(65536, 'x')).last, Result::kNeedMore);
  EXPECT_EQ(ErrorOf(std::string(65537, 'x')),
            "Protocol error: too big inline request");
  // 65536 bytes before the '\n' are allowed, CR included.
  const Parsed ok = ParseAll("ECHO " + std::string(65530, 'x') + "\r\n");
  ASSERT_EQ(ok.commands.size(), 1u);
  EXPECT_EQ(ok.commands[0][1].size(), 65530u);
  EXPECT_EQ(ErrorOf("ECHO " + std::string(65531, 'x') + "\r\n"),
            "Protocol error: too big inline request");
  // A long line fed byte by byte fails the same way.
  EXPECT_EQ(ParseByteByByte(std::string(70000, 'x')).error,
            "Protocol error: too big inline request");
}

TEST(RequestParserTest, NulBeforeEndOfLineNeverEnds) {
  // Redis finds line ends with strchr(), which stops at a NUL byte.
  EXPECT_EQ(ParseAll("PING\0\r\n"s).last, Result::kNeedMore);
  EXPECT_EQ(ParseAll("*1\0\r\n$4\r\nPING\r\n"s).last, Result::kNeedMore);
  EXPECT_EQ(ParseAll("*1\r\n$4\0\r\nPING\r\n"s).last, Result::kNeedMore);
  EXPECT_EQ(ErrorOf("PING\0\r\n"s + std::string(65536, 'x')),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf("*1\0\r\n"s + std::string(65536, 'x')),
            "Protocol error: too big mbulk count string");
}

TEST(RequestParserTest, LimitsFromOptions) {
  RequestParserOptions options;
  options.max_args = 2;
  options.max_bulk_bytes = 4;
  options.max_inline_bytes = 8;
  options.max_request_bytes = 20;
  EXPECT_EQ(ParseAll(Multibulk({"a", "b"}), options).commands.size(), 1u);
  EXPECT_EQ(ErrorOf(Multibulk({"a", "b", "c"}), options),
            "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseAll(Multibulk({"abcd"}), options).commands.size(), 1u);
  EXPECT_EQ(ErrorOf(Multibulk({"abcde"}), options),
            "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseAll("12345678\n", options).commands.size(), 1u);
  EXPECT_EQ(ErrorOf("123456789\n", options),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf("*1\r\n$123456789", options),
            "Protocol error: too big bulk count string");
  // "*2\r\n$2\r\nab\r\n$2\r\nab\r\n" is 20 bytes.
  EXPECT_EQ(ParseAll(Multibulk({"ab", "ab"}), options).commands.size(), 1u);
  EXPECT_EQ(ErrorOf(Multibulk({"ab", "abc"}), options),
            "Protocol error: too big request");
}

TEST(RequestParserTest, TooBigRequestIsRefusedBeforeItsPayload) {
  RequestParserOptions options;
  options.max_request_bytes = 1000;
  RequestParser parser(options);
  parser.Append("*2\r\n$3\r\nSET\r\n$2000\r\n");
  EXPECT_EQ(parser.Next(), Result::kError);
  EXPECT_EQ(parser.status().message(), "Protocol error: too big request");
}

TEST(RequestParserTest, LargeBulkIsReadInPlace) {
  constexpr size_t kSize = 3 << 20;
  RequestParser parser;
  parser.Append(absl::StrCat("*2\r\n$3\r\nSET\r\n$", kSize, "\r\n"));
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  // The whole payload fits in the next span: one read can bring it all,
  // straight where the argument will point.
  absl::Span<char> space = parser.PrepareWrite();
  ASSERT_GE(space.size(), kSize + 2);
  const char* const payload = space.data();
  std::memset(space.data(), 'v', kSize);
  std::memcpy(space.data() + kSize, "\r\n", 2);
  parser.Commit(kSize + 2);
  ASSERT_EQ(parser.Next(), Result::kCommand);
  ASSERT_EQ(parser.args().size(), 2u);
  EXPECT_EQ(parser.args()[0], "SET");
  EXPECT_EQ(parser.args()[1].data(), payload);
  EXPECT_EQ(parser.args()[1], std::string(kSize, 'v'));
  // Once idle, the buffer goes back to its usual size.
  EXPECT_EQ(parser.Next(), Result::kNeedMore);
  parser.PrepareWrite();
  EXPECT_EQ(parser.capacity(), RequestParser::kInitialCapacity);
}

TEST(RequestParserTest, LargeBulkInSmallReads) {
  constexpr size_t kSize = 1 << 20;
  const std::string value(kSize, 'q');
  const std::string input = Multibulk({"SET", "k", value});
  RequestParser parser;
  size_t grown = 0;
  size_t capacity = parser.capacity();
  Parsed parsed;
  for (size_t off = 0; off < input.size(); off += 1000) {
    const size_t n = std::min<size_t>(1000, input.size() - off);
    absl::Span<char> space = parser.PrepareWrite(n);
    std::memcpy(space.data(), input.data() + off, n);
    parser.Commit(n);
    if (parser.capacity() != capacity) {
      ++grown;
      capacity = parser.capacity();
    }
    Drain(parser, &parsed);
  }
  ASSERT_EQ(parsed.commands.size(), 1u);
  EXPECT_EQ(parsed.commands[0][2], value);
  // Once the header is parsed the buffer is sized for the payload at once:
  // the initial allocation, then a single growth.
  EXPECT_LE(grown, 2u);
}

TEST(RequestParserTest, SteadyStateKeepsItsBuffer) {
  // A long pipeline of small commands read in socket-sized pieces: the
  // partial command at the end of each read moves to the front, the buffer
  // never grows.
  std::string input;
  for (int i = 0; i < 20000; ++i) {
    input += Multibulk({"HMGET", absl::StrCat("key", i), "f1", "f2"});
  }
  RequestParser parser;
  Parsed parsed;
  for (size_t off = 0; off < input.size();) {
    absl::Span<char> space = parser.PrepareWrite();
    const size_t n = std::min({space.size(), input.size() - off, size_t{4000}});
    std::memcpy(space.data(), input.data() + off, n);
    parser.Commit(n);
    off += n;
    Drain(parser, &parsed);
  }
  ASSERT_EQ(parsed.commands.size(), 20000u);
  EXPECT_EQ(parsed.commands[19999], (Command{"HMGET", "key19999", "f1", "f2"}));
  EXPECT_EQ(parser.capacity(), RequestParser::kInitialCapacity);
}

TEST(RequestParserTest, PartialCommandSurvivesRelocation) {
  // The first arguments of a request are parsed, then the buffer moves.
  const std::string big(40000, 'b');
  const std::string input =
      Multibulk({"PING"}) + Multibulk({"SET", "key", big, "tail"});
  RequestParser parser;
  Parsed parsed;
  const size_t first = input.size() - 100;
  parser.Append(input.substr(0, first));
  Drain(parser, &parsed);
  parser.Append(input.substr(first));
  Drain(parser, &parsed);
  EXPECT_THAT(parsed.commands,
              ElementsAre(Command{"PING"}, Command{"SET", "key", big, "tail"}));
}

// Encodes random commands, multibulk or inline, feeds them in random
// chunks, and expects them back unchanged.
TEST(RequestParserTest, RandomRoundTrip) {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 200; ++round) {
    std::vector<Command> commands;
    std::string stream;
    const int count = std::uniform_int_distribution<int>(1, 60)(rng);
    for (int i = 0; i < count; ++i) {
      Command args(std::uniform_int_distribution<int>(1, 6)(rng));
      for (std::string& arg : args) {
        const int kind = std::uniform_int_distribution<int>(0, 20)(rng);
        size_t len = std::uniform_int_distribution<size_t>(0, 40)(rng);
        if (kind == 0)
          len = std::uniform_int_distribution<size_t>(0, 70000)(rng);
        arg.resize(len);
        for (char& c : arg) {
          c = static_cast<char>(
              std::uniform_int_distribution<int>(0, 255)(rng));
        }
      }
      const bool as_inline = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
      std::string encoded = as_inline ? QuotedInline(args) : Multibulk(args);
      if (as_inline && encoded.size() > 65536) encoded = Multibulk(args);
      stream += encoded;
      commands.push_back(std::move(args));
    }
    RequestParser parser;
    Parsed parsed;
    for (size_t off = 0; off < stream.size();) {
      const size_t n =
          std::min(stream.size() - off,
                   std::uniform_int_distribution<size_t>(1, 5000)(rng));
      if (std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
        parser.Append(absl::string_view(stream).substr(off, n));
      } else {
        absl::Span<char> space = parser.PrepareWrite(n);
        ASSERT_GE(space.size(), n);
        std::memcpy(space.data(), stream.data() + off, n);
        parser.Commit(n);
      }
      off += n;
      Drain(parser, &parsed);
      ASSERT_NE(parsed.last, Result::kError) << parsed.error;
    }
    ASSERT_EQ(parsed.commands.size(), commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      ASSERT_EQ(parsed.commands[i], commands[i])
          << "round " << round << " #" << i;
    }
    EXPECT_EQ(parser.buffered_bytes(), 0u);
  }
}

}  // namespace
}  // namespace nearcache::resp
