// redis.address: the URL forms nearcache accepts, RedisEndpoint::ToString,
// and the errors for addresses it refuses.

#include "src/config/redis_address.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/config.h"
#include "nearcache/redis_endpoint.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Transport = RedisEndpoint::Transport;

RedisEndpoint Parse(absl::string_view address) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisAddress(address);
  EXPECT_TRUE(e.ok()) << address << ": " << e.status();
  return e.value_or(RedisEndpoint{});
}

std::string Error(absl::string_view address) {
  absl::StatusOr<RedisEndpoint> e = ParseRedisAddress(address);
  EXPECT_FALSE(e.ok()) << address << " parsed as " << e->ToString();
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(e.status().message());
}

TEST(ParseRedisAddressTest, TcpWithEverything) {
  const RedisEndpoint e = Parse("redis://10.0.0.5:7000/3");
  EXPECT_EQ(e.transport, Transport::kTcp);
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 3);
}

TEST(ParseRedisAddressTest, PortAndDbDefault) {
  for (absl::string_view address :
       {"redis://cache.internal", "redis://cache.internal/",
        "redis://cache.internal:6379/0"}) {
    const RedisEndpoint e = Parse(address);
    EXPECT_EQ(e.transport, Transport::kTcp) << address;
    EXPECT_EQ(e.host, "cache.internal") << address;
    EXPECT_EQ(e.port, 6379) << address;
    EXPECT_EQ(e.db, 0) << address;
  }
}

TEST(ParseRedisAddressTest, RedissMeansTls) {
  const RedisEndpoint e = Parse("rediss://redis.example.com:6380/1");
  EXPECT_EQ(e.transport, Transport::kTls);
  EXPECT_EQ(e.host, "redis.example.com");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 1);
}

TEST(ParseRedisAddressTest, Ipv6HostsInBrackets) {
  RedisEndpoint e = Parse("redis://[::1]:6380/2");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 2);
  e = Parse("redis://[fe80::1%eth0]");
  EXPECT_EQ(e.host, "fe80::1%eth0");
  EXPECT_EQ(e.port, 6379);
}

TEST(ParseRedisAddressTest, UnixSocket) {
  RedisEndpoint e = Parse("unix:///var/run/redis/redis.sock?db=2");
  EXPECT_EQ(e.transport, Transport::kUnix);
  EXPECT_EQ(e.unix_path, "/var/run/redis/redis.sock");
  EXPECT_EQ(e.db, 2);
  e = Parse("unix:///tmp/redis.sock");
  EXPECT_EQ(e.unix_path, "/tmp/redis.sock");
  EXPECT_EQ(e.db, 0);
}

TEST(ParseRedisAddressTest, SchemeIsCaseInsensitive) {
  EXPECT_EQ(Parse("REDISS://h:1/0").transport, Transport::kTls);
}

TEST(ParseRedisAddressTest, CredentialsAreAcceptedAndKeptApart) {
  const RedisEndpoint e = Parse("redis://alice:s3cret@host:6379/4");
  EXPECT_EQ(e.host, "host");
  EXPECT_EQ(e.db, 4);

  absl::StatusOr<config_internal::RedisUrl> url =
      config_internal::ParseRedisUrl("redis://alice:s3cret@host:6379/4");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->username, "alice");
  EXPECT_EQ(url->password, "s3cret");
  EXPECT_EQ(url->address_without_credentials, "redis://host:6379/4");

  // Percent-escapes carry reserved characters; an empty user is the
  // default user.
  url = config_internal::ParseRedisUrl("rediss://:p%40ss%3Aw0rd@host");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->username, "");
  EXPECT_EQ(url->password, "p@ss:w0rd");
  EXPECT_EQ(url->address_without_credentials, "rediss://host");
}

TEST(ParseRedisAddressTest, Errors) {
  EXPECT_THAT(Error(""), HasSubstr("empty"));
  EXPECT_EQ(Error("localhost:6379"),
            "invalid Redis address \"localhost:6379\": expected "
            "redis://host:port/db, rediss://host:port/db or unix:///path "
            "(did you mean redis://localhost:6379?)");
  EXPECT_THAT(Error("/var/run/redis.sock"),
              HasSubstr("did you mean unix:///var/run/redis.sock?"));
  EXPECT_THAT(Error("http://host:6379"),
              HasSubstr("unknown scheme \"http\" (redis, rediss or unix)"));
  EXPECT_THAT(Error("redis://"), HasSubstr("missing host"));
  EXPECT_THAT(Error("redis://:6379/0"), HasSubstr("missing host"));
  EXPECT_THAT(Error("redis://host:/0"), HasSubstr("missing port"));
  EXPECT_THAT(Error("redis://host:0"), HasSubstr("invalid port \"0\""));
  EXPECT_THAT(Error("redis://host:70000"), HasSubstr("invalid port"));
  EXPECT_THAT(Error("redis://host:http"), HasSubstr("invalid port"));
  EXPECT_THAT(Error("redis://host:6379/x"), HasSubstr("invalid database"));
  EXPECT_THAT(Error("redis://host:6379/-1"), HasSubstr("invalid database"));
  EXPECT_THAT(Error("redis://host:6379/0?db=1"),
              HasSubstr("query parameters are not supported"));
  EXPECT_THAT(Error("redis://::1:6379"),
              HasSubstr("an IPv6 host needs brackets"));
  EXPECT_THAT(Error("redis://[::1:6379"), HasSubstr("missing ']'"));
  EXPECT_THAT(Error("redis://[::1]6379"), HasSubstr("expected ':port'"));
  EXPECT_THAT(Error("redis://ho st:6379"), HasSubstr("invalid host"));
  EXPECT_THAT(Error("unix://var/run/redis.sock"),
              HasSubstr("needs an absolute path"));
  EXPECT_THAT(Error("unix:///"), HasSubstr("missing socket path"));
  EXPECT_THAT(Error("unix:///tmp/r.sock?database=1"),
              HasSubstr("unknown parameter \"database\""));
  EXPECT_THAT(Error("unix:///tmp/r.sock?db=one"),
              HasSubstr("invalid database \"one\""));
  EXPECT_THAT(Error("unix://u:p@/tmp/r.sock"),
              HasSubstr("credentials in a unix:// address are not supported"));
  EXPECT_THAT(Error("unix:///" + std::string(200, 'x')),
              HasSubstr("a unix socket path holds at most 107"));
}

TEST(ParseRedisAddressTest, ErrorsNeverShowThePassword) {
  for (absl::string_view address :
       {"redis://alice:hunter2@host:99999/0", "alice:hunter2@host:6379",
        "redis://alice:hunter2@/0", "ftp://alice:hunter2@host"}) {
    const std::string message = Error(address);
    EXPECT_THAT(message, Not(HasSubstr("hunter2"))) << address;
    EXPECT_THAT(message, HasSubstr("alice:<redacted>@")) << address;
  }
}

TEST(RedisEndpointTest, ToString) {
  RedisEndpoint e;
  EXPECT_EQ(e.ToString(), "redis://localhost:6379/0");
  e.transport = Transport::kTls;
  e.host = "::1";
  e.port = 6380;
  e.db = 2;
  EXPECT_EQ(e.ToString(), "rediss://[::1]:6380/2");
  e = RedisEndpoint{};
  e.transport = Transport::kUnix;
  e.unix_path = "/tmp/redis.sock";
  e.db = 1;
  EXPECT_EQ(e.ToString(), "unix:///tmp/redis.sock?db=1");
}

TEST(RedisEndpointTest, ToStringParsesBack) {
  for (absl::string_view address :
       {"redis://localhost:6379/0", "rediss://[::1]:6380/2",
        "redis://10.1.2.3:7001/15", "unix:///tmp/redis.sock?db=1"}) {
    const RedisEndpoint e = Parse(address);
    EXPECT_EQ(e.ToString(), address);
    EXPECT_EQ(Parse(e.ToString()), e);
  }
}

}  // namespace
}  // namespace nearcache
