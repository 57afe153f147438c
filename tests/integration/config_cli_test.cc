// The nearcache command line as an SRE meets it: --check-config on good and
// bad files, --config refusing a bad file, --version and --help, and how the
// RESP socket file is taken over (a dead process's leftover is replaced, a
// live process's is not) and what mode it gets.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/nearcache_process.h"
#include "tests/fakes/redis_server.h"

namespace nearcache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kFileSecret[] = "file-secret-7c1d9e";
constexpr char kEnvSecret[] = "env-secret-42ab77";

class ConfigCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TMPDIR");
    std::string templ =
        absl::StrCat((tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp",
                     "/nearcache-cli-XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return path;
  }

  // A complete, valid configuration.
  std::string GoodYaml(const std::string& socket) const {
    return absl::StrCat(
        "listen:\n"
        "  resp_socket: \"",
        socket,
        "\"\n"
        "  http_socket: \"\"\n"
        "  socket_mode: \"0640\"\n"
        "admin:\n"
        "  address: 127.0.0.1:19464\n"
        "redis:\n"
        "  address: unix:///tmp/nowhere/redis.sock\n"
        "  command_timeout: 75ms\n"
        "cache:\n"
        "  max_bytes: 64MiB\n"
        "  ttl: 45s\n"
        "invalidation:\n"
        "  tracking: false\n");
  }

  std::string dir_;
};

TEST_F(ConfigCliTest, CheckConfigPrintsTheEffectiveConfigWithoutSecrets) {
  const std::string secret_file =
      Write("redis-password", absl::StrCat(kFileSecret, "\n"));
  const std::string text = absl::StrReplaceAll(
      GoodYaml(dir_ + "/nc.sock"),
      {{"  command_timeout: 75ms\n",
        absl::StrCat("  command_timeout: 75ms\n  password_file: \"",
                     secret_file, "\"\n")}});
  const std::string good = Write("good.yaml", text);
  RunResult r = RunNearcache({"--check-config", good},
                             {{"NEARCACHE_REDIS_PASSWORD", kEnvSecret}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The effective config: what the file set, and the defaults it did not.
  EXPECT_THAT(r.out, HasSubstr("ttl: 45s"));
  EXPECT_THAT(r.out, HasSubstr("command_timeout: 75ms"));
  EXPECT_THAT(r.out, HasSubstr("max_bytes: 64MiB"));
  EXPECT_THAT(r.out, HasSubstr("negative_ttl: 2s"));
  EXPECT_THAT(r.out, HasSubstr("pool_size: 4"));
  EXPECT_THAT(r.out, HasSubstr("0640"));
  EXPECT_THAT(r.out, HasSubstr("<redacted>"));
  for (const char* secret : {kFileSecret, kEnvSecret}) {
    EXPECT_THAT(r.out, Not(HasSubstr(secret)));
    EXPECT_THAT(r.err, Not(HasSubstr(secret)));
  }
  // What it prints is a valid configuration, the same one.
  const std::string again = Write("again.yaml", r.out);
  RunResult r2 = RunNearcache({"--check-config", again});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  // (the password is not in the rendering, so that part differs)
  EXPECT_THAT(r2.out, HasSubstr("ttl: 45s"));

  // The password from the environment alone: redacted too.
  const std::string env_only = Write("env.yaml", GoodYaml(dir_ + "/nc.sock"));
  RunResult r3 = RunNearcache({"--check-config", env_only},
                              {{"NEARCACHE_REDIS_PASSWORD", kEnvSecret}});
  EXPECT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_THAT(r3.out, HasSubstr("<redacted>"));
  EXPECT_THAT(r3.out + r3.err, Not(HasSubstr(kEnvSecret)));
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::vector<std::string> expect;  // substrings of the output
};

TEST_F(ConfigCliTest, BadFilesAreRefusedWithFileKeyAndReason) {
  const std::vector<BadCase> cases = {
      {"unknown_key",
       "cache:\n  max_byte: 1MiB\n",
       {"cache.max_byte", "unknown key", "max_bytes"}},
      {"bad_duration", "cache:\n  ttl: 30\n", {"cache.ttl", "30"}},
      {"bad_duration_unit",
       "redis:\n  command_timeout: 5 fortnights\n",
       {"redis.command_timeout"}},
      {"bad_size",
       "cache:\n  max_bytes: 12parsecs\n",
       {"cache.max_bytes", "12parsecs"}},
      {"bad_size_case", "cache:\n  max_bytes: 64mb\n", {"cache.max_bytes"}},
      {"bad_address",
       "redis:\n  address: localhost:6379\n",
       {"redis.address", "localhost:6379"}},
      {"bad_admin", "admin:\n  address: nowhere\n", {"admin.address"}},
      {"yaml_syntax", "cache:\n  ttl: [30s\nredis: {\n", {"YAML"}},
      {"two_errors",
       "cache:\n  ttl: soon\nredis:\n  pool_size: 999\n",
       {"cache.ttl", "redis.pool_size"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Write(absl::StrCat(c.name, ".yaml"), c.yaml);
    RunResult check = RunNearcache({"--check-config", path});
    EXPECT_EQ(check.exit_code, 2);
    const std::string said = check.out + check.err;
    EXPECT_THAT(said, HasSubstr(path));
    for (const std::string& e : c.expect) EXPECT_THAT(said, HasSubstr(e));
    // Nothing like an effective config is printed for a bad file.
    EXPECT_THAT(check.out, Not(HasSubstr("resp_socket")));

    // Starting with it fails the same way, before listening anywhere.
    RunResult start = RunNearcache({"--config", path});
    EXPECT_EQ(start.exit_code, 2);
    EXPECT_THAT(start.out + start.err, HasSubstr(path));
    for (const std::string& e : c.expect)
      EXPECT_THAT(start.out + start.err, HasSubstr(e));
  }
}

TEST_F(ConfigCliTest, BadStartDoesNotListen) {
  const std::string socket = dir_ + "/nc.sock";
  const std::string path =
      Write("bad.yaml", absl::StrCat("listen:\n  resp_socket: \"", socket,
                                     "\"\ncache:\n  ttl: x\n"));
  RunResult r = RunNearcache({"--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST_F(ConfigCliTest, MissingFile) {
  const std::string path = dir_ + "/does-not-exist.yaml";
  for (const char* flag : {"--check-config", "--config"}) {
    RunResult r = RunNearcache({flag, path});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.out + r.err, HasSubstr(path)) << flag;
    EXPECT_THAT(r.out + r.err, HasSubstr("cannot read")) << flag;
  }
}

TEST_F(ConfigCliTest, VersionHelpAndUsage) {
  RunResult version = RunNearcache({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, StartsWith("nearcache "));
  RunResult help = RunNearcache({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--config"));
  EXPECT_THAT(help.out, HasSubstr("--check-config"));
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{
           {}, {"--frobnicate"}, {"--config"}}) {
    RunResult r = RunNearcache(bad);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("usage"));
  }
}

class SocketFileTest : public ConfigCliTest {
 protected:
  void SetUp() override {
    ConfigCliTest::SetUp();
    ASSERT_TRUE(redis_.Start().ok());
  }
  NearcacheOptions Options(const std::string& socket) {
    NearcacheOptions o;
    o.redis_address = "unix://" + redis_.unix_path();
    o.resp_socket = socket;
    return o;
  }
  RedisServerProcess redis_;
};

TEST_F(SocketFileTest, LeftoverSocketFromADeadProcessIsReplaced) {
  const std::string socket = dir_ + "/nc.sock";
  {
    // What a SIGKILLed server leaves: a socket file nobody listens on.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, socket.data(), socket.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  ASSERT_TRUE(std::filesystem::is_socket(socket));
  ASSERT_FALSE(redis_.Command({"SET", "k", "v"}).is_error());
  NearcacheProcess nearcache(Options(socket));
  absl::Status s = nearcache.Start();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(nearcache.Command({"GET", "k"}), RedisReply::String("v"));
  s = nearcache.Stop();
  EXPECT_TRUE(s.ok()) << s;

  // The same after a real nearcache was SIGKILLed.
  NearcacheProcess second(Options(socket));
  ASSERT_TRUE(second.Start().ok());
  second.Kill();
  ASSERT_TRUE(std::filesystem::exists(socket)) << "SIGKILL leaves the file";
  NearcacheProcess third(Options(socket));
  s = third.Start();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(third.Command({"GET", "k"}), RedisReply::String("v"));
}

TEST_F(SocketFileTest, ALiveInstanceKeepsItsSocket) {
  const std::string socket = dir_ + "/nc.sock";
  ASSERT_FALSE(redis_.Command({"SET", "k", "v"}).is_error());
  NearcacheProcess first(Options(socket));
  absl::Status s = first.Start();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(first.Command({"GET", "k"}), RedisReply::String("v"));

  // The same configuration but its own admin port, so that only the
  // socket is in the way.
  std::vector<std::string> lines = absl::StrSplit(first.config_text(), '\n');
  for (std::string& line : lines) {
    if (absl::StartsWith(line, "  address: 127.0.0.1:")) {
      line = absl::StrCat("  address: 127.0.0.1:", PickFreeTcpPort());
    }
  }
  const std::string second_config = absl::StrJoin(lines, "\n");
  const std::string path = Write("second.yaml", second_config);
  RunResult r = RunNearcache({"--config", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr(socket));
  EXPECT_THAT(r.out + r.err, HasSubstr("another process is listening"));

  // The first one is untouched: its file is there and it still answers, on
  // a new connection too.
  EXPECT_TRUE(std::filesystem::is_socket(socket));
  RedisClient c = first.Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(ClientCommand(c.get(), {"GET", "k"}), RedisReply::String("v"));
  s = first.Stop();
  EXPECT_TRUE(s.ok()) << s;
}

TEST_F(SocketFileTest, SomethingElseAtTheSocketPathIsNotRemoved) {
  const std::string path = Write("not-a-socket", "precious data\n");
  NearcacheOptions o = Options(path);
  o.wait_for_redis = false;
  NearcacheProcess nearcache(o);
  absl::Status s = nearcache.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("exit code 1"));
  EXPECT_THAT(nearcache.Log(), HasSubstr(path));
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "precious data");
}

TEST_F(SocketFileTest, SocketModeIsApplied) {
  for (const char* mode : {"\"0600\"", "\"0666\"", "\"0640\""}) {
    SCOPED_TRACE(mode);
    const std::string socket = dir_ + "/mode.sock";
    NearcacheOptions o = Options(socket);
    o.overrides = {{"listen.socket_mode", mode}};
    NearcacheProcess nearcache(o);
    absl::Status s = nearcache.Start();
    ASSERT_TRUE(s.ok()) << s;
    struct stat st;
    ASSERT_EQ(lstat(socket.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777,
              std::stoul(std::string(mode).substr(1, 4), nullptr, 8));
    s = nearcache.Stop();
    EXPECT_TRUE(s.ok()) << s;
  }
}

TEST_F(SocketFileTest, SighupAppliesCacheSettingsAndKeepsEntries) {
  NearcacheOptions o = Options(dir_ + "/nc.sock");
  o.overrides = {{"cache.ttl", "30s"}, {"cache.negative_ttl", "30s"}};
  NearcacheProcess nearcache(o);
  absl::Status s = nearcache.Start();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_FALSE(redis_.Command({"SET", "k", "v"}).is_error());
  EXPECT_EQ(nearcache.Command({"GET", "k"}), RedisReply::String("v"));
  EXPECT_TRUE(nearcache.Command({"GET", "absent"}).is_nil());
  const int64_t gets = redis_.CommandCalls("get");

  // A broken file: refused, the running configuration and cache stay.
  ASSERT_TRUE(nearcache.RewriteConfigText("cache:\n  ttl: [\n").ok());
  nearcache.Signal(SIGHUP);
  ASSERT_TRUE(nearcache.WaitForLog("reload refused"));
  EXPECT_EQ(nearcache.Command({"GET", "k"}), RedisReply::String("v"));
  EXPECT_EQ(redis_.CommandCalls("get"), gets);

  // A valid file: a shorter negative_ttl applies to the entry already
  // cached, and the positive entry survives the reload.
  ASSERT_TRUE(
      nearcache
          .RewriteConfig({{"cache.ttl", "30s"}, {"cache.negative_ttl", "0s"}})
          .ok());
  nearcache.Signal(SIGHUP);
  ASSERT_TRUE(nearcache.WaitForLog("config reloaded"));
  EXPECT_EQ(nearcache.Command({"GET", "k"}), RedisReply::String("v"));
  EXPECT_EQ(redis_.CommandCalls("get"), gets) << "the reload dropped an entry";
  ASSERT_FALSE(redis_.Command({"SET", "absent", "now"}).is_error());
  EXPECT_EQ(nearcache.Command({"GET", "absent"}), RedisReply::String("now"));
  s = nearcache.Stop();
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace nearcache
