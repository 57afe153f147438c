#include "nearcache/clock.h"

#include <chrono>

namespace nearcache {
namespace {

// Maps std::chrono::steady_clock onto absl::Time: monotonic, arbitrary epoch.
class SteadyClock : public Clock {
 public:
  absl::Time Now() const override {
    return absl::UnixEpoch() +
           absl::FromChrono(
               std::chrono::steady_clock::now().time_since_epoch());
  }
};

}  // namespace

const Clock* SystemClock() {
  static const SteadyClock* const clock = new SteadyClock();
  return clock;
}

}  // namespace nearcache
