// The redis-server test fixture itself: start, talk, pause, restart, kill.
#include <signal.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/fakes/redis_server.h"

namespace nearcache {
namespace {

RedisServerOptions WithTcp() {
  RedisServerOptions o;
  o.tcp = true;
  return o;
}

TEST(RedisServerProcessTest, StartsAnswersAndCountsCommands) {
  RedisServerProcess redis;
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_TRUE(redis.running());
  EXPECT_GT(redis.pid(), 0);
  EXPECT_TRUE(std::filesystem::exists(redis.unix_path()));
  EXPECT_EQ(redis.port(), 0);
  EXPECT_EQ(redis.Command({"SET", "k", "v"}), RedisReply::Status("OK"));
  EXPECT_EQ(redis.Command({"GET", "k"}), RedisReply::String("v"));
  EXPECT_EQ(redis.CommandCalls("get"), 1);
  EXPECT_EQ(redis.CommandCalls("hget"), 0);
  // Nothing is persisted.
  EXPECT_EQ(
      redis.Command({"CONFIG", "GET", "save"}),
      RedisReply::Array({RedisReply::String("save"), RedisReply::String("")}));
}

TEST(RedisServerProcessTest, RestartKeepsAddressAndDropsData) {
  RedisServerProcess redis(WithTcp());
  ASSERT_TRUE(redis.Start().ok());
  int port = redis.port();
  EXPECT_GT(port, 0);
  std::string path = redis.unix_path();
  pid_t before = redis.pid();
  redis.Command({"SET", "k", "v"});
  ASSERT_TRUE(redis.Restart().ok());
  EXPECT_NE(redis.pid(), before);
  EXPECT_EQ(redis.port(), port);
  EXPECT_EQ(redis.unix_path(), path);
  EXPECT_TRUE(redis.Command({"GET", "k"}).is_nil());
  RedisReply port_config = redis.Command({"CONFIG", "GET", "port"});
  ASSERT_EQ(port_config.elements.size(), 2u);
  EXPECT_EQ(port_config.elements[1].str, std::to_string(port));
}

TEST(RedisServerProcessTest, PauseResumeAndKill) {
  RedisServerProcess redis;
  ASSERT_TRUE(redis.Start().ok());
  redis.Pause();
  redis.Resume();
  EXPECT_EQ(redis.Command({"PING"}), RedisReply::Status("PONG"));
  pid_t pid = redis.pid();
  redis.Kill();
  EXPECT_FALSE(redis.running());
  EXPECT_NE(kill(pid, 0), 0);  // reaped: no such process
  EXPECT_TRUE(redis.Command({"PING"}).is_error());
}

TEST(RedisServerProcessTest, RequirepassIsUsedByTheClient) {
  RedisServerOptions options;
  options.requirepass = "pw";
  RedisServerProcess redis(options);
  ASSERT_TRUE(redis.Start().ok());
  EXPECT_EQ(redis.Command({"ACL", "WHOAMI"}), RedisReply::String("default"));
}

TEST(RedisServerProcessTest, TlsPortWithTestPki) {
  RedisServerOptions options;
  options.tls = true;
  options.tls_auth_clients = "optional";
  RedisServerProcess redis(options);
  absl::Status started = redis.Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(redis.port(), 0);  // no plain TCP
  int tls_port = redis.tls_port();
  EXPECT_GT(tls_port, 0);
  const TlsFiles files = redis.tls_files();
  for (const std::string& f :
       {files.ca_cert, files.server_cert, files.server_key, files.client_cert,
        files.client_key, files.other_ca_cert}) {
    EXPECT_TRUE(std::filesystem::exists(f)) << f;
  }
  EXPECT_EQ(redis.Command({"CONFIG", "GET", "tls-auth-clients"}),
            RedisReply::Array({RedisReply::String("tls-auth-clients"),
                               RedisReply::String("optional")}));
  RedisEndpoint e = redis.tls_endpoint(2);
  EXPECT_EQ(e.transport, RedisEndpoint::Transport::kTls);
  EXPECT_EQ(e.port, tls_port);
  EXPECT_EQ(e.db, 2);

  // The same port and certificates after a restart.
  ASSERT_TRUE(redis.Restart().ok());
  EXPECT_EQ(redis.tls_port(), tls_port);
  EXPECT_EQ(redis.tls_files().ca_cert, files.ca_cert);
  RedisReply port_config = redis.Command({"CONFIG", "GET", "tls-port"});
  ASSERT_EQ(port_config.elements.size(), 2u);
  EXPECT_EQ(port_config.elements[1].str, std::to_string(tls_port));
}

TEST(RedisServerProcessTest, DestructorRemovesTheDirectory) {
  std::string dir;
  {
    RedisServerProcess redis;
    ASSERT_TRUE(redis.Start().ok());
    dir = redis.dir();
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace nearcache
