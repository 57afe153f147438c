// Coherence under concurrency: writer threads SET keys in Redis to
// increasing versions and note when each write was acknowledged; reader
// threads read the same keys through nearcache. Once a write has been
// acknowledged for longer than kLagBound, no read that starts after that
// may return an older version. Every violation is counted; there must be
// none. Runs for kDuration in each invalidation mode (longer, bounded, when
// too few reads hit or missed by then).
//
// kLagBound is a generous bound on the invalidation's trip (Redis -> link ->
// cache), not a performance assertion: bench/invalidation_lag.cc measures
// the lag itself.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/coherence/coherence_fixture.h"

namespace nearcache {
namespace coherence {
namespace {

constexpr absl::Duration kDuration = absl::Seconds(3);
constexpr int64_t kLagBoundNs = 50'000'000;  // 50 ms
constexpr int kKeys = 8;
constexpr int kWriters = 2;
constexpr int kReaders = 2;
constexpr int64_t kMaxVersions = 100'000;  // per key; plenty for kDuration

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The acknowledged versions of one key. One writer appends; readers read.
struct KeyLog {
  KeyLog() : ack_ns(kMaxVersions + 1, 0) {}
  // ack_ns[v]: when the SET of version v was acknowledged (steady clock).
  // Written before `acked` is released past v.
  std::vector<int64_t> ack_ns;
  std::atomic<int64_t> acked{0};
};

struct ReaderResult {
  int64_t reads = 0;
  int64_t older_within_bound = 0;  // older than acked, but inside the bound
  int64_t violations = 0;
  int64_t errors = 0;
  int64_t max_lag_seen_ns = 0;  // read start - ack of the first newer version
  std::string first_violation;
};

class ConcurrencyTest : public CoherenceFixture,
                        public testing::WithParamInterface<Mode> {};

INSTANTIATE_TEST_SUITE_P(Modes, ConcurrencyTest,
                         testing::Values(Mode::kDefault, Mode::kBcast,
                                         Mode::kChannel),
                         [](const testing::TestParamInfo<Mode>& info) {
                           return ModeName(info.param);
                         });

TEST_P(ConcurrencyTest, NoReadOlderThanAnAcknowledgedWritePastTheLagBound) {
  StartNearcache(GetParam());
  const bool publish = GetParam() == Mode::kChannel;
  std::vector<std::string> keys;
  std::vector<std::unique_ptr<KeyLog>> logs;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(K(absl::StrCat("conc-", i)));
    logs.push_back(std::make_unique<KeyLog>());
    redis_.Command({"SET", keys.back(), "0"});
  }
  const std::map<std::string, std::string> stats_before = Stats();

  std::atomic<bool> stop{false};
  std::atomic<int64_t> writes{0};
  std::atomic<int64_t> write_errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      RedisClient redis = ConnectUnix(redis_.unix_path());
      if (redis == nullptr) {
        write_errors.fetch_add(1);
        return;
      }
      while (!stop.load()) {
        for (int i = w; i < kKeys && !stop.load(); i += kWriters) {
          KeyLog& log = *logs[i];
          const int64_t v = log.acked.load(std::memory_order_relaxed) + 1;
          if (v > kMaxVersions) continue;
          RedisReply r =
              ClientCommand(redis.get(), {"SET", keys[i], absl::StrCat(v)});
          const int64_t acked_at = NowNs();
          if (r.is_error()) {
            write_errors.fetch_add(1);
            continue;
          }
          log.ack_ns[v] = acked_at;
          log.acked.store(v, std::memory_order_release);
          writes.fetch_add(1, std::memory_order_relaxed);
          if (publish)
            ClientCommand(redis.get(), {"PUBLISH", kChannelName, keys[i]});
        }
        // Leave the keys alone for a while so that reads also hit the cache
        // (several reads per write), not only miss.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  std::vector<ReaderResult> results(kReaders);
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      ReaderResult& out = results[r];
      RedisClient client = nearcache_->Connect();
      if (client == nullptr) {
        out.errors = 1;
        return;
      }
      for (int64_t n = r; !stop.load(); ++n) {
        const int i = static_cast<int>(n % kKeys);
        const KeyLog& log = *logs[i];
        const int64_t start = NowNs();
        const int64_t latest = log.acked.load(std::memory_order_acquire);
        // The newest version acknowledged at least kLagBound before start.
        int64_t required = latest;
        while (required > 0 && log.ack_ns[required] + kLagBoundNs > start) {
          --required;
        }
        RedisReply reply = ClientCommand(client.get(), {"GET", keys[i]});
        ++out.reads;
        int64_t got = -1;
        if (reply.type != RedisReply::Type::kString ||
            !absl::SimpleAtoi(reply.str, &got)) {
          ++out.errors;
          continue;
        }
        if (got < latest) {
          out.max_lag_seen_ns =
              std::max(out.max_lag_seen_ns, start - log.ack_ns[got + 1]);
        }
        if (got < required) {
          if (++out.violations == 1) {
            out.first_violation = absl::StrCat(
                keys[i], ": read version ", got, " ",
                (start - log.ack_ns[required]) / 1000, " us after version ",
                required, " was acknowledged");
          }
        } else if (got < latest) {
          ++out.older_within_bound;
        }
      }
    });
  }
  absl::SleepFor(kDuration);
  // On a slow build (sanitizers) or a loaded machine the mix may need longer
  // to exercise both paths: go on, bounded, until hits and misses are both
  // past the floor asserted below. Coherence is judged on every read anyway.
  for (absl::Duration extra; extra < 8 * kDuration;
       extra += absl::Milliseconds(500)) {
    const std::map<std::string, std::string> now = Stats();
    if (InfoInt(now, "keyspace_hits") - InfoInt(stats_before, "keyspace_hits") >
            200 &&
        InfoInt(now, "keyspace_misses") -
                InfoInt(stats_before, "keyspace_misses") >
            200) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();

  const std::map<std::string, std::string> stats_after = Stats();
  const int64_t hits = InfoInt(stats_after, "keyspace_hits") -
                       InfoInt(stats_before, "keyspace_hits");
  const int64_t misses = InfoInt(stats_after, "keyspace_misses") -
                         InfoInt(stats_before, "keyspace_misses");
  ReaderResult total;
  for (const ReaderResult& r : results) {
    total.reads += r.reads;
    total.older_within_bound += r.older_within_bound;
    total.violations += r.violations;
    total.errors += r.errors;
    total.max_lag_seen_ns = std::max(total.max_lag_seen_ns, r.max_lag_seen_ns);
    if (total.first_violation.empty())
      total.first_violation = r.first_violation;
  }
  std::cout << "[ coherence ] " << ModeName(GetParam()) << ": " << writes.load()
            << " writes, " << total.reads << " reads (" << hits << " hits, "
            << misses << " misses), " << total.older_within_bound
            << " older reads within the " << kLagBoundNs / 1'000'000
            << " ms bound, longest seen " << total.max_lag_seen_ns / 1000
            << " us, " << total.violations << " violations\n";

  EXPECT_EQ(total.violations, 0) << "first: " << total.first_violation;
  EXPECT_EQ(total.errors, 0);
  EXPECT_EQ(write_errors.load(), 0);
  // The test means something only if both paths ran: the cache served
  // values (hits) and invalidations sent reads back to Redis (misses).
  EXPECT_GT(writes.load(), 100);
  EXPECT_GT(hits, 100);
  EXPECT_GT(misses, 100);
}

}  // namespace
}  // namespace coherence
}  // namespace nearcache
