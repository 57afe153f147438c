// RedisServerProcess: a real redis-server for tests, started on a temporary
// Unix socket (and optionally a free TCP port on 127.0.0.1, plain or TLS)
// with no persistence, plus a small blocking client (hiredis, over the Unix
// socket) to set data up and look at the server from the test's side.
//
// With options.tls, Start() first makes a test PKI in the temporary
// directory with the openssl command-line tool: a CA, a server certificate
// for "localhost" and 127.0.0.1, a client certificate, and a second CA that
// signed neither (see TlsFiles).
//
// The binary is /usr/bin/redis-server unless NEARCACHE_REDIS_SERVER names
// another. The child gets SIGKILL when the thread that started it dies
// (PR_SET_PDEATHSIG), so a crashed test leaves no server behind: start it
// from the test's main thread.
//
// Usage:
//   RedisServerProcess redis;
//   ASSERT_TRUE(redis.Start().ok());
//   redis.Command({"SET", "k", "v"});
//   ConnectionOptions options;
//   options.endpoint = redis.unix_endpoint();
//   ...
//   redis.Pause();   // SIGSTOP: connects succeed, nothing is answered
//   redis.Resume();
//   redis.Restart(); // same socket and port, empty data
//
//   RedisServerOptions tls;
//   tls.tls = true;
//   RedisServerProcess secure(tls);
//   options.endpoint = secure.tls_endpoint();
//   options.tls.ca_file = secure.tls_files().ca_cert;
#ifndef NEARCACHE_TESTS_FAKES_REDIS_SERVER_H_
#define NEARCACHE_TESTS_FAKES_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nearcache/redis_endpoint.h"
#include "upstream/redis_reply.h"

struct redisContext;

namespace nearcache {

struct RedisServerOptions {
  // Also listen on a free TCP port on 127.0.0.1 (see port()).
  bool tcp = false;
  // Passed as --requirepass; Command() authenticates with it.
  std::string requirepass;
  // Also listen for TLS on a free TCP port on 127.0.0.1 (see tls_port()).
  bool tls = false;
  // --tls-auth-clients: "no", "optional" or "yes" (client certificate
  // required, signed by the CA).
  std::string tls_auth_clients = "no";
  // More redis-server arguments, e.g. {"--maxclients", "10"}.
  std::vector<std::string> extra_args;
};

// The PEM files Start() makes for options.tls, in the temporary directory.
struct TlsFiles {
  std::string ca_cert;      // the CA that signed the two below
  std::string server_cert;  // CN and SANs: localhost, IP 127.0.0.1
  std::string server_key;
  std::string client_cert;  // CN nearcache-client, clientAuth
  std::string client_key;
  std::string other_ca_cert;  // a CA that signed neither
};

// Thread-compatible. Not copyable.
class RedisServerProcess {
 public:
  explicit RedisServerProcess(RedisServerOptions options = {});
  // Kills the server and removes its temporary directory.
  ~RedisServerProcess();
  RedisServerProcess(const RedisServerProcess&) = delete;
  RedisServerProcess& operator=(const RedisServerProcess&) = delete;

  // Starts the server and waits (up to 10 s) until it answers PING. The
  // error carries the tail of the server's log.
  absl::Status Start();
  // SIGKILL and reap. The socket file stays until the next Start().
  void Kill();
  // Kill() then Start() on the same socket path and port, with no data.
  absl::Status Restart();
  // SIGSTOP / SIGCONT: a paused server accepts connections (the kernel
  // does) but answers nothing.
  void Pause();
  void Resume();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& unix_path() const { return unix_path_; }
  // The TCP port, or 0 without options.tcp.
  int port() const { return port_; }
  // The TLS port, or 0 without options.tls.
  int tls_port() const { return tls_port_; }
  // REQUIRES: options.tls and a Start() that succeeded.
  const TlsFiles& tls_files() const { return tls_files_; }
  // The temporary directory (socket, log).
  const std::string& dir() const { return dir_; }

  RedisEndpoint unix_endpoint(int db = 0) const;
  // REQUIRES: options.tcp.
  RedisEndpoint tcp_endpoint(int db = 0) const;
  // rediss://`host`:tls_port()/db; the certificate names localhost and
  // 127.0.0.1. REQUIRES: options.tls.
  RedisEndpoint tls_endpoint(int db = 0, std::string host = "127.0.0.1") const;

  // Runs one command on a blocking connection kept between calls (and
  // reopened after a Restart or a failure). A connection failure comes back
  // as a kError reply starting with "CLIENT:". Times out after 10 s.
  RedisReply Command(std::vector<std::string> args);

  // The calls= count of `command` in INFO commandstats ("get",
  // "client|id"), 0 when it never ran, -1 when INFO failed.
  int64_t CommandCalls(absl::string_view command);

 private:
  void Disconnect();
  std::string LogTail() const;
  // Makes the test PKI (tls_files_) with the openssl tool.
  absl::Status MakeTlsFiles();

  const RedisServerOptions options_;
  std::string binary_;
  std::string dir_;
  std::string unix_path_;
  int port_ = 0;
  int tls_port_ = 0;
  TlsFiles tls_files_;
  pid_t pid_ = -1;
  bool paused_ = false;
  redisContext* client_ = nullptr;
};

// The integer `field` of an INFO reply's text ("field:123"), or -1.
int64_t InfoField(const RedisReply& info, absl::string_view field);

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_FAKES_REDIS_SERVER_H_
