// invalidation_lag: how long after Redis acknowledges a write nearcache
// serves the new value (docs/benchmarks.md, "Invalidation lag").
//
// One sample: a writer connection SETs the key (value = sequence number) in
// Redis; from the moment the reply arrives, a reader polls nearcache with GET
// in a tight loop until it answers the new value. The lag is the time from
// the write's acknowledgement to the first reply that carries the new value:
// the invalidation's trip (Redis -> link -> cache) plus one read-through.
// Before each write the reader reads the key once, so that the old value is
// cached and only an invalidation can change what nearcache serves (run
// nearcache with a long cache.ttl).
//
// Modes: idle (the sampler alone), then under load: --load-threads threads
// GET other keys (pre-set in Redis) through nearcache in a tight loop.
//
// Usage:
//   invalidation_lag --redis-socket /tmp/r/redis.sock \
//       --nearcache-socket /tmp/n/redis.sock [--samples 2000] \
//       [--load-threads 3] [--load-keys 1000] [--key lag:key]
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string redis_socket;
  std::string nearcache_socket;
  int samples = 2000;
  int load_threads = 3;
  int load_keys = 1000;
  std::string key = "lag:key";
};

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "invalidation_lag: %s\n", why.c_str());
  std::exit(1);
}

Context Connect(const std::string& path) {
  timeval tv = {5, 0};
  Context c(redisConnectUnixWithTimeout(path.c_str(), tv));
  if (c == nullptr || c->err != 0) {
    Die("cannot connect to " + path + ": " +
        (c == nullptr ? std::string("out of memory") : std::string(c->errstr)));
  }
  redisSetTimeout(c.get(), tv);
  return c;
}

Reply Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(redisCommandArgv(
      c, static_cast<int>(args.size()), argv.data(), lens.data())));
  if (r == nullptr) Die(std::string("connection failed: ") + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) Die(std::string("error reply: ") + r->str);
  return r;
}

bool ReplyIs(const redisReply* r, const std::string& want) {
  return r->type == REDIS_REPLY_STRING && r->len == want.size() &&
         std::memcmp(r->str, want.data(), want.size()) == 0;
}

struct Result {
  std::vector<double> lag_us;
  std::vector<int> old_reads;  // replies with the old value, per sample
  double load_gets_per_s = 0;
};

double Percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1,
                            static_cast<size_t>(p / 100.0 * sorted.size()));
  return sorted[i];
}

Result Measure(const Args& args, int load_threads, uint64_t* seq) {
  Context writer = Connect(args.redis_socket);
  Context reader = Connect(args.nearcache_socket);

  std::atomic<bool> stop{false};
  // GETs done by each load thread so far.
  std::vector<std::atomic<int64_t>> load_gets(load_threads);
  auto total_load_gets = [&] {
    int64_t n = 0;
    for (const std::atomic<int64_t>& g : load_gets) n += g.load();
    return n;
  };
  std::vector<std::thread> load;
  for (int t = 0; t < load_threads; ++t) {
    load.emplace_back([&, t] {
      Context c = Connect(args.nearcache_socket);
      std::mt19937 rng(t + 1);
      std::uniform_int_distribution<int> pick(0, args.load_keys - 1);
      while (!stop.load(std::memory_order_relaxed)) {
        Command(c.get(), {"GET", "lag:load:" + std::to_string(pick(rng))});
        load_gets[t].fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Let the load warm the cache up.
  if (load_threads > 0) std::this_thread::sleep_for(std::chrono::seconds(1));

  Result result;
  const Clock::time_point begin = Clock::now();
  const int64_t gets_before = total_load_gets();
  for (int i = 0; i < args.samples; ++i) {
    // Cache the current value.
    Command(reader.get(), {"GET", args.key});
    const std::string value = std::to_string(++*seq);
    Command(writer.get(), {"SET", args.key, value});
    const Clock::time_point acked = Clock::now();
    int old = 0;
    for (;;) {
      Reply r = Command(reader.get(), {"GET", args.key});
      if (ReplyIs(r.get(), value)) break;
      ++old;
    }
    const Clock::time_point seen = Clock::now();
    result.lag_us.push_back(
        std::chrono::duration<double, std::micro>(seen - acked).count());
    result.old_reads.push_back(old);
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - begin).count();
  result.load_gets_per_s = (total_load_gets() - gets_before) / seconds;
  stop.store(true);
  for (std::thread& t : load) t.join();
  return result;
}

void Print(const char* mode, int load_threads, const Result& r) {
  std::vector<double> sorted = r.lag_us;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  int64_t old_total = 0;
  int with_old = 0;
  for (int o : r.old_reads) {
    old_total += o;
    with_old += o > 0;
  }
  std::printf(
      "%-6s load_threads=%d samples=%zu  lag_us: p50=%.1f p90=%.1f p99=%.1f "
      "p99.9=%.1f max=%.1f mean=%.1f  samples_with_old_reads=%d "
      "old_reads=%lld",
      mode, load_threads, sorted.size(), Percentile(sorted, 50),
      Percentile(sorted, 90), Percentile(sorted, 99), Percentile(sorted, 99.9),
      sorted.empty() ? 0 : sorted.back(),
      sorted.empty() ? 0 : sum / sorted.size(), with_old,
      static_cast<long long>(old_total));
  if (load_threads > 0)
    std::printf("  load_gets_per_s=%.0f", r.load_gets_per_s);
  std::printf("\n");
}

// For scale: one GET straight to Redis, and one cache hit through nearcache.
void PrintReference(const Args& args) {
  Context redis = Connect(args.redis_socket);
  Context nearcache = Connect(args.nearcache_socket);
  Command(redis.get(), {"SET", "lag:ref", "x"});
  Command(nearcache.get(), {"GET", "lag:ref"});
  auto time_gets = [&](redisContext* c) {
    std::vector<double> us;
    for (int i = 0; i < args.samples; ++i) {
      const Clock::time_point t = Clock::now();
      Command(c, {"GET", "lag:ref"});
      us.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    std::sort(us.begin(), us.end());
    return us;
  };
  const std::vector<double> direct = time_gets(redis.get());
  const std::vector<double> hit = time_gets(nearcache.get());
  std::printf(
      "ref    GET to Redis: p50=%.1f p99=%.1f us; cache hit through "
      "nearcache: p50=%.1f p99=%.1f us\n",
      Percentile(direct, 50), Percentile(direct, 99), Percentile(hit, 50),
      Percentile(hit, 99));
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + flag);
      return argv[++i];
    };
    if (flag == "--redis-socket") {
      a.redis_socket = value();
    } else if (flag == "--nearcache-socket") {
      a.nearcache_socket = value();
    } else if (flag == "--samples") {
      a.samples = std::atoi(value().c_str());
    } else if (flag == "--load-threads") {
      a.load_threads = std::atoi(value().c_str());
    } else if (flag == "--load-keys") {
      a.load_keys = std::atoi(value().c_str());
    } else if (flag == "--key") {
      a.key = value();
    } else {
      Die("unknown flag " + flag +
          " (flags: --redis-socket --nearcache-socket --samples "
          "--load-threads --load-keys --key)");
    }
  }
  if (a.redis_socket.empty() || a.nearcache_socket.empty()) {
    Die("--redis-socket and --nearcache-socket are required");
  }
  if (a.samples <= 0 || a.load_threads < 0 || a.load_keys <= 0) {
    Die("--samples and --load-keys must be > 0, --load-threads >= 0");
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  {
    Context redis = Connect(args.redis_socket);
    for (int i = 0; i < args.load_keys; ++i) {
      Command(redis.get(),
              {"SET", "lag:load:" + std::to_string(i), std::string(100, 'x')});
    }
  }
  PrintReference(args);
  uint64_t seq = 0;
  Print("idle", 0, Measure(args, 0, &seq));
  if (args.load_threads > 0) {
    Print("loaded", args.load_threads, Measure(args, args.load_threads, &seq));
  }
  return 0;
}
