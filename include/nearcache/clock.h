// Clock: the only source of time for the cache core and the lookup service.
//
// Production code uses SystemClock() (monotonic: std::chrono::steady_clock
// mapped onto absl::Time, so only differences are meaningful). Tests inject
// a ManualClock (tests/fakes/manual_clock.h) and move time by hand, the way
// leveldb's Env::NowMicros is swapped for a memory Env in its tests.
#ifndef NEARCACHE_CLOCK_H_
#define NEARCACHE_CLOCK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace nearcache {

// Thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time: never goes backwards. Not wall-clock time.
  virtual absl::Time Now() const = 0;

  // Now() as nanoseconds since absl::UnixEpoch() (saturated to int64), the
  // cache core's hot-path form. Overrides must equal absl::ToUnixNanos(Now()).
  virtual int64_t NowNanos() const { return absl::ToUnixNanos(Now()); }
};

// The process-wide monotonic clock. Never deleted.
const Clock* SystemClock();

}  // namespace nearcache

#endif  // NEARCACHE_CLOCK_H_
