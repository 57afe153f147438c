// Clock: the only source of time for the cache core and the lookup service.
//
// Production code uses SystemClock() (monotonic: std::chrono::steady_clock
// mapped onto absl::Time, so only differences are meaningful). Tests inject
// a ManualClock (tests/fakes/manual_clock.h) and move time by hand, the way
// leveldb's Env::NowMicros is swapped for a memory Env in its tests.
#ifndef NEARCACHE_CLOCK_H_
#define NEARCACHE_CLOCK_H_

#include "absl/time/time.h"

namespace nearcache {

// Thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time: never goes backwards. Not wall-clock time.
  virtual absl::Time Now() const = 0;
};

// The process-wide monotonic clock. Never deleted.
const Clock* SystemClock();

}  // namespace nearcache

#endif  // NEARCACHE_CLOCK_H_
