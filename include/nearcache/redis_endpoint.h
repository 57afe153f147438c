// RedisEndpoint: where and how to reach Redis, parsed from `redis.address`
// (redis://host:port/db, rediss://host:port/db, unix:///path?db=N) by the
// config layer and used by the upstream layer to connect.
#ifndef NEARCACHE_REDIS_ENDPOINT_H_
#define NEARCACHE_REDIS_ENDPOINT_H_

#include <cstdint>
#include <string>

namespace nearcache {

// Thread-compatible plain struct.
struct RedisEndpoint {
  enum class Transport : uint8_t { kTcp, kTls, kUnix };
  Transport transport = Transport::kTcp;
  std::string host = "localhost";  // kTcp / kTls
  uint16_t port = 6379;            // kTcp / kTls
  std::string unix_path;           // kUnix
  int db = 0;                      // SELECTed after connecting

  // "redis://host:port/db" or "unix:///path?db=N": for logs; never secret.
  std::string ToString() const;
};

}  // namespace nearcache

#endif  // NEARCACHE_REDIS_ENDPOINT_H_
