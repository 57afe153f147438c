// The RESP codec on the front-end's hot path: parsing a GET, a pipeline of
// 16 GETs, a Feast-style HMGET with binary keys, and writing replies. The
// parser benchmarks include the copy into its buffer (what read() does), so
// bytes_per_second is the rate at which one core could decode a socket.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "benchmark/benchmark.h"
#include "resp/command.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"

namespace nearcache::resp {
namespace {

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& arg : args) {
    absl::StrAppend(&out, "$", arg.size(), "\r\n", arg, "\r\n");
  }
  return out;
}

// Appends `input` as one read would, then takes every command out of it.
void ParseLoop(benchmark::State& state, const std::string& input,
               int commands_per_input) {
  RequestParser parser;
  size_t args = 0;
  for (auto _ : state) {
    parser.Append(input);
    while (parser.Next() == RequestParser::Result::kCommand) {
      args += parser.args().size();
    }
  }
  benchmark::DoNotOptimize(args);
  state.SetItemsProcessed(state.iterations() * commands_per_input);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(input.size()));
}

void BM_ParseGet(benchmark::State& state) {
  ParseLoop(state, Multibulk({"GET", "user:1234567:features"}), 1);
}
BENCHMARK(BM_ParseGet);

void BM_ParsePipelineOf16Gets(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 16; ++i) {
    input += Multibulk({"GET", absl::StrCat("user:", 1234500 + i, ":f")});
  }
  ParseLoop(state, input, 16);
}
BENCHMARK(BM_ParsePipelineOf16Gets);

void BM_ParseFeastHmget(benchmark::State& state) {
  // A Feast online read: binary entity key, 4-byte field hashes, _ts field.
  static constexpr char kEntityKey[] =
      "\x02\x00\x00\x00user_id\x00\x04\x00\x00\x00\x39\x30\x00";
  std::vector<std::string> args = {
      "HMGET", std::string(kEntityKey, sizeof(kEntityKey) - 1)};
  for (int i = 0; i < 8; ++i) {
    args.push_back(std::string("\x9a\x00\x7f", 3) + static_cast<char>(i));
  }
  args.push_back("_ts:driver_hourly_stats");
  ParseLoop(state, Multibulk(args), 1);
}
BENCHMARK(BM_ParseFeastHmget);

void BM_ParseInlinePing(benchmark::State& state) {
  ParseLoop(state, "PING\r\n", 1);
}
BENCHMARK(BM_ParseInlinePing);

void BM_LookupCommand(benchmark::State& state) {
  const std::vector<absl::string_view> names = {"GET", "hmget", "MGET", "ping"};
  size_t i = 0;
  for (auto _ : state) {
    const CommandInfo* info = FindCommand(names[i++ & 3]);
    benchmark::DoNotOptimize(info);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupCommand);

void BM_WriteBulk1KiB(benchmark::State& state) {
  const std::string value(1024, 'v');
  ReplyWriter out;
  for (auto _ : state) {
    out.AppendBulk(value);
    out.Consume(out.size());  // a write that sent everything
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 1031);
}
BENCHMARK(BM_WriteBulk1KiB);

void BM_WriteSharedBulk(benchmark::State& state) {
  // A cache hit written from the cached bytes: copied below
  // kMinBorrowBytes, referenced above.
  auto value = std::make_shared<const std::string>(
      static_cast<size_t>(state.range(0)), 'v');
  ReplyWriter out;
  std::vector<absl::string_view> chunks;
  for (auto _ : state) {
    out.AppendBulkShared(*value, value);
    out.GetChunks(&chunks);
    benchmark::DoNotOptimize(chunks.data());
    out.Consume(out.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteSharedBulk)->Arg(1024)->Arg(64 * 1024)->Arg(1 << 20);

void BM_WriteHmgetReply(benchmark::State& state) {
  // The reply to the Feast HMGET above: 9 small bulks.
  const std::string field(12, 'f');
  ReplyWriter out;
  for (auto _ : state) {
    out.AppendArrayHeader(9);
    for (int i = 0; i < 9; ++i) out.AppendBulk(field);
    out.Consume(out.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteHmgetReply);

void BM_WriteInteger(benchmark::State& state) {
  ReplyWriter out;
  int64_t n = 1234567;
  for (auto _ : state) {
    out.AppendInteger(n++);
    out.Consume(out.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WriteInteger);

}  // namespace
}  // namespace nearcache::resp

BENCHMARK_MAIN();
