// Memory of the cache core (ShardedLruCache) per entry, and RSS under churn.
//
// Part 1, per entry: for values of 32, 128 and 1024 bytes, inserts N entries
// (keys of 16 to 40 bytes, Feast-like) into a cache large enough to hold them
// all and reports, per entry, the heap bytes (mallinfo2 uordblks) and the RSS
// bytes (/proc/self/statm) beyond the key's and value's own bytes (both
// include the shards' hash tables, whose load varies with N), next to
// what the cache charges (ShardedLruCache::kEntryOverhead).
//
// Part 2, churn: a cache of --max_mib MiB, filled past its bound with new
// keys again and again (each insert evicts), values of one size per round;
// reports peak RSS against the issue #6 bound 1.15 x max_bytes + 20 MiB.
//
//   cache_memory [--entries N] [--max_mib M] [--rounds R]
//
// Each measurement runs in a fresh child process (fork) so that one
// scenario's freed heap does not flatter the next one's RSS. Linux + glibc.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nearcache/cache.h"
#include "nearcache/clock.h"
#include "nearcache/value.h"

namespace nearcache {
namespace {

size_t RssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;  // NOLINT
  if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Bytes in use from malloc: small chunks plus mmapped ones (large hash-table
// arrays and values).
size_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Keys of 16 to 40 bytes: a prefix, a NUL and an entity id, padded.
std::string KeyName(uint64_t i, std::mt19937_64* rng) {
  std::string key = absl::StrCat("fv", absl::string_view("\0", 1), i, ":");
  const size_t want = 16 + (*rng)() % 25;
  while (key.size() < want) key.push_back('k');
  return key;
}

CacheOptions Options(size_t max_bytes) {
  CacheOptions options;  // 16 shards, as in production
  options.max_bytes = max_bytes;
  options.ttl = absl::Hours(1);
  options.max_stale = absl::Hours(1);
  return options;
}

// Runs `fn` in a child process; returns when it exits.
template <typename Fn>
void InChild(Fn fn) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    fn();
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
}

void PerEntry(size_t entries, size_t value_bytes) {
  std::mt19937_64 rng(42);
  std::vector<std::string> keys;
  keys.reserve(entries);
  size_t key_bytes = 0;
  for (size_t i = 0; i < entries; ++i) {
    keys.push_back(KeyName(i, &rng));
    key_bytes += keys.back().size();
  }
  const std::string payload(value_bytes, 'v');
  const size_t heap0 = HeapBytes();
  const size_t rss0 = RssBytes();
  auto* cache = new ShardedLruCache(Options(size_t{64} << 30), SystemClock());
  for (const std::string& key : keys) {
    cache->Insert(key, cache->BeginFetch(key), Value::String(payload));
  }
  const size_t heap = HeapBytes() - heap0;
  const size_t rss = RssBytes() - rss0;
  const double own = static_cast<double>(key_bytes + entries * value_bytes);
  const CacheStats stats = cache->Stats();
  std::printf(
      "value %5zu B  entries %zu  key avg %.1f B  heap/entry beyond key+value "
      "%6.1f B  RSS/entry beyond key+value %6.1f B  charged %zu B  "
      "charged bytes / heap %.3f\n",
      value_bytes, static_cast<size_t>(stats.entries),
      static_cast<double>(key_bytes) / entries, (heap - own) / entries,
      (rss - own) / entries, ShardedLruCache::kEntryOverhead,
      static_cast<double>(stats.bytes) / static_cast<double>(heap));
}

void Churn(size_t max_bytes, size_t value_bytes, int rounds) {
  std::mt19937_64 rng(7);
  auto* cache = new ShardedLruCache(Options(max_bytes), SystemClock());
  const std::string payload(value_bytes, 'v');
  // Enough inserts to replace the whole cache `rounds` times.
  const size_t per_round =
      max_bytes / (value_bytes + 28 + ShardedLruCache::kEntryOverhead) + 1;
  size_t peak_rss = 0, peak_heap = 0;
  uint64_t next = 0;
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < per_round; ++i) {
      // Mixed sizes within a round: +-50% around value_bytes.
      const size_t n = value_bytes / 2 + rng() % (value_bytes + 1);
      const std::string key = KeyName(next++, &rng);
      cache->Insert(key, cache->BeginFetch(key),
                    Value::String(absl::string_view(
                        payload.data(), std::min(n, payload.size()))));
      // Some lookups and invalidations, as in production.
      if ((i & 7) == 0) cache->Lookup(key);
      if ((i & 63) == 0) cache->Invalidate(key);
    }
    peak_rss = std::max(peak_rss, RssBytes());
    peak_heap = std::max(peak_heap, HeapBytes());
  }
  const CacheStats stats = cache->Stats();
  const double bound = 1.15 * static_cast<double>(max_bytes) + (20 << 20);
  std::printf(
      "churn max_bytes %zu MiB, values %zu B +-50%%: %zu inserts, entries %zu, "
      "charged %.1f MiB, peak heap %.1f MiB, peak RSS %.1f MiB, bound %.1f "
      "MiB -> %s\n",
      max_bytes >> 20, value_bytes, static_cast<size_t>(next),
      static_cast<size_t>(stats.entries), stats.bytes / 1048576.0,
      peak_heap / 1048576.0, peak_rss / 1048576.0, bound / 1048576.0,
      peak_rss <= bound ? "within" : "OVER");
}

}  // namespace
}  // namespace nearcache

int main(int argc, char** argv) {
  size_t entries = 1000000;
  size_t max_mib = 256;
  int rounds = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--entries") == 0)
      entries = std::atol(argv[i + 1]);
    if (std::strcmp(argv[i], "--max_mib") == 0)
      max_mib = std::atol(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  std::printf("sizeof(Value) %zu, kEntryOverhead %zu\n",
              sizeof(nearcache::Value),
              nearcache::ShardedLruCache::kEntryOverhead);
  for (size_t value_bytes : {32, 128, 1024}) {
    nearcache::InChild([&] { nearcache::PerEntry(entries, value_bytes); });
  }
  for (size_t value_bytes : {32, 128, 1024, 16384}) {
    nearcache::InChild(
        [&] { nearcache::Churn(max_mib << 20, value_bytes, rounds); });
  }
  return 0;
}
