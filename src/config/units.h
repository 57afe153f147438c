// Internal to the config layer: writes durations and byte sizes in the
// grammar that ParseDurationValue and ParseByteSize (nearcache/config.h)
// read, so that a rendered config parses back to the same values.
#ifndef NEARCACHE_SRC_CONFIG_UNITS_H_
#define NEARCACHE_SRC_CONFIG_UNITS_H_

#include <cstddef>
#include <string>

#include "absl/time/time.h"

namespace nearcache::config_internal {

// "0s", "250ms", "30s", "10m", "1h", "90s", "0.5ms": the largest unit that
// holds `d` exactly. REQUIRES: d is finite and not negative.
std::string FormatDurationValue(absl::Duration d);

// "0B", "64KiB", "256MiB", "1000B": the largest binary unit that holds
// `bytes` exactly.
std::string FormatByteSize(size_t bytes);

}  // namespace nearcache::config_internal

#endif  // NEARCACHE_SRC_CONFIG_UNITS_H_
