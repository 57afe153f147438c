// Micro-benchmarks of the cache core (ShardedLruCache) alone: no Redis, no
// sockets. Results and the commands that produced them: docs/benchmarks.md,
// section "Cache core".
//
//   BM_LookupHit         a fresh hit, 1k and 100k entries, 1 and 2 threads
//   BM_LookupMiss        a key that is not cached
//   BM_InsertEvicting    BeginFetch + Insert into a full cache (evicts one)
//   BM_Invalidate        Invalidate of a cached key, at several sizes
//   BM_InvalidateAll     at 1k / 100k / 1M entries: flat, it is O(1)
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "nearcache/cache.h"
#include "nearcache/clock.h"
#include "nearcache/value.h"

namespace nearcache {
namespace {

// Feast-like keys: a prefix and an entity id, with a NUL in between.
std::string KeyName(int64_t i) {
  return absl::StrCat("driver_hourly_stats", absl::string_view("\0", 1), i);
}

CacheOptions BenchOptions(size_t max_bytes) {
  CacheOptions options;  // 16 shards, as in production
  options.max_bytes = max_bytes;
  options.ttl = absl::Hours(1);  // nothing expires during a run
  options.max_stale = absl::Hours(1);
  return options;
}

// A cache holding `n` entries under KeyName(0..n-1), each with its own
// value, built once per size and kept for the life of the process
// (benchmarks call their function many times).
ShardedLruCache& FilledCache(int64_t n, size_t value_bytes) {
  static auto* mu = new std::mutex;
  static auto* caches =
      new std::map<std::pair<int64_t, size_t>, ShardedLruCache*>;
  std::lock_guard<std::mutex> lock(*mu);  // threads of one benchmark race here
  ShardedLruCache*& cache = (*caches)[{n, value_bytes}];
  if (cache == nullptr) {
    cache = new ShardedLruCache(BenchOptions(size_t{16} << 30), SystemClock());
    for (int64_t i = 0; i < n; ++i) {
      const std::string key = KeyName(i);
      cache->Insert(key, cache->BeginFetch(key),
                    Value::String(std::string(value_bytes, 'v')));
    }
  }
  return *cache;
}

// Precomputed keys in a random order, so the loop measures the cache and not
// the key formatting or the random number generator.
std::vector<std::string> RandomKeys(int64_t key_space, int count,
                                    uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, key_space - 1);
  std::vector<std::string> keys(count);
  for (auto& key : keys) key = KeyName(pick(rng));
  return keys;
}

// Arg: entries in the cache (1k: all in CPU caches; 100k: ~30 MB of entries,
// so most lookups miss the CPU caches, as a real working set would).
void BM_LookupHit(benchmark::State& state) {
  const int64_t n = state.range(0);
  ShardedLruCache& cache = FilledCache(n, 100);
  const std::vector<std::string> keys =
      RandomKeys(n, 1 << 16, state.thread_index());
  size_t i = 0;
  for (auto _ : state) {
    auto entry = cache.Lookup(keys[i++ & (keys.size() - 1)]);
    benchmark::DoNotOptimize(entry);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupHit)
    ->Arg(1000)
    ->Arg(100000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

void BM_LookupMiss(benchmark::State& state) {
  ShardedLruCache& cache = FilledCache(100000, 100);
  std::vector<std::string> keys = RandomKeys(100000, 1 << 16, 1);
  for (auto& key : keys) key += "-absent";
  size_t i = 0;
  for (auto _ : state) {
    auto entry = cache.Lookup(keys[i++ & (keys.size() - 1)]);
    benchmark::DoNotOptimize(entry);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LookupMiss);

// A full 16 MiB cache of 1 KiB values: every Insert of a new key evicts the
// least recently used entry of its shard.
void BM_InsertEvicting(benchmark::State& state) {
  static ShardedLruCache* cache;
  static std::vector<std::string>* keys;
  static ValuePtr* value;
  constexpr int kKeys = 1 << 20;
  if (state.thread_index() == 0) {
    value = new ValuePtr(Value::String(std::string(1024, 'v')));
    cache = new ShardedLruCache(BenchOptions(size_t{16} << 20), SystemClock());
    keys = new std::vector<std::string>(kKeys);
    for (int i = 0; i < kKeys; ++i) (*keys)[i] = KeyName(i);
    for (int i = 0; i < 2 * 16 * 1024; ++i) {
      cache->Insert((*keys)[i], cache->BeginFetch((*keys)[i]), *value);
    }
  }
  // Threads take interleaved keys: all new to the cache.
  size_t i = state.thread_index();
  const size_t step = state.threads();
  for (auto _ : state) {
    const std::string& key = (*keys)[i & (kKeys - 1)];
    i += step;
    const FetchTicket ticket = cache->BeginFetch(key);
    benchmark::DoNotOptimize(cache->Insert(key, ticket, *value));
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["evictions"] =
        benchmark::Counter(static_cast<double>(cache->Stats().evictions_size));
    delete cache;
    delete keys;
    delete value;
  }
}
BENCHMARK(BM_InsertEvicting)->Threads(1)->Threads(2)->UseRealTime();

void BM_Invalidate(benchmark::State& state) {
  // Its own caches (values of 101 bytes): BM_LookupHit's stay fresh.
  const int64_t n = state.range(0);
  ShardedLruCache& cache = FilledCache(n, 101);
  const std::vector<std::string> keys = RandomKeys(n, 1 << 16, 2);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Invalidate(keys[i++ & (keys.size() - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Invalidate)->Arg(1000)->Arg(100000)->Arg(1000000);

void BM_InvalidateAll(benchmark::State& state) {
  ShardedLruCache& cache = FilledCache(state.range(0), 101);
  for (auto _ : state) cache.InvalidateAll();
  state.counters["entries"] =
      benchmark::Counter(static_cast<double>(cache.Stats().entries));
}
BENCHMARK(BM_InvalidateAll)->Arg(1000)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace nearcache

BENCHMARK_MAIN();
