// NearcacheProcess: the real `nearcache` binary as a child process of a test,
// with its own YAML configuration in a temporary directory, its RESP socket
// in that directory, and blocking hiredis clients to talk to it.
//
// The binary is the one CMake built (NEARCACHE_BINARY, set by
// tests/integration/CMakeLists.txt), or $NEARCACHE_BINARY when set. Its
// stdout and stderr go to a log file in the temporary directory; the
// destructor prints that log when the current googletest test has failed,
// then kills the process and removes the directory. The child gets SIGKILL
// when the thread that started it dies (PR_SET_PDEATHSIG): start it from the
// test's main thread.
//
// Usage:
//   RedisServerProcess redis;
//   ASSERT_TRUE(redis.Start().ok());
//   NearcacheOptions options;
//   options.redis_address = "unix://" + redis.unix_path();
//   options.overrides = {{"cache.ttl", "200ms"}};
//   NearcacheProcess nearcache(options);
//   ASSERT_TRUE(nearcache.Start().ok());
//   EXPECT_EQ(nearcache.Command({"GET", "k"}), RedisReply::Nil());
//   EXPECT_TRUE(nearcache.Stop().ok());  // SIGTERM, exit 0, socket removed
#ifndef NEARCACHE_TESTS_FAKES_NEARCACHE_PROCESS_H_
#define NEARCACHE_TESTS_FAKES_NEARCACHE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "upstream/redis_reply.h"

struct redisContext;

namespace nearcache {

struct NearcacheOptions {
  // redis.address, e.g. "unix:///tmp/x/redis.sock". Required.
  std::string redis_address;
  // listen.resp_socket; empty: "nearcache.sock" in the temporary directory.
  std::string resp_socket;
  // Configuration keys by their dotted path ("cache.ttl", "listen.threads")
  // and their value as YAML text ("200ms", "\"0640\"", "false"). They
  // replace the fixture's defaults (see nearcache_process.cc) or add to them.
  std::vector<std::pair<std::string, std::string>> overrides;
  // Extra environment variables for the child (the test's own are passed).
  std::vector<std::pair<std::string, std::string>> env;
  // Start() returns only once a read through nearcache reached Redis (the
  // upstream pool is connected). Turn off when Redis is down on purpose.
  bool wait_for_redis = true;
};

// Deletes a hiredis context.
struct RedisContextDeleter {
  void operator()(redisContext* c) const;
};
using RedisClient = std::unique_ptr<redisContext, RedisContextDeleter>;

// Sends one command on a hiredis blocking connection. A transport failure
// comes back as a kError reply starting with "CLIENT:".
RedisReply ClientCommand(redisContext* client,
                         const std::vector<std::string>& args);

// Connects a blocking hiredis client to the unix socket `path`, with a
// 10 s timeout on every read and write (so a bug cannot hang a test).
// nullptr when the connection failed.
RedisClient ConnectUnix(const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none).
int PickFreeTcpPort();

// The outcome of running the nearcache binary to completion.
struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs the nearcache binary with `args` (no argv[0]) and extra `env`, waits
// up to `timeout` and returns what it printed and its exit code.
RunResult RunNearcache(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env = {},
    absl::Duration timeout = absl::Seconds(30));

// Thread-compatible. Not copyable.
class NearcacheProcess {
 public:
  // The binary under test.
  static std::string BinaryPath();

  explicit NearcacheProcess(NearcacheOptions options);
  // Kills the process (SIGKILL), prints its log if the test failed, and
  // removes the temporary directory.
  ~NearcacheProcess();
  NearcacheProcess(const NearcacheProcess&) = delete;
  NearcacheProcess& operator=(const NearcacheProcess&) = delete;

  // Writes the configuration, starts the binary and waits (up to 20 s) until
  // its RESP socket answers PING (and, with wait_for_redis, until a GET
  // through it reached Redis). The error carries the process's log.
  absl::Status Start();

  // SIGTERM, then waits up to 20 s. OK only if it exited with code 0 and
  // removed its socket file.
  absl::Status Stop();

  // SIGKILL and reap.
  void Kill();

  // Sends `signo` to the process (SIGTERM, SIGHUP, ...).
  void Signal(int signo);
  // Waits up to 20 s for the process to end, then reaps it. OK only if it
  // exited with code 0 and removed its socket file.
  absl::Status WaitForCleanExit();

  // Rewrites the configuration file with `overrides` in place of the ones
  // given at construction (the rest, admin port included, unchanged), or
  // with `text` verbatim. Takes effect on SIGHUP.
  absl::Status RewriteConfig(
      std::vector<std::pair<std::string, std::string>> overrides);
  absl::Status RewriteConfigText(const std::string& text);

  // Waits up to 20 s until the log contains `text`.
  bool WaitForLog(const std::string& text) const;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& config_path() const { return config_path_; }
  // The YAML written for the process.
  const std::string& config_text() const { return config_text_; }
  // Everything the process wrote to stdout and stderr so far.
  std::string Log() const;

  // Runs one command on a blocking connection kept between calls (reopened
  // after a failure). Times out after 10 s.
  RedisReply Command(const std::vector<std::string>& args);

  // A new blocking client connection; nullptr on failure.
  RedisClient Connect() const;

 private:
  std::string RenderConfig() const;
  bool AnswersPing() const;

  NearcacheOptions options_;
  std::string dir_;
  std::string socket_path_;
  std::string config_path_;
  std::string log_path_;
  std::string config_text_;
  int admin_port_ = 0;
  pid_t pid_ = -1;
  RedisClient client_;
};

// Sets each (dotted path, value) of `changes` in `*base`: replaces the value
// of a path already there, appends a new one. The config-override lists of
// NearcacheOptions merge this way (later wins).
void MergeOverrides(
    std::vector<std::pair<std::string, std::string>>* base,
    const std::vector<std::pair<std::string, std::string>>& changes);

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FAKES_NEARCACHE_PROCESS_H_
