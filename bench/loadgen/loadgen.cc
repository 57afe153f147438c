// nc_loadgen: a load generator for nearcache and redis-server.
//
// A few threads (--threads) each drive many nonblocking connections with
// epoll. Closed loop by default: every connection keeps --pipeline requests
// in flight and sends the next one when a reply has been parsed. With
// --rate the load is open loop: requests are issued on a fixed schedule and
// latency is measured from when each request was due, so a stalled server
// is not hidden by a stalled client (no coordinated omission).
//
// Latency is measured per request, from the write() that sent it to the
// read() that completed its reply, into a log-linear histogram (~1%).
// Reads go to the target; writes (--read-ratio < 1) go to --write-socket /
// --write-host:--write-port when given (nearcache is read-only), else to
// the target.
//
// Keys are <prefix><12-digit index>, the same as redis-benchmark's
// "key:__rand_int__" with -r, so both tools read the same preloaded keys.
//
// For fault tests (tests/fault_matrix, bench/fault_matrix.sh), GET runs can
// warm every key first (--warm: read once through the target; errors are
// then counted apart for keys that were warmed, i.e. cached by a cache
// under test) and check the values they get: --generation N writes values
// "v<N>:<key>:<padding>", and --min-generation N / --expect-nil count every
// reply older than generation N (or any value at all) as an old value.
//
// Run with --help for the options.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/net_util.h"
#include "loadgen/histogram.h"
#include "loadgen/reply_scanner.h"

namespace nearcache::bench {
namespace {

// ---------------------------------------------------------------- options

using Endpoint = NetAddress;

enum class Protocol { kResp, kHttp };

enum class Op {
  kGet,      // GET key                      | HTTP GET /v1/keys/key
  kMget,     // MGET key... (batch keys)     | HTTP POST /v1/lookup
  kHgetall,  // HGETALL key                  | HTTP GET /v1/hashes/key
  kHget,     // HGET key f0
  kHmget,    // HMGET key f0..f{fields-1}
  kExists,   // EXISTS key
  kPing,     // PING
};

struct Options {
  Endpoint target;
  Endpoint write_target;  // invalid: writes go to the target
  Protocol protocol = Protocol::kResp;
  int connections = 50;
  int pipeline = 1;
  int threads = 1;
  uint64_t keys = 10000;
  std::string key_prefix = "key:";
  bool zipf = false;
  double zipf_s = 0.99;
  size_t value_size = 1024;
  size_t value_size_max = 0;  // > value_size: sizes uniform in between
  int hash_fields = 4;
  double read_ratio = 1.0;
  double duration_s = 10;
  uint64_t requests = 0;  // > 0: stop after this many (measured) requests
  double warmup_s = 0;
  double rate = 0;  // > 0: open loop, requests per second in total
  Op op = Op::kGet;
  int batch = 1;  // keys per MGET / lookup
  std::string command_name = "GET";
  bool preload = false;
  bool preload_only = false;
  std::string json_path;
  uint64_t seed = 1;
  bool quiet = false;
  // Fault tests (GET over RESP only).
  bool warm = false;        // read every key once before the load
  std::string ready_file;   // created when the load starts
  int64_t generation = -1;  // >= 0: values are "v<gen>:<key>:<padding>"
  bool verify = false;      // check every GET value's key and generation
  uint64_t min_generation = 0;
  bool expect_nil = false;  // every value (not nil) counts as old
};

constexpr char kUsage[] = R"(usage: nc_loadgen [options]

Target (reads):
  --socket PATH            Unix socket of the server under test
  --host HOST --port N     TCP instead (default host 127.0.0.1)
  --protocol resp|http     default resp; http speaks nearcache's HTTP/JSON API
Writes (SET, and --preload):
  --write-socket PATH | --write-host HOST --write-port N
                           default: the target (nearcache is read-only: point
                           these at redis-server)
Load:
  --connections N          default 50
  --pipeline N             requests in flight per connection, default 1
  --threads N              event-loop threads, default 1
  --duration SECONDS       default 10 (ignored with --requests)
  --requests N             stop after N measured requests
  --warmup SECONDS         run this long before measuring, default 0
  --rate RPS               open loop at RPS requests/s in total (latency from
                           the due time); default closed loop
Requests:
  --command C              GET (default), MGET:n, HGETALL, HGET, HMGET,
                           EXISTS, PING; with --protocol http: GET
                           (/v1/keys/K), HGETALL (/v1/hashes/K), LOOKUP:n
                           (POST /v1/lookup with n keys)
  --read-ratio R           fraction of reads, the rest are SETs, default 1
  --keys N                 key space, default 10000
  --key-prefix P           default "key:"; keys are P + 12-digit index, as
                           redis-benchmark -r makes them
  --distribution uniform|zipf   default uniform
  --zipf-s S               Zipf exponent, default 0.99
  --value-size N           bytes per value for SET/--preload, default 1024
  --value-size-max N       values uniform in [value-size, N] instead
  --hash-fields N          fields per hash (HGETALL/HGET/HMGET), default 4
  --seed N                 default 1
Fault tests (GET; --warm over RESP only):
  --warm                   before the load, read every key once through the
                           target; "errors_warmed" then counts error replies
                           to keys that returned a value then (cached by the
                           cache under test), "errors_cold" the others
  --ready-file PATH        create PATH when the load starts (after --warm
                           and every connect)
  --generation N           values written (SET, --preload) are
                           "v<N>:<key>:" padded to --value-size
  --verify                 check each GET value is "v<gen>:<key>:..." for the
                           key asked ("wrong_values" otherwise)
  --min-generation N       with --verify: values of a generation below N
                           count as "old_values"
  --expect-nil             with --verify: any value (not nil) counts as an
                           old value (after FLUSHALL, say)
                           Over HTTP, replies nearcache marks
                           "X-Cache-Status: STALE" are counted apart
                           ("stale_replies", "stale_old_values"): old values
                           served as fresh are "old_values", and nils (404)
                           not marked stale are "fresh_nils"
Other:
  --preload                first write every key (SET, or HSET for the hash
                           commands) to the write target
  --preload-only           preload, then exit
  --json FILE              also write the results as JSON ("-": stdout)
  --quiet                  no text report
)";

double ParseDouble(const char* flag, const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !std::isfinite(v)) {
    Die(std::string("bad value for ") + flag + ": " + s);
  }
  return v;
}

uint64_t ParseUint(const char* flag, const char* s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || s[0] == '-') {
    Die(std::string("bad value for ") + flag + ": " + s);
  }
  return v;
}

void ParseCommand(Options* o, std::string c) {
  for (char& ch : c) ch = static_cast<char>(std::toupper(ch));
  o->command_name = c;
  std::string name = c;
  int n = 1;
  const size_t sep = c.find_first_of(":(");
  if (sep != std::string::npos) {
    name = c.substr(0, sep);
    std::string num = c.substr(sep + 1);
    if (!num.empty() && num.back() == ')') num.pop_back();
    n = static_cast<int>(ParseUint("--command", num.c_str()));
    if (n < 1 || n > 100000) Die("batch size out of range: " + c);
  }
  o->batch = n;
  if (name == "GET") {
    o->op = Op::kGet;
  } else if (name == "MGET" || name == "LOOKUP") {
    o->op = Op::kMget;
  } else if (name == "HGETALL") {
    o->op = Op::kHgetall;
  } else if (name == "HGET") {
    o->op = Op::kHget;
  } else if (name == "HMGET") {
    o->op = Op::kHmget;
  } else if (name == "EXISTS") {
    o->op = Op::kExists;
  } else if (name == "PING") {
    o->op = Op::kPing;
  } else {
    Die("unknown --command " + c);
  }
}

Options ParseOptions(int argc, char** argv) {
  enum {
    kSocket = 1000,
    kHost,
    kPort,
    kProtocol,
    kWriteSocket,
    kWriteHost,
    kWritePort,
    kConnections,
    kPipeline,
    kThreads,
    kDuration,
    kRequests,
    kWarmup,
    kRate,
    kCommand,
    kReadRatio,
    kKeys,
    kKeyPrefix,
    kDistribution,
    kZipfS,
    kValueSize,
    kValueSizeMax,
    kHashFields,
    kSeed,
    kPreload,
    kPreloadOnly,
    kJson,
    kQuiet,
    kWarm,
    kReadyFile,
    kGeneration,
    kVerify,
    kMinGeneration,
    kExpectNil,
    kHelp,
  };
  static const option kLong[] = {
      {"socket", required_argument, nullptr, kSocket},
      {"host", required_argument, nullptr, kHost},
      {"port", required_argument, nullptr, kPort},
      {"protocol", required_argument, nullptr, kProtocol},
      {"write-socket", required_argument, nullptr, kWriteSocket},
      {"write-host", required_argument, nullptr, kWriteHost},
      {"write-port", required_argument, nullptr, kWritePort},
      {"connections", required_argument, nullptr, kConnections},
      {"pipeline", required_argument, nullptr, kPipeline},
      {"threads", required_argument, nullptr, kThreads},
      {"duration", required_argument, nullptr, kDuration},
      {"requests", required_argument, nullptr, kRequests},
      {"warmup", required_argument, nullptr, kWarmup},
      {"rate", required_argument, nullptr, kRate},
      {"command", required_argument, nullptr, kCommand},
      {"read-ratio", required_argument, nullptr, kReadRatio},
      {"keys", required_argument, nullptr, kKeys},
      {"key-prefix", required_argument, nullptr, kKeyPrefix},
      {"distribution", required_argument, nullptr, kDistribution},
      {"zipf-s", required_argument, nullptr, kZipfS},
      {"value-size", required_argument, nullptr, kValueSize},
      {"value-size-max", required_argument, nullptr, kValueSizeMax},
      {"hash-fields", required_argument, nullptr, kHashFields},
      {"seed", required_argument, nullptr, kSeed},
      {"preload", no_argument, nullptr, kPreload},
      {"preload-only", no_argument, nullptr, kPreloadOnly},
      {"json", required_argument, nullptr, kJson},
      {"quiet", no_argument, nullptr, kQuiet},
      {"warm", no_argument, nullptr, kWarm},
      {"ready-file", required_argument, nullptr, kReadyFile},
      {"generation", required_argument, nullptr, kGeneration},
      {"verify", no_argument, nullptr, kVerify},
      {"min-generation", required_argument, nullptr, kMinGeneration},
      {"expect-nil", no_argument, nullptr, kExpectNil},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  bool have_write_host = false;
  for (;;) {
    const int c = getopt_long(argc, argv, "", kLong, nullptr);
    if (c == -1) break;
    const char* a = optarg;
    switch (c) {
      case kSocket:
        o.target.unix_path = a;
        break;
      case kHost:
        o.target.host = a;
        break;
      case kPort:
        o.target.port = std::to_string(ParseUint("--port", a));
        break;
      case kProtocol:
        if (std::string_view(a) == "resp") {
          o.protocol = Protocol::kResp;
        } else if (std::string_view(a) == "http") {
          o.protocol = Protocol::kHttp;
        } else {
          Die("--protocol is resp or http");
        }
        break;
      case kWriteSocket:
        o.write_target.unix_path = a;
        break;
      case kWriteHost:
        o.write_target.host = a;
        have_write_host = true;
        break;
      case kWritePort:
        o.write_target.port = std::to_string(ParseUint("--write-port", a));
        break;
      case kConnections:
        o.connections = static_cast<int>(ParseUint("--connections", a));
        break;
      case kPipeline:
        o.pipeline = static_cast<int>(ParseUint("--pipeline", a));
        break;
      case kThreads:
        o.threads = static_cast<int>(ParseUint("--threads", a));
        break;
      case kDuration:
        o.duration_s = ParseDouble("--duration", a);
        break;
      case kRequests:
        o.requests = ParseUint("--requests", a);
        break;
      case kWarmup:
        o.warmup_s = ParseDouble("--warmup", a);
        break;
      case kRate:
        o.rate = ParseDouble("--rate", a);
        break;
      case kCommand:
        ParseCommand(&o, a);
        break;
      case kReadRatio:
        o.read_ratio = ParseDouble("--read-ratio", a);
        break;
      case kKeys:
        o.keys = ParseUint("--keys", a);
        break;
      case kKeyPrefix:
        o.key_prefix = a;
        break;
      case kDistribution:
        if (std::string_view(a) == "uniform") {
          o.zipf = false;
        } else if (std::string_view(a) == "zipf") {
          o.zipf = true;
        } else {
          Die("--distribution is uniform or zipf");
        }
        break;
      case kZipfS:
        o.zipf_s = ParseDouble("--zipf-s", a);
        break;
      case kValueSize:
        o.value_size = ParseUint("--value-size", a);
        break;
      case kValueSizeMax:
        o.value_size_max = ParseUint("--value-size-max", a);
        break;
      case kHashFields:
        o.hash_fields = static_cast<int>(ParseUint("--hash-fields", a));
        break;
      case kSeed:
        o.seed = ParseUint("--seed", a);
        break;
      case kPreload:
        o.preload = true;
        break;
      case kPreloadOnly:
        o.preload = o.preload_only = true;
        break;
      case kJson:
        o.json_path = a;
        break;
      case kQuiet:
        o.quiet = true;
        break;
      case kWarm:
        o.warm = true;
        break;
      case kReadyFile:
        o.ready_file = a;
        break;
      case kGeneration:
        o.generation = static_cast<int64_t>(ParseUint("--generation", a));
        break;
      case kVerify:
        o.verify = true;
        break;
      case kMinGeneration:
        o.min_generation = ParseUint("--min-generation", a);
        o.verify = true;
        break;
      case kExpectNil:
        o.expect_nil = o.verify = true;
        break;
      case kHelp:
        std::fputs(kUsage, stdout);
        std::exit(0);
      default:
        std::fputs(kUsage, stderr);
        std::exit(2);
    }
  }
  if (optind < argc) Die(std::string("unexpected argument ") + argv[optind]);
  if (!o.target.valid()) Die("give --socket PATH or --port N (see --help)");
  if (have_write_host && o.write_target.port.empty())
    Die("--write-host needs --write-port");
  if (o.connections < 1 || o.pipeline < 1 || o.threads < 1) {
    Die("--connections, --pipeline and --threads must be >= 1");
  }
  if (o.threads > o.connections) o.threads = o.connections;
  if (o.keys < 1) Die("--keys must be >= 1");
  if (o.read_ratio < 0 || o.read_ratio > 1) Die("--read-ratio is in [0, 1]");
  if (o.zipf && o.zipf_s <= 0) Die("--zipf-s must be > 0");
  if (o.duration_s <= 0 && o.requests == 0 && !o.preload_only) {
    Die("--duration must be > 0");
  }
  if (o.value_size_max != 0 && o.value_size_max < o.value_size) {
    Die("--value-size-max must be >= --value-size");
  }
  if (o.hash_fields < 1) Die("--hash-fields must be >= 1");
  if (o.protocol == Protocol::kHttp &&
      !(o.op == Op::kGet || o.op == Op::kMget || o.op == Op::kHgetall)) {
    Die("--protocol http takes --command GET, HGETALL or LOOKUP:n");
  }
  if (o.protocol == Protocol::kHttp && o.read_ratio < 1 &&
      !o.write_target.valid()) {
    Die("--protocol http with writes needs --write-socket or --write-port");
  }
  if (o.warm && (o.protocol != Protocol::kResp || o.op != Op::kGet)) {
    Die("--warm takes --protocol resp --command GET");
  }
  if (o.verify && o.op != Op::kGet) Die("--verify takes --command GET");
  if (o.generation >= 0 && o.op != Op::kGet) {
    Die("--generation takes --command GET (string values)");
  }
  return o;
}

// ------------------------------------------------------------------ keys

// Splitmix64: small, fast, good enough for picking keys.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) {  // uniform in [0, n)
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >>
                                 64);
  }
  double Unit() { return (Next() >> 11) * 0x1.0p-53; }
};

// Picks key indexes: uniform, or Zipf by inverting a precomputed CDF (rank
// 0 is the hottest key). Immutable after construction: shared by threads.
class KeyPicker {
 public:
  explicit KeyPicker(const Options& o) : keys_(o.keys) {
    if (!o.zipf) return;
    cdf_.resize(o.keys);
    double sum = 0;
    for (uint64_t i = 0; i < o.keys; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), o.zipf_s);
      cdf_[i] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  uint64_t Pick(Rng& rng) const {
    if (cdf_.empty()) return rng.Below(keys_);
    const double u = rng.Unit();
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<uint64_t>(it - cdf_.begin(), keys_ - 1);
  }

 private:
  uint64_t keys_;
  std::vector<double> cdf_;
};

constexpr int kKeyDigits = 12;

void AppendKey(std::string* out, const std::string& prefix, uint64_t index) {
  out->append(prefix);
  char digits[kKeyDigits];
  for (int i = kKeyDigits - 1; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
  out->append(digits, kKeyDigits);
}

void AppendBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  out->append(std::to_string(s.size()));
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

void AppendArrayHeader(std::string* out, size_t n) {
  out->push_back('*');
  out->append(std::to_string(n));
  out->append("\r\n");
}

constexpr uint64_t kNoKey = ~uint64_t{0};

enum class ValueCheck { kCurrent, kOld, kWrong };

// Checks a GET value against "v<gen>:<key>:..." for key `index`.
ValueCheck CheckValue(const Options& o, std::string_view value,
                      uint64_t index) {
  if (o.expect_nil) return ValueCheck::kOld;
  if (value.size() < 3 || value[0] != 'v') return ValueCheck::kWrong;
  size_t i = 1;
  uint64_t gen = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') {
    gen = gen * 10 + static_cast<uint64_t>(value[i] - '0');
    ++i;
  }
  if (i == 1 || i >= value.size() || value[i] != ':') return ValueCheck::kWrong;
  std::string key;
  AppendKey(&key, o.key_prefix, index);
  key.push_back(':');
  if (value.substr(i + 1, key.size()) != key) return ValueCheck::kWrong;
  return gen < o.min_generation ? ValueCheck::kOld : ValueCheck::kCurrent;
}

// Builds request bytes. Thread-compatible: one per thread.
class RequestBuilder {
 public:
  RequestBuilder(const Options& o, const KeyPicker* picker, uint64_t seed)
      : o_(o), picker_(picker), rng_{seed} {
    const size_t max_value = std::max(o.value_size, o.value_size_max);
    values_.resize(max_value);
    Rng fill{seed ^ 0x5555};
    for (char& c : values_) c = static_cast<char>('a' + fill.Below(26));
    key_len_ = o.key_prefix.size() + kKeyDigits;
    for (int f = 0; f < o.hash_fields; ++f) {
      fields_.push_back("f" + std::to_string(f));
    }
  }

  bool NextIsRead() {
    return o_.read_ratio >= 1 || rng_.Unit() < o_.read_ratio;
  }

  std::string_view Value() {
    size_t n = o_.value_size;
    if (o_.value_size_max > o_.value_size) {
      n += rng_.Below(o_.value_size_max - o_.value_size + 1);
    }
    return std::string_view(values_.data(), n);
  }

  // Appends one read; returns the key index of a GET, else kNoKey.
  uint64_t AppendRead(std::string* out) {
    if (o_.protocol == Protocol::kHttp) {
      return AppendHttpRead(out);
    }
    switch (o_.op) {
      case Op::kGet: {
        const uint64_t key = Pick();
        AppendGet(out, key);
        return key;
      }
      case Op::kHgetall:
        AppendKeyCommand(out, "HGETALL");
        break;
      case Op::kExists:
        AppendKeyCommand(out, "EXISTS");
        break;
      case Op::kPing:
        out->append("*1\r\n$4\r\nPING\r\n");
        break;
      case Op::kMget:
        AppendArrayHeader(out, 1 + o_.batch);
        AppendBulk(out, "MGET");
        for (int i = 0; i < o_.batch; ++i) AppendKeyArg(out, Pick());
        break;
      case Op::kHget:
        out->append("*3\r\n$4\r\nHGET\r\n");
        AppendKeyArg(out, Pick());
        AppendBulk(out, fields_[0]);
        break;
      case Op::kHmget:
        AppendArrayHeader(out, 2 + fields_.size());
        AppendBulk(out, "HMGET");
        AppendKeyArg(out, Pick());
        for (const std::string& f : fields_) AppendBulk(out, f);
        break;
    }
    return kNoKey;
  }

  void AppendGet(std::string* out, uint64_t index) {
    out->append("*2\r\n$3\r\nGET\r\n");
    AppendKeyArg(out, index);
  }

  void AppendWrite(std::string* out) { AppendSet(out, Pick()); }

  void AppendSet(std::string* out, uint64_t index) {
    if (o_.op == Op::kHgetall || o_.op == Op::kHget || o_.op == Op::kHmget) {
      AppendArrayHeader(out, 2 + 2 * fields_.size());
      AppendBulk(out, "HSET");
      AppendKeyArg(out, index);
      for (const std::string& f : fields_) {
        AppendBulk(out, f);
        AppendBulk(out, Value());
      }
      return;
    }
    out->append("*3\r\n$3\r\nSET\r\n");
    AppendKeyArg(out, index);
    if (o_.generation < 0) {
      AppendBulk(out, Value());
      return;
    }
    // "v<gen>:<key>:" then padding up to the value size.
    std::string v = "v" + std::to_string(o_.generation) + ":";
    AppendKey(&v, o_.key_prefix, index);
    v.push_back(':');
    const std::string_view pad = Value();
    if (pad.size() > v.size()) v.append(pad.substr(v.size()));
    AppendBulk(out, v);
  }

 private:
  uint64_t Pick() { return picker_->Pick(rng_); }

  void AppendKeyArg(std::string* out, uint64_t index) {
    out->push_back('$');
    out->append(std::to_string(key_len_));
    out->append("\r\n");
    AppendKey(out, o_.key_prefix, index);
    out->append("\r\n");
  }

  void AppendKeyCommand(std::string* out, std::string_view cmd) {
    out->append("*2\r\n");
    AppendBulk(out, cmd);
    AppendKeyArg(out, Pick());
  }

  // Keys are printable in the default format, so they go into the path and
  // the JSON body unescaped; a custom prefix must be URL- and JSON-safe.
  // Returns the key index of a GET /v1/keys/K, else kNoKey.
  uint64_t AppendHttpRead(std::string* out) {
    if (o_.op == Op::kMget) {
      std::string body = "{\"keys\":[";
      for (int i = 0; i < o_.batch; ++i) {
        if (i > 0) body.push_back(',');
        body.push_back('"');
        AppendKey(&body, o_.key_prefix, Pick());
        body.push_back('"');
      }
      body.append("]}");
      out->append(
          "POST /v1/lookup HTTP/1.1\r\nHost: nearcache\r\n"
          "Content-Type: application/json\r\nContent-Length: ");
      out->append(std::to_string(body.size()));
      out->append("\r\n\r\n");
      out->append(body);
      return kNoKey;
    }
    out->append(o_.op == Op::kHgetall ? "GET /v1/hashes/" : "GET /v1/keys/");
    const uint64_t key = Pick();
    AppendKey(out, o_.key_prefix, key);
    out->append(" HTTP/1.1\r\nHost: nearcache\r\n\r\n");
    return o_.op == Op::kGet ? key : kNoKey;
  }

  const Options& o_;
  const KeyPicker* picker_;
  Rng rng_;
  std::string values_;
  std::vector<std::string> fields_;
  size_t key_len_ = 0;
};

// ----------------------------------------------------------- connections

bool WriteAllBlocking(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads replies until `count` have been scanned, calling on_reply(result,
// reply bytes) for each.
template <typename OnReply>
bool ReadRepliesBlocking(int fd, Protocol protocol, size_t count,
                         OnReply on_reply) {
  std::string buf;
  size_t begin = 0;
  char chunk[1 << 16];
  while (count > 0) {
    ScanResult r;
    const std::string_view view(buf.data() + begin, buf.size() - begin);
    const ScanStatus s = protocol == Protocol::kResp
                             ? ScanRespReply(view, &r)
                             : ScanHttpResponse(view, &r);
    if (s == ScanStatus::kBad) return false;
    if (s == ScanStatus::kComplete) {
      on_reply(r, view.substr(0, r.consumed));
      begin += r.consumed;
      --count;
      continue;
    }
    if (begin > 0) {
      buf.erase(0, begin);
      begin = 0;
    }
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

void Preload(const Options& o, const KeyPicker* picker) {
  const Endpoint& e = o.write_target.valid() ? o.write_target : o.target;
  const int fd = ConnectOrDie(e);
  RequestBuilder builder(o, picker, o.seed ^ 0xabcdef);
  constexpr uint64_t kBatch = 1000;
  uint64_t errors = 0;
  std::string first_error;
  std::string out;
  const uint64_t start = NowNs();
  for (uint64_t i = 0; i < o.keys; i += kBatch) {
    const uint64_t end = std::min(o.keys, i + kBatch);
    out.clear();
    for (uint64_t k = i; k < end; ++k) builder.AppendSet(&out, k);
    auto count_errors = [&](const ScanResult& r, std::string_view reply) {
      if (!r.error) return;
      ++errors;
      if (first_error.empty()) first_error = std::string(reply.substr(0, 200));
    };
    if (!WriteAllBlocking(fd, out) ||
        !ReadRepliesBlocking(fd, Protocol::kResp, end - i, count_errors)) {
      Die("preload to " + e.ToString() + " failed");
    }
  }
  close(fd);
  if (!o.quiet) {
    std::fprintf(stderr, "preloaded %" PRIu64 " keys to %s in %.2f s\n", o.keys,
                 e.ToString().c_str(), (NowNs() - start) / 1e9);
  }
  if (errors > 0) {
    Die("preload: " + std::to_string(errors) +
        " errors, first: " + first_error);
  }
}

struct WarmStats {
  uint64_t values = 0;  // keys that returned a value: warmed
  uint64_t nils = 0;
  uint64_t errors = 0;  // in the last pass: keys left unwarmed
  int passes = 0;
  double seconds = 0;
};

// Reads every key once through the target (GET, 1000 per round trip) and
// returns, per key, whether it returned a value. Keys that got an error
// reply (a cache whose own Redis reads time out on a loaded machine) are
// read again, up to kWarmPasses passes; stats->errors counts the last
// pass's errors only.
std::vector<uint8_t> Warm(const Options& o, const KeyPicker* picker,
                          WarmStats* stats) {
  constexpr int kWarmPasses = 20;
  constexpr uint64_t kBatch = 1000;
  std::vector<uint8_t> warmed(o.keys, 0);
  std::vector<uint64_t> todo(o.keys);
  for (uint64_t k = 0; k < o.keys; ++k) todo[k] = k;
  const int fd = ConnectOrDie(o.target);
  RequestBuilder builder(o, picker, o.seed ^ 0x77);
  std::string out;
  const uint64_t start = NowNs();
  for (int pass = 0; pass < kWarmPasses && !todo.empty(); ++pass) {
    if (pass > 0) usleep(100'000);
    std::vector<uint64_t> failed;
    stats->errors = 0;
    for (size_t i = 0; i < todo.size(); i += kBatch) {
      const size_t end = std::min(todo.size(), i + kBatch);
      out.clear();
      for (size_t j = i; j < end; ++j) builder.AppendGet(&out, todo[j]);
      size_t j = i;
      auto record = [&](const ScanResult& r, std::string_view) {
        const uint64_t k = todo[j++];
        if (r.error) {
          ++stats->errors;
          failed.push_back(k);
        } else if (r.has_bulk) {
          ++stats->values;
          warmed[k] = 1;
        } else {
          ++stats->nils;
        }
      };
      if (!WriteAllBlocking(fd, out) ||
          !ReadRepliesBlocking(fd, Protocol::kResp, end - i, record)) {
        Die("warm through " + o.target.ToString() + " failed");
      }
    }
    stats->passes = pass + 1;
    todo.swap(failed);
  }
  close(fd);
  stats->seconds = (NowNs() - start) / 1e9;
  if (!o.quiet) {
    std::fprintf(stderr,
                 "warmed %" PRIu64 " of %" PRIu64
                 " keys through %s in %.2f s, %d passes "
                 "(%" PRIu64 " nil, %" PRIu64 " errors)\n",
                 stats->values, o.keys, o.target.ToString().c_str(),
                 stats->seconds, stats->passes, stats->nils, stats->errors);
  }
  return warmed;
}

// ------------------------------------------------------------ the worker

struct Client;

// A request in flight: when it was sent (closed loop) or due (open loop).
struct Sent {
  uint64_t at = 0;
  bool write = false;
  uint64_t key = kNoKey;  // a GET's key
};

// One socket. Thread-compatible: owned by one worker.
struct Conn {
  int fd = -1;
  Client* client = nullptr;
  Protocol protocol = Protocol::kResp;
  std::string out;  // bytes not yet written
  size_t out_off = 0;
  std::string in;  // bytes read, not yet scanned
  size_t in_begin = 0, in_end = 0;
  std::deque<Sent> sent;
  size_t unstamped = 0;  // trailing entries of `sent` to stamp when written
  bool dirty = false;    // queued for FlushAll
  bool polled_out = false;
  bool dead = false;
};

// A logical client: one connection to the target, plus one to the write
// target when writes go elsewhere. `inflight` spans both.
struct Client {
  Conn* read = nullptr;
  Conn* write = nullptr;
  int inflight = 0;
};

struct Stats {
  LatencyHistogram reads;   // successful reads
  LatencyHistogram writes;  // successful writes
  uint64_t completed = 0;   // replies recorded, errors included
  uint64_t errors = 0;      // error replies (-ERR..., HTTP 5xx)
  uint64_t nils = 0;        // nil values (RESP) or 404s (HTTP)
  uint64_t conn_errors = 0;
  uint64_t backlog_max = 0;  // open loop: most requests queued on one client
  std::string first_error;
  // --warm: error replies to keys that were warmed / not warmed.
  uint64_t errors_warmed = 0;
  uint64_t errors_cold = 0;
  // Error replies by kind: the text with digits as '#', at most kMaxKinds
  // kinds (then "other").
  std::vector<std::pair<std::string, uint64_t>> error_kinds;
  // --verify
  uint64_t values_checked = 0;
  uint64_t old_values = 0;        // not marked stale
  uint64_t stale_old_values = 0;  // HTTP: marked STALE
  uint64_t stale_replies = 0;     // HTTP: marked STALE
  uint64_t fresh_nils = 0;        // nils not marked STALE
  uint64_t wrong_values = 0;
  std::string first_old_value;

  static constexpr size_t kMaxKinds = 8;

  void AddErrorKind(std::string_view text, uint64_t n) {
    std::string kind;
    for (const char c : text.substr(0, 100)) {
      if (c == '\r' || c == '\n') break;
      kind.push_back(c >= '0' && c <= '9' ? '#' : c);
    }
    for (auto& [k, count] : error_kinds) {
      if (k == kind) {
        count += n;
        return;
      }
    }
    if (error_kinds.size() >= kMaxKinds) kind = "other";
    for (auto& [k, count] : error_kinds) {
      if (k == kind) {
        count += n;
        return;
      }
    }
    error_kinds.emplace_back(kind, n);
  }

  void Merge(const Stats& o) {
    errors_warmed += o.errors_warmed;
    errors_cold += o.errors_cold;
    for (const auto& [k, n] : o.error_kinds) AddErrorKind(k, n);
    values_checked += o.values_checked;
    old_values += o.old_values;
    stale_old_values += o.stale_old_values;
    stale_replies += o.stale_replies;
    fresh_nils += o.fresh_nils;
    wrong_values += o.wrong_values;
    if (first_old_value.empty()) first_old_value = o.first_old_value;
    reads.Merge(o.reads);
    writes.Merge(o.writes);
    completed += o.completed;
    errors += o.errors;
    nils += o.nils;
    conn_errors += o.conn_errors;
    backlog_max = std::max(backlog_max, o.backlog_max);
    if (first_error.empty()) first_error = o.first_error;
  }
};

struct Schedule {
  uint64_t measure_start = 0;  // warmup ends here
  uint64_t measure_end = 0;    // duration mode: stop issuing here; else 0
  uint64_t quota = 0;          // requests mode: measured requests to issue
  double rate = 0;             // open loop: this thread's share
};

// Drives one thread's connections. Thread-compatible: one per thread.
class Worker {
 public:
  Worker(const Options& o, const KeyPicker* picker, int index, int clients,
         Schedule schedule, const std::vector<uint8_t>* warmed)
      : o_(o),
        warmed_(warmed),
        builder_(o, picker, o.seed * 7919 + index),
        schedule_(schedule),
        clients_(clients) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    const bool split = o.write_target.valid() && o.read_ratio < 1;
    for (Client& c : clients_) {
      c.read = NewConn(o.target, &c, o.protocol);
      c.write = split ? NewConn(o.write_target, &c, Protocol::kResp) : c.read;
    }
    live_clients_ = static_cast<int>(clients_.size());
    if (o.rate > 0) {
      timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = nullptr;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &ev);
    }
  }

  ~Worker() {
    for (auto& c : conns_) {
      if (c->fd >= 0) close(c->fd);
    }
    if (timer_ >= 0) close(timer_);
    close(epoll_);
  }

  const Stats& stats() const { return stats_; }
  uint64_t last_reply() const { return last_reply_; }

  void Run() {
    if (o_.rate > 0) {
      interval_ns_ = 1e9 / schedule_.rate;
      next_due_ = static_cast<double>(NowNs());
      ArmTimer();
    } else {
      for (Client& c : clients_) Refill(&c);
      FlushAll();
    }
    std::vector<epoll_event> events(256);
    for (;;) {
      const uint64_t now = NowNs();
      if (!measuring_ && now >= schedule_.measure_start) {
        measuring_ = true;
        const uint64_t conn_errors = stats_.conn_errors;
        stats_ = Stats();
        stats_.conn_errors = conn_errors;  // a lost connection stays lost
      }
      if (!stopping_ &&
          ((schedule_.measure_end != 0 && now >= schedule_.measure_end) ||
           (schedule_.quota != 0 && measuring_ &&
            issued_ >= schedule_.quota))) {
        stopping_ = true;
        drain_deadline_ = now + 2'000'000'000ull;
      }
      if (stopping_ && (TotalInflight() == 0 || now >= drain_deadline_)) break;
      if (live_clients_ == 0) break;
      int timeout_ms = 100;
      if (schedule_.measure_end != 0 && !stopping_) {
        const uint64_t left = schedule_.measure_end - now;
        timeout_ms =
            static_cast<int>(std::min<uint64_t>(left / 1000000 + 1, 100));
      }
      const int n = epoll_wait(epoll_, events.data(),
                               static_cast<int>(events.size()), timeout_ms);
      if (n < 0) {
        if (errno == EINTR) continue;
        Die(std::string("epoll_wait: ") + std::strerror(errno));
      }
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        if (c == nullptr) {
          OnTimer();
          continue;
        }
        if (c->dead) continue;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) OnReadable(c);
        if (!c->dead && (events[i].events & EPOLLOUT)) Flush(c);
      }
      FlushAll();
    }
  }

 private:
  Conn* NewConn(const Endpoint& e, Client* client, Protocol protocol) {
    auto conn = std::make_unique<Conn>();
    conn->fd = ConnectOrDie(e);
    fcntl(conn->fd, F_SETFL, fcntl(conn->fd, F_GETFL) | O_NONBLOCK);
    conn->client = client;
    conn->protocol = protocol;
    conn->in.resize(64 << 10);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = conn.get();
    epoll_ctl(epoll_, EPOLL_CTL_ADD, conn->fd, &ev);
    conns_.push_back(std::move(conn));
    return conns_.back().get();
  }

  int64_t TotalInflight() const {
    int64_t n = 0;
    for (const Client& c : clients_) {
      if (!c.read->dead) n += c.inflight;
    }
    return n;
  }

  bool MayIssue() const {
    if (stopping_) return false;
    return schedule_.quota == 0 || !measuring_ || issued_ < schedule_.quota;
  }

  // Queues one request on the client's connection; `due` is 0 to stamp it
  // when it is written (closed loop) or the time it was due (open loop).
  void Issue(Client* c, uint64_t due) {
    const bool read = builder_.NextIsRead();
    Conn* conn = read ? c->read : c->write;
    uint64_t key = kNoKey;
    if (read) {
      key = builder_.AppendRead(&conn->out);
    } else {
      builder_.AppendWrite(&conn->out);
    }
    conn->sent.push_back(Sent{due, !read, key});
    if (due == 0) ++conn->unstamped;
    ++c->inflight;
    if (measuring_) ++issued_;
    if (!conn->dirty) {
      conn->dirty = true;
      dirty_.push_back(conn);
    }
  }

  void Refill(Client* c) {
    while (c->inflight < o_.pipeline && MayIssue()) Issue(c, 0);
  }

  void FlushAll() {
    for (Conn* c : dirty_) {
      c->dirty = false;
      if (!c->dead) Flush(c);
    }
    dirty_.clear();
  }

  void Flush(Conn* c) {
    if (c->unstamped > 0) {
      const uint64_t now = NowNs();
      for (size_t i = c->sent.size() - c->unstamped; i < c->sent.size(); ++i) {
        c->sent[i].at = now;
      }
      c->unstamped = 0;
    }
    while (c->out_off < c->out.size()) {
      const ssize_t n =
          write(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        Kill(c);
        return;
      }
      c->out_off += static_cast<size_t>(n);
    }
    const bool pending = c->out_off < c->out.size();
    if (!pending) {
      c->out.clear();
      c->out_off = 0;
    }
    if (pending != c->polled_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (pending ? uint32_t{EPOLLOUT} : 0u);
      ev.data.ptr = c;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
      c->polled_out = pending;
    }
  }

  void Kill(Conn* c) {
    if (c->dead) return;
    ++stats_.conn_errors;
    Client* client = c->client;
    for (Conn* x : {client->read, client->write}) {
      if (x->dead) continue;
      x->dead = true;
      epoll_ctl(epoll_, EPOLL_CTL_DEL, x->fd, nullptr);
      close(x->fd);
      x->fd = -1;
    }
    --live_clients_;
  }

  void NoteError(std::string_view what) {
    if (stats_.first_error.empty()) {
      stats_.first_error = std::string(what.substr(0, 200));
      while (!stats_.first_error.empty() &&
             (stats_.first_error.back() == '\n' ||
              stats_.first_error.back() == '\r')) {
        stats_.first_error.pop_back();
      }
    }
  }

  void OnReadable(Conn* c) {
    if (c->in_end == c->in.size()) {
      if (c->in_begin > 0) {
        std::memmove(c->in.data(), c->in.data() + c->in_begin,
                     c->in_end - c->in_begin);
        c->in_end -= c->in_begin;
        c->in_begin = 0;
      } else {
        c->in.resize(c->in.size() * 2);
      }
    }
    const ssize_t n =
        read(c->fd, c->in.data() + c->in_end, c->in.size() - c->in_end);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      NoteError(n == 0 ? "connection closed by the server"
                       : std::string("read: ") + std::strerror(errno));
      Kill(c);
      return;
    }
    const uint64_t now = NowNs();
    c->in_end += static_cast<size_t>(n);
    Client* client = c->client;
    bool any = false;
    // Duration mode records only replies that arrive before the end.
    const bool record = measuring_ && (schedule_.measure_end == 0 ||
                                       now < schedule_.measure_end);
    while (c->in_begin < c->in_end) {
      ScanResult r;
      const std::string_view view(c->in.data() + c->in_begin,
                                  c->in_end - c->in_begin);
      const ScanStatus s = c->protocol == Protocol::kResp
                               ? ScanRespReply(view, &r)
                               : ScanHttpResponse(view, &r);
      if (s == ScanStatus::kIncomplete) break;
      if (s == ScanStatus::kBad || c->sent.empty()) {
        NoteError(
            "unparsable or unexpected reply: " +
            std::string(view.substr(0, std::min<size_t>(view.size(), 80))));
        Kill(c);
        return;
      }
      const Sent sent = c->sent.front();
      c->sent.pop_front();
      --client->inflight;
      any = true;
      if (record) {
        ++stats_.completed;
        if (r.error) {
          ++stats_.errors;
          NoteError(view.substr(0, r.consumed));
          stats_.AddErrorKind(view.substr(1, r.consumed), 1);
          if (warmed_ != nullptr && !sent.write) {
            const bool was_warmed =
                sent.key != kNoKey && (*warmed_)[sent.key] != 0;
            ++(was_warmed ? stats_.errors_warmed : stats_.errors_cold);
          }
        } else {
          if (o_.verify && !sent.write && sent.key != kNoKey && r.stale) {
            ++stats_.stale_replies;
          }
          if (o_.verify && !sent.write && sent.key != kNoKey && !r.has_bulk &&
              r.nils > 0 && !r.stale) {
            ++stats_.fresh_nils;
          }
          if (o_.verify && !sent.write && sent.key != kNoKey && r.has_bulk) {
            ++stats_.values_checked;
            const std::string_view value =
                view.substr(r.bulk_begin, r.bulk_len);
            switch (CheckValue(o_, value, sent.key)) {
              case ValueCheck::kCurrent:
                break;
              case ValueCheck::kOld:
                if (r.stale) {
                  ++stats_.stale_old_values;
                  break;
                }
                ++stats_.old_values;
                if (stats_.first_old_value.empty()) {
                  stats_.first_old_value = std::string(value.substr(0, 60));
                }
                break;
              case ValueCheck::kWrong:
                ++stats_.wrong_values;
                NoteError("wrong value: " + std::string(value.substr(0, 60)));
                break;
            }
          }
          (sent.write ? stats_.writes : stats_.reads)
              .Record(now > sent.at ? now - sent.at : 0);
        }
        stats_.nils += r.nils;
        last_reply_ = now;
      }
      c->in_begin += r.consumed;
    }
    if (c->in_begin == c->in_end) c->in_begin = c->in_end = 0;
    if (any && o_.rate <= 0) Refill(client);
  }

  void ArmTimer() {
    itimerspec its{};
    const uint64_t due = static_cast<uint64_t>(next_due_);
    its.it_value.tv_sec = static_cast<time_t>(due / 1000000000u);
    its.it_value.tv_nsec = static_cast<long>(due % 1000000000u);
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  // Open loop: issues every request that is due, round-robin over clients.
  void OnTimer() {
    uint64_t expirations;
    [[maybe_unused]] ssize_t r =
        read(timer_, &expirations, sizeof(expirations));
    const uint64_t now = NowNs();
    while (next_due_ <= static_cast<double>(now) && MayIssue() &&
           live_clients_ > 0) {
      Client* c = &clients_[next_client_++ % clients_.size()];
      if (c->read->dead) continue;
      Issue(c, static_cast<uint64_t>(next_due_));
      stats_.backlog_max = std::max<uint64_t>(
          stats_.backlog_max, static_cast<uint64_t>(c->inflight));
      next_due_ += interval_ns_;
    }
    if (MayIssue()) ArmTimer();
  }

  const Options& o_;
  const std::vector<uint8_t>* warmed_;  // --warm; else null
  RequestBuilder builder_;
  const Schedule schedule_;
  int epoll_ = -1;
  int timer_ = -1;
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> dirty_;
  Stats stats_;
  bool measuring_ = false;
  bool stopping_ = false;
  uint64_t drain_deadline_ = 0;
  uint64_t issued_ = 0;
  int live_clients_ = 0;
  double interval_ns_ = 0;
  double next_due_ = 0;
  size_t next_client_ = 0;
  uint64_t last_reply_ = 0;
};

// -------------------------------------------------------------- the report

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string LatencyJson(const LatencyHistogram& h) {
  char buf[512];
  std::snprintf(
      buf, sizeof(buf),
      "{\"count\": %" PRIu64
      ", \"min\": %.1f, \"mean\": %.1f, \"p50\": %.1f, \"p90\": %.1f, "
      "\"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f}",
      h.count(), h.min() / 1e3, h.mean() / 1e3, h.Quantile(0.50) / 1e3,
      h.Quantile(0.90) / 1e3, h.Quantile(0.99) / 1e3, h.Quantile(0.999) / 1e3,
      h.max() / 1e3);
  return buf;
}

std::string LatencyText(const char* name, const LatencyHistogram& h) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%-6s latency (us): min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  "
                "p99.9 %.1f  max %.1f  mean %.1f  (n=%" PRIu64 ")\n",
                name, h.min() / 1e3, h.Quantile(0.50) / 1e3,
                h.Quantile(0.90) / 1e3, h.Quantile(0.99) / 1e3,
                h.Quantile(0.999) / 1e3, h.max() / 1e3, h.mean() / 1e3,
                h.count());
  return buf;
}

int Main(int argc, char** argv) {
  SetProgramName("nc_loadgen");
  signal(SIGPIPE, SIG_IGN);
  // Open loop sends on timer expiries: the default 50 us timer slack would
  // be added to every request's measured latency.
  prctl(PR_SET_TIMERSLACK, 1UL);
  const Options o = ParseOptions(argc, argv);
  const KeyPicker picker(o);
  if (o.preload) Preload(o, &picker);
  if (o.preload_only) return 0;
  WarmStats warm;
  std::vector<uint8_t> warmed;
  if (o.warm) warmed = Warm(o, &picker, &warm);

  const uint64_t start = NowNs() + 50'000'000;  // after every connect
  Schedule base;
  base.measure_start = start + static_cast<uint64_t>(o.warmup_s * 1e9);
  if (o.requests == 0) {
    base.measure_end =
        base.measure_start + static_cast<uint64_t>(o.duration_s * 1e9);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    Schedule s = base;
    const int clients =
        o.connections / o.threads + (t < o.connections % o.threads);
    if (o.requests != 0) {
      s.quota = o.requests / o.threads +
                (t < static_cast<int>(o.requests % o.threads));
    }
    s.rate = o.rate / o.threads;
    workers.push_back(std::make_unique<Worker>(o, &picker, t, clients, s,
                                               o.warm ? &warmed : nullptr));
  }
  if (!o.ready_file.empty()) {
    FILE* f = std::fopen(o.ready_file.c_str(), "w");
    if (f == nullptr) Die("cannot write " + o.ready_file);
    std::fclose(f);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();

  Stats total;
  uint64_t last_reply = 0;
  for (auto& w : workers) {
    total.Merge(w->stats());
    last_reply = std::max(last_reply, w->last_reply());
  }
  const double elapsed_s = o.requests == 0
                               ? o.duration_s
                               : (last_reply > base.measure_start
                                      ? (last_reply - base.measure_start) / 1e9
                                      : 0);
  const double rps = elapsed_s > 0 ? total.completed / elapsed_s : 0;
  const double read_rps = elapsed_s > 0 ? total.reads.count() / elapsed_s : 0;
  const std::string mode = o.rate > 0 ? "open" : "closed";

  if (!o.quiet) {
    std::printf(
        "target %s (%s)  command %s  connections %d  pipeline %d  threads %d  "
        "%s loop%s\n",
        o.target.ToString().c_str(),
        o.protocol == Protocol::kResp ? "resp" : "http", o.command_name.c_str(),
        o.connections, o.pipeline, o.threads, mode.c_str(),
        o.rate > 0
            ? (" at " + std::to_string(static_cast<int64_t>(o.rate)) + " req/s")
                  .c_str()
            : "");
    std::printf(
        "keys %" PRIu64 " %s  read ratio %.3f%s\n", o.keys,
        o.zipf ? ("zipf s=" + std::to_string(o.zipf_s)).c_str() : "uniform",
        o.read_ratio,
        o.write_target.valid() && o.read_ratio < 1
            ? (" (writes to " + o.write_target.ToString() + ")").c_str()
            : "");
    std::printf("measured %.2f s: %" PRIu64
                " replies, %.0f req/s (reads %.0f/s)\n",
                elapsed_s, total.completed, rps, read_rps);
    std::printf("errors %" PRIu64 "  nil %" PRIu64
                "  connection errors %" PRIu64 "\n",
                total.errors, total.nils, total.conn_errors);
    if (!total.first_error.empty()) {
      std::printf("first error: %s\n", total.first_error.c_str());
    }
    for (const auto& [kind, n] : total.error_kinds) {
      std::printf("  %" PRIu64 " x %s\n", n, kind.c_str());
    }
    if (o.warm) {
      std::printf("warmed %" PRIu64 " keys; errors on warmed keys %" PRIu64
                  ", on others %" PRIu64 "\n",
                  warm.values, total.errors_warmed, total.errors_cold);
    }
    if (o.verify) {
      std::printf("values checked %" PRIu64 ": older than generation %" PRIu64
                  "%s %" PRIu64 " (and %" PRIu64
                  " marked stale), wrong %" PRIu64 "; stale replies %" PRIu64
                  ", nils not marked stale %" PRIu64 "%s%s\n",
                  total.values_checked, o.min_generation,
                  o.expect_nil ? " (or any, --expect-nil)" : "",
                  total.old_values, total.stale_old_values, total.wrong_values,
                  total.stale_replies, total.fresh_nils,
                  total.first_old_value.empty() ? "" : "; first old: ",
                  total.first_old_value.c_str());
    }
    std::fputs(LatencyText("read", total.reads).c_str(), stdout);
    if (total.writes.count() > 0) {
      std::fputs(LatencyText("write", total.writes).c_str(), stdout);
    }
    std::fflush(stdout);
  }
  if (!o.json_path.empty()) {
    std::string j = "{";
    j += "\"target\": \"" + JsonEscape(o.target.ToString()) + "\", ";
    j += "\"protocol\": \"" +
         std::string(o.protocol == Protocol::kResp ? "resp" : "http") + "\", ";
    j += "\"command\": \"" + JsonEscape(o.command_name) + "\", ";
    j += "\"connections\": " + std::to_string(o.connections) + ", ";
    j += "\"pipeline\": " + std::to_string(o.pipeline) + ", ";
    j += "\"threads\": " + std::to_string(o.threads) + ", ";
    j += "\"mode\": \"" + mode + "\", ";
    j += "\"rate\": " + std::to_string(o.rate) + ", ";
    j += "\"keys\": " + std::to_string(o.keys) + ", ";
    j += "\"distribution\": \"" + std::string(o.zipf ? "zipf" : "uniform") +
         "\", ";
    j += "\"zipf_s\": " + std::to_string(o.zipf_s) + ", ";
    j += "\"read_ratio\": " + std::to_string(o.read_ratio) + ", ";
    j += "\"duration_s\": " + std::to_string(elapsed_s) + ", ";
    j += "\"completed\": " + std::to_string(total.completed) + ", ";
    j += "\"throughput_rps\": " + std::to_string(rps) + ", ";
    j += "\"read_throughput_rps\": " + std::to_string(read_rps) + ", ";
    j += "\"errors\": " + std::to_string(total.errors) + ", ";
    j += "\"nils\": " + std::to_string(total.nils) + ", ";
    j += "\"connection_errors\": " + std::to_string(total.conn_errors) + ", ";
    j += "\"backlog_max\": " + std::to_string(total.backlog_max) + ", ";
    j += "\"first_error\": \"" + JsonEscape(total.first_error) + "\", ";
    j += "\"error_kinds\": {";
    for (size_t i = 0; i < total.error_kinds.size(); ++i) {
      if (i > 0) j += ", ";
      j += "\"" + JsonEscape(total.error_kinds[i].first) +
           "\": " + std::to_string(total.error_kinds[i].second);
    }
    j += "}, ";
    if (o.warm) {
      j += "\"warm\": {\"values\": " + std::to_string(warm.values) +
           ", \"nils\": " + std::to_string(warm.nils) +
           ", \"errors\": " + std::to_string(warm.errors) +
           ", \"passes\": " + std::to_string(warm.passes) +
           ", \"seconds\": " + std::to_string(warm.seconds) + "}, ";
      j += "\"errors_warmed\": " + std::to_string(total.errors_warmed) + ", ";
      j += "\"errors_cold\": " + std::to_string(total.errors_cold) + ", ";
    }
    if (o.verify) {
      j += "\"min_generation\": " + std::to_string(o.min_generation) + ", ";
      j += "\"expect_nil\": " + std::string(o.expect_nil ? "true" : "false") +
           ", ";
      j += "\"values_checked\": " + std::to_string(total.values_checked) + ", ";
      j += "\"old_values\": " + std::to_string(total.old_values) + ", ";
      j += "\"stale_old_values\": " + std::to_string(total.stale_old_values) +
           ", ";
      j += "\"stale_replies\": " + std::to_string(total.stale_replies) + ", ";
      j += "\"fresh_nils\": " + std::to_string(total.fresh_nils) + ", ";
      j += "\"wrong_values\": " + std::to_string(total.wrong_values) + ", ";
      j += "\"first_old_value\": \"" + JsonEscape(total.first_old_value) +
           "\", ";
    }
    j += "\"latency_us\": " + LatencyJson(total.reads) + ", ";
    j += "\"write_latency_us\": " + LatencyJson(total.writes);
    j += "}\n";
    if (o.json_path == "-") {
      std::fputs(j.c_str(), stdout);
    } else {
      FILE* f = std::fopen(o.json_path.c_str(), "w");
      if (f == nullptr) Die("cannot write " + o.json_path);
      std::fputs(j.c_str(), f);
      std::fclose(f);
    }
  }
  return total.conn_errors > 0 && total.completed == 0 ? 1 : 0;
}

}  // namespace
}  // namespace nearcache::bench

int main(int argc, char** argv) { return nearcache::bench::Main(argc, argv); }
