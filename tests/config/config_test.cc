// The configuration file: defaults, every key, the round trip through
// RenderConfig, every class of error (with its exact key path, several at
// once), the password's sources and its redaction, and the example file in
// the repository.

#include "nearcache/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nearcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kFile[] = "nearcache.yaml";

Config Parse(absl::string_view yaml) {
  absl::StatusOr<Config> config = ParseConfig(yaml, kFile);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.value_or(Config{});
}

// The error lines ParseConfig reports for `yaml`.
std::vector<std::string> Errors(absl::string_view yaml) {
  absl::StatusOr<Config> config = ParseConfig(yaml, kFile);
  EXPECT_FALSE(config.ok()) << "parsed:\n" << RenderConfig(*config);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(config.status().message(), '\n');
}

// The one error line ParseConfig reports for `yaml`.
std::string Error(absl::string_view yaml) {
  std::vector<std::string> errors = Errors(yaml);
  EXPECT_THAT(errors, SizeIs(1));
  return errors.empty() ? "" : errors[0];
}

// Every key set to something other than its default.
constexpr char kEveryKey[] = R"(
listen:
  resp_socket: /run/nc/redis.sock
  http_socket: /run/nc/http.sock
  socket_mode: "0600"
  resp_tcp: 127.0.0.1:6380
  http_tcp: "[::1]:8080"
  threads: 4
  max_connections: 500
  max_bulk_bytes: 1MiB
  max_args: 4096
  max_request_bytes: 8MiB
  max_output_bytes: 16MiB
  http_max_header_bytes: 16KiB
  http_max_body_bytes: 4MiB
  idle_timeout: 5m
  allowed_uids: [1000, 1001]
admin:
  address: 127.0.0.1:9000
redis:
  address: rediss://redis.prod:6390/2
  username: feast
  password_file: /etc/nearcache/redis-password
  connect_timeout: 1s
  command_timeout: 20ms
  pool_size: 8
  breaker_failures: 3
  breaker_cooldown: 2s
  reconnect_min: 100ms
  reconnect_max: 10s
  tls:
    ca_file: /etc/ssl/redis-ca.pem
    cert_file: /etc/ssl/client.pem
    key_file: /etc/ssl/client.key
    server_name: redis.internal
    verify: false
cache:
  max_bytes: 1GiB
  ttl: 1.5s
  max_stale: 1h
  negative_ttl: 500ms
  shards: 64
invalidation:
  tracking: false
  tracking_prefixes: ["user:", "item:"]
  channel: features:invalidate
  ping_interval: 3s
  ping_timeout: 750ms
log:
  level: debug
  format: text
)";

TEST(ParseConfigTest, EmptyFileMeansDefaults) {
  Config expected;
  expected.source_path = kFile;
  EXPECT_EQ(Parse(""), expected);
  EXPECT_EQ(Parse("# only a comment\n\n"), expected);
  EXPECT_EQ(Parse("cache:\nlisten:\n"), expected);
}

TEST(ParseConfigTest, DefaultsAreTheDocumentedOnes) {
  const Config c = Parse("");
  EXPECT_EQ(c.listen.resp_socket, "/var/run/nearcache/redis.sock");
  EXPECT_EQ(c.listen.http_socket, "/var/run/nearcache/http.sock");
  EXPECT_EQ(c.listen.socket_mode, 0660u);
  EXPECT_EQ(c.listen.resp_tcp, "");
  EXPECT_EQ(c.listen.threads, 1);
  EXPECT_EQ(c.listen.max_bulk_bytes, size_t{64} << 20);
  EXPECT_EQ(c.listen.max_args, 1048576);
  EXPECT_EQ(c.listen.idle_timeout, absl::ZeroDuration());
  EXPECT_EQ(c.listen.http_max_header_bytes, size_t{8} << 10);
  EXPECT_EQ(c.listen.http_max_body_bytes, size_t{1} << 20);
  EXPECT_EQ(c.admin.address, "0.0.0.0:9464");
  EXPECT_EQ(c.redis.address, "redis://localhost:6379/0");
  EXPECT_EQ(c.redis.endpoint.ToString(), "redis://localhost:6379/0");
  EXPECT_EQ(c.redis.connect_timeout, absl::Milliseconds(250));
  EXPECT_EQ(c.redis.command_timeout, absl::Milliseconds(50));
  EXPECT_EQ(c.redis.pool_size, 4);
  EXPECT_TRUE(c.redis.tls_verify);
  EXPECT_EQ(c.redis.password, "");
  EXPECT_EQ(c.cache.max_bytes, size_t{256} << 20);
  EXPECT_EQ(c.cache.ttl, absl::Seconds(30));
  EXPECT_EQ(c.cache.max_stale, absl::Minutes(10));
  EXPECT_EQ(c.cache.negative_ttl, absl::Seconds(2));
  EXPECT_TRUE(c.invalidation.tracking);
  EXPECT_THAT(c.invalidation.tracking_prefixes, IsEmpty());
  EXPECT_EQ(c.invalidation.channel, "nearcache:invalidate");
  EXPECT_EQ(c.log.level, LogConfig::kInfo);
  EXPECT_EQ(c.log.format, LogConfig::kJson);
}

TEST(ParseConfigTest, EveryKeyIsRead) {
  const Config c = Parse(kEveryKey);
  EXPECT_EQ(c.listen.resp_socket, "/run/nc/redis.sock");
  EXPECT_EQ(c.listen.http_socket, "/run/nc/http.sock");
  EXPECT_EQ(c.listen.socket_mode, 0600u);
  EXPECT_EQ(c.listen.resp_tcp, "127.0.0.1:6380");
  EXPECT_EQ(c.listen.http_tcp, "[::1]:8080");
  EXPECT_EQ(c.listen.threads, 4);
  EXPECT_EQ(c.listen.max_connections, 500);
  EXPECT_EQ(c.listen.max_bulk_bytes, size_t{1} << 20);
  EXPECT_EQ(c.listen.max_args, 4096);
  EXPECT_EQ(c.listen.max_request_bytes, size_t{8} << 20);
  EXPECT_EQ(c.listen.max_output_bytes, size_t{16} << 20);
  EXPECT_EQ(c.listen.http_max_header_bytes, size_t{16} << 10);
  EXPECT_EQ(c.listen.http_max_body_bytes, size_t{4} << 20);
  EXPECT_EQ(c.listen.idle_timeout, absl::Minutes(5));
  EXPECT_THAT(c.listen.allowed_uids, ElementsAre(1000u, 1001u));
  EXPECT_EQ(c.admin.address, "127.0.0.1:9000");
  EXPECT_EQ(c.redis.address, "rediss://redis.prod:6390/2");
  EXPECT_EQ(c.redis.endpoint.transport, RedisEndpoint::Transport::kTls);
  EXPECT_EQ(c.redis.endpoint.host, "redis.prod");
  EXPECT_EQ(c.redis.endpoint.port, 6390);
  EXPECT_EQ(c.redis.endpoint.db, 2);
  EXPECT_EQ(c.redis.username, "feast");
  EXPECT_EQ(c.redis.password_file, "/etc/nearcache/redis-password");
  EXPECT_EQ(c.redis.password, "");  // ParseConfig reads no files
  EXPECT_EQ(c.redis.connect_timeout, absl::Seconds(1));
  EXPECT_EQ(c.redis.command_timeout, absl::Milliseconds(20));
  EXPECT_EQ(c.redis.pool_size, 8);
  EXPECT_EQ(c.redis.breaker_failures, 3);
  EXPECT_EQ(c.redis.breaker_cooldown, absl::Seconds(2));
  EXPECT_EQ(c.redis.reconnect_min, absl::Milliseconds(100));
  EXPECT_EQ(c.redis.reconnect_max, absl::Seconds(10));
  EXPECT_EQ(c.redis.tls_ca_file, "/etc/ssl/redis-ca.pem");
  EXPECT_EQ(c.redis.tls_cert_file, "/etc/ssl/client.pem");
  EXPECT_EQ(c.redis.tls_key_file, "/etc/ssl/client.key");
  EXPECT_EQ(c.redis.tls_server_name, "redis.internal");
  EXPECT_FALSE(c.redis.tls_verify);
  EXPECT_EQ(c.cache.max_bytes, size_t{1} << 30);
  EXPECT_EQ(c.cache.ttl, absl::Milliseconds(1500));
  EXPECT_EQ(c.cache.max_stale, absl::Hours(1));
  EXPECT_EQ(c.cache.negative_ttl, absl::Milliseconds(500));
  EXPECT_EQ(c.cache.shards, 64);
  EXPECT_FALSE(c.invalidation.tracking);
  EXPECT_THAT(c.invalidation.tracking_prefixes, ElementsAre("user:", "item:"));
  EXPECT_EQ(c.invalidation.channel, "features:invalidate");
  EXPECT_EQ(c.invalidation.ping_interval, absl::Seconds(3));
  EXPECT_EQ(c.invalidation.ping_timeout, absl::Milliseconds(750));
  EXPECT_EQ(c.log.level, LogConfig::kDebug);
  EXPECT_EQ(c.log.format, LogConfig::kText);
  EXPECT_EQ(c.source_path, kFile);
}

TEST(ParseConfigTest, ValueSpellings) {
  Config c = Parse("listen:\n  socket_mode: 0640\n");  // unquoted, octal
  EXPECT_EQ(c.listen.socket_mode, 0640u);
  c = Parse("listen:\n  socket_mode: 660\n");  // as chmod reads it
  EXPECT_EQ(c.listen.socket_mode, 0660u);
  c = Parse("listen:\n  socket_mode: 0o600\n");
  EXPECT_EQ(c.listen.socket_mode, 0600u);
  c = Parse("invalidation:\n  tracking: no\n  tracking_prefixes:\n    - a\n");
  EXPECT_FALSE(c.invalidation.tracking);
  EXPECT_THAT(c.invalidation.tracking_prefixes, ElementsAre("a"));
  c = Parse("log:\n  level: WARN\n");
  EXPECT_EQ(c.log.level, LogConfig::kWarn);
  c = Parse("listen:\n  resp_tcp:\n");  // empty value: the empty string
  EXPECT_EQ(c.listen.resp_tcp, "");
  c = Parse("listen:\n  resp_socket: \"\"\n  resp_tcp: 0.0.0.0:6379\n");
  EXPECT_EQ(c.listen.resp_socket, "");
  c = Parse("cache:\n  max_stale: 0\n  negative_ttl: 0s\n");
  EXPECT_EQ(c.cache.max_stale, absl::ZeroDuration());
  EXPECT_EQ(c.cache.negative_ttl, absl::ZeroDuration());
}

TEST(RenderConfigTest, RoundTripsEveryKey) {
  const Config c = Parse(kEveryKey);
  const std::string yaml = RenderConfig(c);
  EXPECT_EQ(Parse(yaml), c) << yaml;
}

TEST(RenderConfigTest, RoundTripsDefaults) {
  const Config c = Parse("");
  EXPECT_EQ(Parse(RenderConfig(c)), c);
}

TEST(RenderConfigTest, RoundTripsAwkwardStrings) {
  Config c;
  c.source_path = kFile;
  c.redis.address = "rediss://[::1]:6380/3";
  c.redis.endpoint = *ParseRedisAddress(c.redis.address);
  c.redis.username = "yes";  // a YAML 1.1 boolean
  c.redis.password_file = "/run/my secrets/pw #1";
  c.redis.tls_server_name = "0660";  // a number
  c.invalidation.channel = "a\"quoted\\ \t\x01 channel: #";
  c.invalidation.tracking_prefixes = {"user:", "-",    "[x]",        "{y}",
                                      "a,b",   "it's", "caf\xc3\xa9"};
  c.listen.allowed_uids = {0, 4294967294u};
  c.cache.ttl = absl::Microseconds(1500);
  c.cache.max_bytes = 1000;
  c.listen.socket_mode = 0;
  const std::string yaml = RenderConfig(c);
  EXPECT_EQ(Parse(yaml), c) << yaml;
}

TEST(RenderConfigTest, ShowsEveryKeyWithUnits) {
  const std::string yaml = RenderConfig(Parse(""));
  for (absl::string_view line : {
           "listen:\n",
           "  resp_socket: /var/run/nearcache/redis.sock\n",
           "  socket_mode: \"0660\"\n",
           "  resp_tcp: \"\"\n",
           "  max_bulk_bytes: 64MiB\n",
           "  http_max_header_bytes: 8KiB\n",
           "  http_max_body_bytes: 1MiB\n",
           "  idle_timeout: 0s\n",
           "  allowed_uids: []\n",
           "admin:\n  address: 0.0.0.0:9464\n",
           "  address: redis://localhost:6379/0\n",
           "  connect_timeout: 250ms\n",
           "  # password: (none)\n",
           "  tls:\n    ca_file: \"\"\n",
           "    verify: true\n",
           "cache:\n  max_bytes: 256MiB\n  ttl: 30s\n  max_stale: 10m\n",
           "  channel: nearcache:invalidate\n",
           "log:\n  level: info\n  format: json\n",
       }) {
    EXPECT_THAT(yaml, HasSubstr(line));
  }
}

// ---- Errors ----

TEST(ConfigErrorsTest, UnknownKeySuggestsTheClosestKnownOne) {
  EXPECT_EQ(Error("cache:\n  max_byte: 1MiB\n"),
            "nearcache.yaml: cache.max_byte: unknown key (did you mean "
            "max_bytes?)");
  EXPECT_EQ(Error("cach:\n  ttl: 1s\n"),
            "nearcache.yaml: cach: unknown key (did you mean cache?)");
  EXPECT_EQ(Error("cache:\n  tll: 1s\n"),
            "nearcache.yaml: cache.tll: unknown key (did you mean ttl?)");
  EXPECT_EQ(Error("redis:\n  tls:\n    verfy: true\n"),
            "nearcache.yaml: redis.tls.verfy: unknown key (did you mean "
            "verify?)");
  EXPECT_EQ(Error("cache:\n  frobnicate: 1\n"),
            "nearcache.yaml: cache.frobnicate: unknown key");
}

TEST(ConfigErrorsTest, KeyInTheWrongSectionNamesTheRightOne) {
  EXPECT_EQ(Error("ttl: 5s\n"),
            "nearcache.yaml: ttl: unknown key (did you mean cache.ttl?)");
  EXPECT_EQ(Error("cache:\n  pool_size: 2\n"),
            "nearcache.yaml: cache.pool_size: unknown key (did you mean "
            "redis.pool_size?)");
  EXPECT_EQ(Error("cache:\n  address: x\n"),
            "nearcache.yaml: cache.address: unknown key (did you mean "
            "admin.address or redis.address?)");
}

TEST(ConfigErrorsTest, InvalidDurationsAndSizes) {
  EXPECT_EQ(Error("cache:\n  ttl: 30\n"),
            "nearcache.yaml: cache.ttl: invalid duration \"30\": needs a unit "
            "(ms, s, m, h)");
  EXPECT_EQ(Error("redis:\n  connect_timeout: -1s\n"),
            "nearcache.yaml: redis.connect_timeout: invalid duration \"-1s\": "
            "must not be negative");
  EXPECT_EQ(Error("cache:\n  max_bytes: 256mb\n"),
            "nearcache.yaml: cache.max_bytes: invalid size \"256mb\": unknown "
            "unit \"mb\" (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

TEST(ConfigErrorsTest, HttpLimits) {
  EXPECT_EQ(Error("listen:\n  http_max_header_bytes: 0\n"),
            "nearcache.yaml: listen.http_max_header_bytes: must be greater "
            "than 0");
  EXPECT_EQ(Error("listen:\n  http_max_header_bytes: 65MiB\n"),
            "nearcache.yaml: listen.http_max_header_bytes: must be at most "
            "64MiB");
  EXPECT_EQ(Error("listen:\n  http_max_body_bytes: 0B\n"),
            "nearcache.yaml: listen.http_max_body_bytes: must be greater "
            "than 0");
  EXPECT_EQ(Error("listen:\n  http_max_body_bytes: 2mb\n"),
            "nearcache.yaml: listen.http_max_body_bytes: invalid size \"2mb\": "
            "unknown unit \"mb\" (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
  // The largest header limit is accepted.
  EXPECT_EQ(Parse("listen:\n  http_max_header_bytes: 64MiB\n")
                .listen.http_max_header_bytes,
            size_t{64} << 20);
  // Typos name the right key, in its section or from another one.
  EXPECT_EQ(Error("listen:\n  http_max_body_byte: 1MiB\n"),
            "nearcache.yaml: listen.http_max_body_byte: unknown key (did you "
            "mean http_max_body_bytes?)");
  EXPECT_EQ(Error("admin:\n  http_max_header_bytes: 1MiB\n"),
            "nearcache.yaml: admin.http_max_header_bytes: unknown key (did you "
            "mean listen.http_max_header_bytes?)");
}

TEST(ConfigErrorsTest, WrongTypes) {
  EXPECT_EQ(Error("cache:\n  ttl:\n    seconds: 30\n"),
            "nearcache.yaml: cache.ttl: expected a duration (e.g. 30s), got a "
            "map");
  EXPECT_EQ(Error("cache:\n  max_bytes: [1, 2]\n"),
            "nearcache.yaml: cache.max_bytes: expected a size (e.g. 256MiB), "
            "got a list");
  EXPECT_EQ(Error("cache:\n  ttl:\n"),
            "nearcache.yaml: cache.ttl: missing value: expected a duration "
            "(e.g. 30s)");
  EXPECT_EQ(Error("redis:\n  pool_size: 4.5\n"),
            "nearcache.yaml: redis.pool_size: invalid integer \"4.5\"");
  EXPECT_EQ(Error("redis:\n  pool_size: four\n"),
            "nearcache.yaml: redis.pool_size: invalid integer \"four\"");
  EXPECT_EQ(Error("redis:\n  username: {a: b}\n"),
            "nearcache.yaml: redis.username: expected a string, got a map");
  EXPECT_EQ(Error("invalidation:\n  tracking: maybe\n"),
            "nearcache.yaml: invalidation.tracking: invalid boolean \"maybe\" "
            "(true or false)");
  EXPECT_EQ(Error("invalidation:\n  tracking_prefixes: user\n"),
            "nearcache.yaml: invalidation.tracking_prefixes: expected a list "
            "(e.g. [a, b] or []), got a single value");
  EXPECT_EQ(Error("cache: 5\n"),
            "nearcache.yaml: cache: expected a map of settings, got a single "
            "value");
  EXPECT_EQ(Error("- cache\n"),
            "nearcache.yaml: expected a map of sections (listen, admin, "
            "redis, cache, invalidation, log), got a list");
}

TEST(ConfigErrorsTest, ListElementsAreCheckedOneByOne) {
  EXPECT_THAT(
      Errors("listen:\n  allowed_uids: [1000, x, -1, 4294967295]\n"),
      ElementsAre(
          "nearcache.yaml: listen.allowed_uids[1]: invalid integer \"x\"",
          "nearcache.yaml: listen.allowed_uids[2]: -1 is out of range "
          "(0..4294967294)",
          "nearcache.yaml: listen.allowed_uids[3]: 4294967295 is out of "
          "range (0..4294967294)"));
  EXPECT_EQ(Error("invalidation:\n  tracking_prefixes: [a, [b]]\n"),
            "nearcache.yaml: invalidation.tracking_prefixes[1]: expected a "
            "string, got a list");
}

TEST(ConfigErrorsTest, Ranges) {
  EXPECT_EQ(Error("redis:\n  pool_size: 0\n"),
            "nearcache.yaml: redis.pool_size: 0 is out of range (1..64)");
  EXPECT_EQ(Error("redis:\n  pool_size: 65\n"),
            "nearcache.yaml: redis.pool_size: 65 is out of range (1..64)");
  EXPECT_EQ(Error("listen:\n  threads: 0\n"),
            "nearcache.yaml: listen.threads: 0 is out of range (1..64)");
  EXPECT_EQ(Error("listen:\n  threads: 100\n"),
            "nearcache.yaml: listen.threads: 100 is out of range (1..64)");
  EXPECT_EQ(Error("cache:\n  max_bytes: 0\n"),
            "nearcache.yaml: cache.max_bytes: must be greater than 0");
  EXPECT_EQ(Error("cache:\n  ttl: 0s\n"),
            "nearcache.yaml: cache.ttl: must be greater than 0");
  EXPECT_EQ(Error("redis:\n  command_timeout: 0\n"),
            "nearcache.yaml: redis.command_timeout: must be greater than 0");
  EXPECT_EQ(Error("log:\n  level: verbose\n"),
            "nearcache.yaml: log.level: invalid value \"verbose\" (debug, "
            "info, warn, error)");
  EXPECT_EQ(Error("log:\n  format: xml\n"),
            "nearcache.yaml: log.format: invalid value \"xml\" (json, text)");
}

TEST(ConfigErrorsTest, SocketMode) {
  for (absl::string_view mode : {"\"0999\"", "rw", "\"07777\"", "\"\""}) {
    EXPECT_THAT(Error(absl::StrCat("listen:\n  socket_mode: ", mode, "\n")),
                MatchesRegex("nearcache.yaml: listen.socket_mode: invalid "
                             "mode .*: expected octal permission bits, e.g. "
                             "\"0660\""))
        << mode;
  }
}

TEST(ConfigErrorsTest, Listeners) {
  EXPECT_EQ(Error("listen:\n  resp_socket: \"\"\n  http_socket: \"\"\n"),
            "nearcache.yaml: listen: no listener: set at least one of "
            "resp_socket, http_socket, resp_tcp, http_tcp");
  EXPECT_EQ(Error("listen:\n  resp_tcp: \"6379\"\n"),
            "nearcache.yaml: listen.resp_tcp: invalid address \"6379\": "
            "expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379");
  EXPECT_THAT(Error("listen:\n  http_tcp: \"localhost:\"\n"),
              HasSubstr("listen.http_tcp: invalid address \"localhost:\": "
                        "port must be 1..65535"));
  EXPECT_THAT(Error("listen:\n  resp_tcp: \"::1:6379\"\n"),
              HasSubstr("listen.resp_tcp: invalid address \"::1:6379\": an "
                        "IPv6 host needs brackets"));
  EXPECT_THAT(Error("admin:\n  address: \"\"\n"),
              HasSubstr("nearcache.yaml: admin.address: invalid address"));
  EXPECT_EQ(Error("listen:\n  http_socket: /var/run/nearcache/redis.sock\n"),
            "nearcache.yaml: listen.http_socket: same path as "
            "listen.resp_socket");
  EXPECT_EQ(Error("listen:\n  resp_tcp: 0.0.0.0:9464\n"),
            "nearcache.yaml: admin.address: same address as listen.resp_tcp");
  EXPECT_THAT(
      Error(absl::StrCat("listen:\n  resp_socket: /", std::string(120, 'x'),
                         "\n")),
      HasSubstr("listen.resp_socket: path is 121 bytes; a unix socket path "
                "holds at most 107"));
}

TEST(ConfigErrorsTest, RedisChecks) {
  EXPECT_EQ(Error("redis:\n  address: localhost:6379\n"),
            "nearcache.yaml: redis.address: invalid Redis address "
            "\"localhost:6379\": expected redis://host:port/db, "
            "rediss://host:port/db or unix:///path (did you mean "
            "redis://localhost:6379?)");
  EXPECT_EQ(Error("redis:\n  reconnect_min: 2s\n  reconnect_max: 1s\n"),
            "nearcache.yaml: redis.reconnect_max: 1s is less than "
            "redis.reconnect_min (2s)");
  EXPECT_EQ(Error("redis:\n  tls:\n    ca_file: /ca.pem\n"),
            "nearcache.yaml: redis.tls: TLS settings are given but "
            "redis.address is not rediss://");
  EXPECT_EQ(Error("redis:\n  address: rediss://h\n  tls:\n"
                  "    cert_file: /c.pem\n"),
            "nearcache.yaml: redis.tls.key_file: needed with "
            "redis.tls.cert_file");
  EXPECT_EQ(Error("invalidation:\n  tracking_prefixes: [user, user:1]\n"),
            "nearcache.yaml: invalidation.tracking_prefixes: \"user\" and "
            "\"user:1\" overlap; Redis refuses overlapping prefixes");
}

TEST(ConfigErrorsTest, DuplicateKeys) {
  EXPECT_EQ(Error("cache:\n  ttl: 1s\n  ttl: 2s\n"),
            "nearcache.yaml: cache.ttl: duplicate key");
}

TEST(ConfigErrorsTest, YamlSyntaxErrorsGiveLineAndColumn) {
  EXPECT_THAT(Error("cache:\n  ttl: 1s\n  max_bytes: [1MiB\n"),
              MatchesRegex("nearcache\\.yaml:[34]:[0-9]+: invalid YAML: .+"));
  EXPECT_THAT(Error("cache:\n  ttl: 1s\n bad indent: 1\n"),
              MatchesRegex("nearcache\\.yaml:3:[0-9]+: invalid YAML: .+"));
  EXPECT_THAT(Error("a: 1\n---\nb: 2\n"),
              HasSubstr("nearcache.yaml: holds 2 YAML documents; expected "
                        "one"));
}

TEST(ConfigErrorsTest, AllErrorsAreReportedInFileOrder) {
  EXPECT_THAT(
      Errors(R"(
listen:
  threads: 0
redis:
  pool_size: many
  address: redis://:6379
cache:
  ttl: 30
  max_byte: 1GiB
log:
  level: loud
)"),
      ElementsAre("nearcache.yaml: listen.threads: 0 is out of range (1..64)",
                  "nearcache.yaml: redis.pool_size: invalid integer \"many\"",
                  "nearcache.yaml: redis.address: invalid Redis address "
                  "\"redis://:6379\": missing host",
                  "nearcache.yaml: cache.ttl: invalid duration \"30\": needs "
                  "a unit (ms, s, m, h)",
                  "nearcache.yaml: cache.max_byte: unknown key (did you mean "
                  "max_bytes?)",
                  "nearcache.yaml: log.level: invalid value \"loud\" (debug, "
                  "info, warn, error)"));
}

TEST(ConfigErrorsTest, OneMistakeIsReportedOnce) {
  // reconnect_min is refused; comparing its default with reconnect_max
  // would only add noise.
  EXPECT_THAT(Errors("redis:\n  reconnect_min: 1x\n  reconnect_max: 10ms\n"),
              SizeIs(1));
  // So is a bad listener: "no listener" would be wrong.
  EXPECT_THAT(Errors("listen:\n  resp_socket: \"\"\n  http_socket: \"\"\n"
                     "  resp_tcp: nope\n"),
              SizeIs(1));
}

// ---- redis.address credentials ----

TEST(RedisCredentialsTest, MoveFromTheAddressIntoTheirFields) {
  const Config c = Parse("redis:\n  address: redis://alice:s3cret@h:6379/1\n");
  EXPECT_EQ(c.redis.address, "redis://h:6379/1");
  EXPECT_EQ(c.redis.username, "alice");
  EXPECT_EQ(c.redis.password, "s3cret");
  EXPECT_EQ(c.redis.endpoint.db, 1);
}

TEST(RedisCredentialsTest, UsernameFieldWins) {
  const Config c =
      Parse("redis:\n  address: redis://alice:s3cret@h\n  username: bob\n");
  EXPECT_EQ(c.redis.username, "bob");
  EXPECT_EQ(c.redis.password, "s3cret");
}

TEST(RedisCredentialsTest, BadAddressErrorHidesThePassword) {
  const std::string error =
      Error("redis:\n  address: redis://alice:s3cret@h:99999\n");
  EXPECT_THAT(error, HasSubstr("redis.address: invalid Redis address "
                               "\"redis://alice:<redacted>@h:99999\""));
  EXPECT_THAT(error, Not(HasSubstr("s3cret")));
}

// ---- Redaction ----

TEST(RedactionTest, RenderConfigNeverShowsThePassword) {
  Config c = Parse("redis:\n  address: redis://alice:s3cret@h:6379/0\n");
  std::string yaml = RenderConfig(c);
  EXPECT_THAT(yaml, Not(HasSubstr("s3cret")));
  EXPECT_THAT(yaml, HasSubstr("  # password: <redacted>\n"));
  EXPECT_THAT(yaml, HasSubstr("  username: alice\n"));

  // Even a config built in code with credentials in the address.
  c = Config{};
  c.redis.address = "redis://alice:hunter2@h:6379/0";
  c.redis.password = "hunter2";
  yaml = RenderConfig(c);
  EXPECT_THAT(yaml, Not(HasSubstr("hunter2")));
  EXPECT_THAT(yaml, HasSubstr("  address: redis://h:6379/0\n"));
  c.redis.address = "redis://alice:hunter2@h:notaport";
  EXPECT_THAT(RenderConfig(c), Not(HasSubstr("hunter2")));
}

// ---- KeysNeedingRestart ----

TEST(KeysNeedingRestartTest, CacheSizesAndTtlsApplyInPlace) {
  const Config running = Parse("");
  const Config reloaded = Parse(
      "cache:\n  max_bytes: 1GiB\n  ttl: 5s\n  max_stale: 1m\n"
      "  negative_ttl: 0\n");
  EXPECT_THAT(KeysNeedingRestart(running, reloaded), IsEmpty());
}

TEST(KeysNeedingRestartTest, EverythingElseIsNamed) {
  const Config running = Parse("");
  Config reloaded = Parse(
      "listen:\n  threads: 2\n  http_max_body_bytes: 2MiB\n"
      "redis:\n  address: redis://other:6379/0\n"
      "cache:\n  shards: 32\n  ttl: 1s\n");
  reloaded.redis.password = "new";
  EXPECT_THAT(KeysNeedingRestart(running, reloaded),
              ElementsAre("listen.threads", "listen.http_max_body_bytes",
                          "redis.address", "redis.password", "cache.shards"));
}

// ---- LoadConfigFile: files, the password, the example ----

// Runs each test in a fresh directory, with NEARCACHE_REDIS_PASSWORD unset
// and restored afterwards.
class LoadConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* env = std::getenv("NEARCACHE_REDIS_PASSWORD")) {
      saved_env_ = env;
    }
    unsetenv("NEARCACHE_REDIS_PASSWORD");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tmp = ::testing::TempDir();
    if (absl::EndsWith(tmp, "/")) tmp.pop_back();
    dir_ = absl::StrCat(tmp, "/nearcache_config_", info->name(), "_", getpid());
    mkdir(dir_.c_str(), 0700);
  }

  void TearDown() override {
    if (saved_env_) {
      setenv("NEARCACHE_REDIS_PASSWORD", saved_env_->c_str(), 1);
    } else {
      unsetenv("NEARCACHE_REDIS_PASSWORD");
    }
  }

  // Writes `content` to `name` in the test's directory; returns its path.
  std::string Write(absl::string_view name, absl::string_view content) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
  }

  std::string dir_;
  std::optional<std::string> saved_env_;
};

TEST_F(LoadConfigFileTest, MissingFile) {
  const std::string path = dir_ + "/absent.yaml";
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            path + ": cannot read: No such file or directory");
}

TEST_F(LoadConfigFileTest, ADirectoryIsNotAConfig) {
  absl::StatusOr<Config> c = LoadConfigFile(dir_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), dir_ + ": cannot read: Is a directory");
}

TEST_F(LoadConfigFileTest, ErrorsNameThePathAsGiven) {
  const std::string path = Write("bad.yaml", "cache:\n  ttl: 30\n");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            path +
                ": cache.ttl: invalid duration \"30\": needs a unit (ms, "
                "s, m, h)");
}

TEST_F(LoadConfigFileTest, PasswordFileTrailingNewlinesStripped) {
  Write("pw", "s3cret pass\r\n\n");
  const std::string path =
      Write("c.yaml", absl::StrCat("redis:\n  password_file: ", dir_, "/pw\n"));
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "s3cret pass");
  EXPECT_EQ(c->source_path, path);
}

TEST_F(LoadConfigFileTest, PasswordFileIsRelativeToTheConfigFile) {
  Write("pw", "s3cret\n");
  const std::string path = Write("c.yaml", "redis:\n  password_file: pw\n");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "s3cret");
  EXPECT_EQ(c->redis.password_file, dir_ + "/pw");
}

TEST_F(LoadConfigFileTest, EnvironmentWhenNoPasswordFile) {
  setenv("NEARCACHE_REDIS_PASSWORD", "from-env", 1);
  absl::StatusOr<Config> c = LoadConfigFile(Write("c.yaml", ""));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "from-env");
}

TEST_F(LoadConfigFileTest, NoPasswordAnywhere) {
  absl::StatusOr<Config> c = LoadConfigFile(Write("c.yaml", ""));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "");
}

TEST_F(LoadConfigFileTest, PasswordFileWinsOverAddressAndEnvironment) {
  setenv("NEARCACHE_REDIS_PASSWORD", "from-env", 1);
  Write("pw", "from-file\n");
  absl::StatusOr<Config> c = LoadConfigFile(
      Write("c.yaml",
            "redis:\n  address: redis://u:from-url@h\n  password_file: pw\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "from-file");
  EXPECT_EQ(c->redis.username, "u");
}

TEST_F(LoadConfigFileTest, AddressWinsOverEnvironment) {
  setenv("NEARCACHE_REDIS_PASSWORD", "from-env", 1);
  absl::StatusOr<Config> c = LoadConfigFile(
      Write("c.yaml", "redis:\n  address: redis://:from-url@h\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.password, "from-url");
}

TEST_F(LoadConfigFileTest, UsernameWithoutPasswordIsAnError) {
  const std::string path = Write("c.yaml", "redis:\n  username: feast\n");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            path +
                ": redis.username: needs a password: set "
                "redis.password_file or NEARCACHE_REDIS_PASSWORD");

  setenv("NEARCACHE_REDIS_PASSWORD", "from-env", 1);
  c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.username, "feast");
}

TEST_F(LoadConfigFileTest, UnreadablePasswordFileIsReportedWithOtherErrors) {
  const std::string path = Write(
      "c.yaml", "redis:\n  password_file: missing-pw\ncache:\n  ttl: 0s\n");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  const std::vector<std::string> lines =
      absl::StrSplit(c.status().message(), '\n');
  EXPECT_THAT(
      lines,
      ElementsAre(
          path + ": cache.ttl: must be greater than 0",
          absl::StrCat(path, ": redis.password_file: cannot read \"", dir_,
                       "/missing-pw\": No such file or ", "directory")));
}

TEST_F(LoadConfigFileTest, EmptyPasswordFileIsAnError) {
  Write("pw", "\n");
  const std::string path = Write("c.yaml", "redis:\n  password_file: pw\n");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(
      c.status().message(),
      absl::StrCat(path, ": redis.password_file: \"", dir_, "/pw\" is empty"));
}

TEST_F(LoadConfigFileTest, PasswordFromFileNeverRendered) {
  Write("pw", "hunter2-very-secret\n");
  absl::StatusOr<Config> c =
      LoadConfigFile(Write("c.yaml", "redis:\n  password_file: pw\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string yaml = RenderConfig(*c);
  EXPECT_THAT(yaml, Not(HasSubstr("hunter2")));
  EXPECT_THAT(yaml, HasSubstr("# password: <redacted>"));
}

TEST_F(LoadConfigFileTest, TlsFilesMustBeReadable) {
  Write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  absl::StatusOr<Config> c = LoadConfigFile(
      Write("c.yaml",
            "redis:\n  address: rediss://h\n  tls:\n    ca_file: ca.pem\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->redis.tls_ca_file, dir_ + "/ca.pem");

  const std::string path =
      Write("bad.yaml",
            "redis:\n  address: rediss://h\n  tls:\n    ca_file: /no/ca.pem\n");
  c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            path +
                ": redis.tls.ca_file: cannot read \"/no/ca.pem\": No such "
                "file or directory");
}

// The example in the repository: it loads, it holds design.md's values, and
// it mentions every key.
TEST_F(LoadConfigFileTest, ExampleConfigLoads) {
  const std::string path =
      std::string(NEARCACHE_SOURCE_DIR) + "/config/nearcache.yaml";
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listen.resp_socket, "/var/run/nearcache/redis.sock");
  EXPECT_EQ(c->listen.socket_mode, 0660u);
  EXPECT_EQ(c->admin.address, "0.0.0.0:9464");
  EXPECT_EQ(c->redis.endpoint.ToString(), "redis://localhost:6379/0");
  EXPECT_EQ(c->cache.max_bytes, size_t{256} << 20);
  EXPECT_EQ(c->cache.ttl, absl::Seconds(30));
  EXPECT_EQ(c->invalidation.channel, "nearcache:invalidate");

  // Every key appears, uncommented, in the example.
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  for (absl::string_view line : absl::StrSplit(RenderConfig(Config{}), '\n')) {
    if (line.empty() || absl::StrContains(line, "#")) continue;
    const std::string key(line.substr(0, line.find(':') + 1));
    EXPECT_THAT(text, HasSubstr("\n" + key)) << "missing from the example";
  }
}

}  // namespace
}  // namespace nearcache
