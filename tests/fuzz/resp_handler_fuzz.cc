// libFuzzer target for the RESP front-end's command execution: the bytes a
// client sends go through RequestParser and RespHandler as in a RespServer
// session (src/server/resp_server.cc), without the socket, against a
// FakeFetcher (tests/fuzz/fake_fetcher.h).
//
// Input layout: byte 0 seeds how the stream is cut into reads, the rest is
// the stream. The whole session runs twice: against an empty cache, then,
// on a fresh connection, with the entries past their ttl and Redis down.
//
// Checked, besides ASan/UBSan: Run() never throws; each batch gets exactly
// one reply per command it queued, and the output is RESP2 that hiredis's
// reader parses; a protocol error ends the session with one error reply.
#include <hiredis/hiredis.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "nearcache/cache.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"
#include "server/resp_handler.h"
#include "service/lookup_counters.h"
#include "tests/fakes/manual_clock.h"
#include "tests/fuzz/fake_fetcher.h"

namespace nearcache {
namespace {

namespace asio = boost::asio;

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

// Runs the queued commands of `handler`, as the session's co_await does.
void Run(RespHandler& handler, resp::ReplyWriter* out) {
  asio::io_context io;
  bool done = false;
  asio::co_spawn(io, handler.Run(out), [&](std::exception_ptr e) {
    if (e) {
      std::fprintf(stderr, "RespHandler::Run threw\n");
      std::abort();
    }
    done = true;
  });
  io.run();
  FUZZ_CHECK(done);
}

// Parses `bytes` with hiredis's reader; returns how many replies they hold.
size_t CountReplies(absl::string_view bytes) {
  redisReader* reader = redisReaderCreate();
  FUZZ_CHECK(reader != nullptr);
  FUZZ_CHECK(redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK);
  size_t n = 0;
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
      std::fprintf(stderr, "reply is not RESP: %s\n", reader->errstr);
      std::abort();
    }
    if (reply == nullptr) break;
    ++n;
    freeReplyObject(reply);
  }
  // Nothing is left half-written.
  FUZZ_CHECK(reader->pos == reader->len);
  redisReaderFree(reader);
  return n;
}

void Session(FrontendContext* context, absl::string_view stream, uint8_t seed) {
  resp::RequestParserOptions options;
  options.max_bulk_bytes = 1 << 16;
  options.max_request_bytes = 1 << 18;
  resp::RequestParser parser(options);
  RespHandler handler(context);
  resp::ReplyWriter out;
  uint32_t rng = 0x12345u ^ seed;
  size_t at = 0;
  while (at < stream.size()) {
    rng = rng * 1664525u + 1013904223u;
    const size_t n = std::min<size_t>(stream.size() - at,
                                      seed & 1 ? 1 + (rng >> 8) % 64 : 4096);
    absl::Span<char> space = parser.PrepareWrite(n);
    std::memcpy(space.data(), stream.data() + at, n);
    parser.Commit(n);
    at += n;

    const auto [stop, protocol_error] = handler.AddParsed(parser);
    const size_t commands = handler.size();
    if (!handler.empty()) Run(handler, &out);
    FUZZ_CHECK(handler.empty());
    if (protocol_error) out.AppendError(parser.status().message());
    const std::string written = out.ToString();
    out.Consume(out.size());
    FUZZ_CHECK(CountReplies(written) == commands + (protocol_error ? 1 : 0));
    if (stop || handler.close_after_write()) break;
  }
}

}  // namespace
}  // namespace nearcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nearcache;
  if (size < 1) return 0;
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 1,
                                 size - 1);
  ManualClock clock;
  CacheOptions options;
  options.max_bytes = 1 << 20;
  options.num_shards = 2;
  ShardedLruCache cache(options, &clock);
  FakeFetcher fetcher(&cache);
  LookupCounters counters;
  FrontendContext context;
  context.cache = &cache;
  context.fetcher = &fetcher;
  context.counters = &counters;
  context.version = "0.0.0-fuzz";
  context.started = absl::UnixEpoch();

  Session(&context, stream, data[0]);
  clock.Advance(options.ttl + absl::Seconds(1));
  fetcher.set_down(true);
  Session(&context, stream, data[0]);
  return 0;
}
