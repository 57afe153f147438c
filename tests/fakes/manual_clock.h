// ManualClock: a Clock that moves only when a test tells it to.
#ifndef NEARCACHE_TESTS_FAKES_MANUAL_CLOCK_H_
#define NEARCACHE_TESTS_FAKES_MANUAL_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "nearcache/clock.h"

namespace nearcache {

// Thread-safe: Now() and Advance() may race; each is atomic.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1))
      : ns_(absl::ToUnixNanos(start)) {}

  absl::Time Now() const override {
    return absl::FromUnixNanos(ns_.load(std::memory_order_relaxed));
  }
  void Advance(absl::Duration d) {
    ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> ns_;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FAKES_MANUAL_CLOCK_H_
