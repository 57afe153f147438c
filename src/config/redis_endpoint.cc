// RedisEndpoint's printing and comparison (the type lives in
// nearcache/redis_endpoint.h; the config layer parses it).

#include "nearcache/redis_endpoint.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nearcache/config.h"

namespace nearcache {

std::string RedisEndpoint::ToString() const {
  if (transport == Transport::kUnix) {
    return absl::StrCat("unix://", unix_path, "?db=", db);
  }
  const absl::string_view scheme =
      transport == Transport::kTls ? "rediss" : "redis";
  // An IPv6 literal needs brackets to tell its colons from the port's.
  const bool bracket = host.find(':') != std::string::npos;
  return absl::StrCat(scheme, "://", bracket ? "[" : "", host,
                      bracket ? "]" : "", ":", port, "/", db);
}

bool operator==(const RedisEndpoint& a, const RedisEndpoint& b) {
  return a.transport == b.transport && a.host == b.host && a.port == b.port &&
         a.unix_path == b.unix_path && a.db == b.db;
}

}  // namespace nearcache
