#include "nearcache/clock.h"

#include <chrono>

namespace nearcache {
namespace {

// Maps std::chrono::steady_clock onto absl::Time: monotonic, arbitrary epoch.
class SteadyClock : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixNanos(NowNanos()); }
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

const Clock* SystemClock() {
  static const SteadyClock* const clock = new SteadyClock();
  return clock;
}

}  // namespace nearcache
