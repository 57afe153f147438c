// Config: nearcache's YAML configuration as plain structs, and the functions
// that load, validate and render it. docs/configuration.md is the reference
// for every key; the defaults below are the documented defaults.
//
// Loading collects every problem in the file, not just the first, and
// reports each on its own line as "FILE: key.path: why". Durations take
// units ("250ms", "30s", "10m", "1h"), sizes take units ("64KiB", "256MiB").
//
// The Redis password is a secret: it is read from redis.password_file (or
// the NEARCACHE_REDIS_PASSWORD environment variable) into
// RedisConfig::password and is never printed, RenderConfig() included.
//
//   absl::StatusOr<Config> config = LoadConfigFile("/etc/nearcache.yaml");
//   if (!config.ok()) { std::cerr << config.status().message() << "\n"; ... }
#ifndef NEARCACHE_CONFIG_H_
#define NEARCACHE_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nearcache/redis_endpoint.h"

namespace nearcache {

// Thread-compatible plain struct: the client-facing listeners and the limits
// that protect the sidecar from a misbehaving client.
struct ListenConfig {
  // Unix socket for RESP clients; "" disables it.
  std::string resp_socket = "/var/run/nearcache/redis.sock";
  // Unix socket for HTTP/JSON clients; "" disables it.
  std::string http_socket = "/var/run/nearcache/http.sock";
  // Permission bits of both unix sockets (YAML: an octal string, "0660").
  uint32_t socket_mode = 0660;
  // Optional TCP "host:port" for RESP clients that take only host:port.
  std::string resp_tcp;
  // Optional TCP "host:port" for HTTP clients.
  std::string http_tcp;
  // I/O threads serving client connections.
  int threads = 1;
  // Client connections beyond this are refused.
  int max_connections = 10000;
  // Largest single bulk string (key, field) in a request.
  size_t max_bulk_bytes = size_t{64} << 20;
  // Most arguments in one command.
  int64_t max_args = 1048576;
  // Largest whole command, all arguments included (like Redis's
  // client-query-buffer-limit).
  size_t max_request_bytes = size_t{64} << 20;
  // Most reply bytes pending on one connection; a slower reader is
  // disconnected.
  size_t max_output_bytes = size_t{64} << 20;
  // HTTP: largest request line plus headers (else 431), and largest
  // request body (else 413).
  size_t http_max_header_bytes = size_t{8} << 10;
  size_t http_max_body_bytes = size_t{1} << 20;
  // A connection idle this long is closed; zero means never.
  absl::Duration idle_timeout = absl::ZeroDuration();
  // Peer uids (SO_PEERCRED) allowed on the unix sockets; empty allows any.
  std::vector<uint32_t> allowed_uids;

  bool operator==(const ListenConfig&) const = default;
};

// Thread-compatible plain struct: the admin HTTP port (probes, metrics).
struct AdminConfig {
  // TCP "host:port" serving /metrics, /healthz and /readyz.
  std::string address = "0.0.0.0:9464";

  bool operator==(const AdminConfig&) const = default;
};

// Field-wise equality, so that RedisConfig can default its operator==.
bool operator==(const RedisEndpoint& a, const RedisEndpoint& b);

// Thread-compatible plain struct: how to reach and talk to Redis.
struct RedisConfig {
  // As configured, minus any user:password@ (those move to username and
  // password): redis://host:port/db, rediss://host:port/db, unix:///path?db=N.
  std::string address = "redis://localhost:6379/0";
  // Parsed from `address`.
  RedisEndpoint endpoint;
  // ACL user for AUTH; "" means the default user.
  std::string username;
  // File holding the password (trailing newlines stripped).
  std::string password_file;
  // The resolved secret: from password_file, else from `address`, else from
  // NEARCACHE_REDIS_PASSWORD. Never log or print it.
  std::string password;
  // Bound on establishing a connection (TCP, TLS, AUTH, SELECT).
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // Bound on one command's round trip.
  absl::Duration command_timeout = absl::Milliseconds(50);
  // Connections to Redis for reads.
  int pool_size = 4;
  // Consecutive transport failures that open the circuit breaker.
  int breaker_failures = 5;
  // How long the breaker stays open before one probe request.
  absl::Duration breaker_cooldown = absl::Milliseconds(500);
  // Reconnect backoff bounds; the delay doubles from min to max, jittered.
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(5);
  // TLS (rediss:// only). CA bundle to verify the server; "" uses the
  // system's.
  std::string tls_ca_file;
  // Client certificate and its key, for mutual TLS; both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // SNI and the name verified in the certificate; "" uses the host.
  std::string tls_server_name;
  // Whether the server certificate is verified.
  bool tls_verify = true;

  bool operator==(const RedisConfig&) const = default;
};

// Thread-compatible plain struct: the local cache's bounds and freshness.
// Everything here but `shards` applies on SIGHUP without a restart.
struct CacheConfig {
  // Upper bound on the bytes held (keys, values and per-entry overhead).
  size_t max_bytes = size_t{256} << 20;
  // How long a value read from Redis is served as fresh.
  absl::Duration ttl = absl::Seconds(30);
  // How long past `ttl` a value may be served as stale while Redis is down.
  absl::Duration max_stale = absl::Minutes(10);
  // How long "does not exist" is served as fresh.
  absl::Duration negative_ttl = absl::Seconds(2);
  // Lock shards; rounded up to a power of two.
  int shards = 16;

  bool operator==(const CacheConfig&) const = default;
};

// Thread-compatible plain struct: how nearcache learns of changes in Redis.
struct InvalidationConfig {
  // CLIENT TRACKING with REDIRECT to a __redis__:invalidate subscriber.
  bool tracking = true;
  // Empty: default tracking mode (keys this process read); else BCAST mode
  // for these prefixes.
  std::vector<std::string> tracking_prefixes;
  // Application channel: a message is a key name, "*" flushes everything;
  // "" subscribes to none.
  std::string channel = "nearcache:invalidate";
  // Health PING on the invalidation connection, and how long its reply may
  // take before the link is declared lost.
  absl::Duration ping_interval = absl::Seconds(1);
  absl::Duration ping_timeout = absl::Seconds(1);

  bool operator==(const InvalidationConfig&) const = default;
};

// Thread-compatible plain struct: logging.
struct LogConfig {
  enum Level : uint8_t { kDebug, kInfo, kWarn, kError };
  enum Format : uint8_t { kJson, kText };
  // Least severe level written.
  Level level = kInfo;
  // One JSON object per line, or human-readable text.
  Format format = kJson;

  bool operator==(const LogConfig&) const = default;
};

// Thread-compatible plain struct: the whole configuration. Immutable once
// loaded; a reload builds a new one.
struct Config {
  ListenConfig listen;
  AdminConfig admin;
  RedisConfig redis;
  CacheConfig cache;
  InvalidationConfig invalidation;
  LogConfig log;
  // The file it was loaded from (the `filename` given to ParseConfig).
  std::string source_path;

  bool operator==(const Config&) const = default;
};

// "debug", "info", "warn", "error".
absl::string_view LogLevelName(LogConfig::Level level);
// "json", "text".
absl::string_view LogFormatName(LogConfig::Format format);

// Parses and validates YAML text. `filename` prefixes every error line and
// becomes Config::source_path. Empty text yields the defaults. Reads no
// files: the password is only what redis.address carries (see
// LoadConfigFile). On failure returns InvalidArgumentError whose message
// holds one "FILE: key.path: why" line per problem.
absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text,
                                   absl::string_view filename);

// Reads `path`, parses it with ParseConfig and resolves the password:
// redis.password_file if set, else a password in redis.address, else the
// NEARCACHE_REDIS_PASSWORD environment variable. Relative file paths
// (password_file, tls.*) are resolved against the directory of `path`, and
// the TLS files must be readable. A file that cannot be read yields
// InvalidArgumentError "FILE: cannot read: <strerror>".
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The effective configuration as YAML with every key, durations and sizes
// with units; ParseConfig accepts it back. The password is never included:
// a comment says "<redacted>" when one is set.
std::string RenderConfig(const Config& config);

// Key paths ("listen.threads", "redis.password", ...) whose values differ
// between `running` and `reloaded`, other than those a reload applies in
// place (cache.max_bytes, cache.ttl, cache.max_stale, cache.negative_ttl).
// Empty means the reload can be applied without a restart.
std::vector<std::string> KeysNeedingRestart(const Config& running,
                                            const Config& reloaded);

// A duration: a non-negative decimal number and a unit (ms, s, m, h), or a
// sequence of them ("1m30s"); "1.5s" is allowed; a bare "0" means zero.
absl::StatusOr<absl::Duration> ParseDurationValue(absl::string_view text);

// A byte size: a non-negative number and an optional unit. B, KiB, MiB,
// GiB, TiB are powers of 1024; KB, MB, GB, TB are powers of 1000; no unit
// means bytes. Units are case-sensitive ("mb" is refused, since Redis reads
// it as MiB). Fractions are allowed when they make whole bytes ("1.5KiB").
absl::StatusOr<size_t> ParseByteSize(absl::string_view text);

// A Redis address: redis://host[:port][/db] (port 6379 and db 0 by
// default; IPv6 hosts in brackets, [::1]), rediss:// for TLS, or
// unix:///absolute/path[?db=N]. A user:password@ in a redis:// or rediss://
// address is accepted and ignored here (ParseConfig moves it into
// RedisConfig).
absl::StatusOr<RedisEndpoint> ParseRedisAddress(absl::string_view address);

}  // namespace nearcache

#endif  // NEARCACHE_CONFIG_H_
