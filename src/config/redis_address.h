// Internal to the config layer: parses redis.address, credentials included.
// The public ParseRedisAddress (nearcache/config.h) drops the credentials;
// ParseConfig moves them into RedisConfig::username and ::password.
#ifndef NEARCACHE_SRC_CONFIG_REDIS_ADDRESS_H_
#define NEARCACHE_SRC_CONFIG_REDIS_ADDRESS_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nearcache/redis_endpoint.h"

namespace nearcache::config_internal {

// The longest path a unix socket address holds on Linux: sun_path's 108
// bytes less the terminating NUL.
inline constexpr size_t kMaxUnixSocketPath = 107;

// Thread-compatible plain struct.
struct RedisUrl {
  RedisEndpoint endpoint;
  std::string username;  // percent-decoded; "" when absent
  std::string password;  // percent-decoded; "" when absent
  // The address as given, with any "user:password@" removed.
  std::string address_without_credentials;
};

// `address` with the password of any "user:password@" replaced by
// "<redacted>": safe to print.
std::string RedactAddress(absl::string_view address);

// See ParseRedisAddress. Error messages never contain the password.
absl::StatusOr<RedisUrl> ParseRedisUrl(absl::string_view address);

}  // namespace nearcache::config_internal

#endif  // NEARCACHE_SRC_CONFIG_REDIS_ADDRESS_H_
