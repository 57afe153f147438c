// Small POSIX helpers shared by the bench tools (nc_loadgen,
// nc_delay_proxy): a monotonic clock, fatal errors, socket addresses
// ("unix:/path", "tcp:host:port", "host:port") and blocking connect/listen.
//
// Header-only and dependency-free (plain C++ and POSIX) so that each tool
// stays one self-contained binary. Thread-safe: pure functions, except that
// SetProgramName() must be called before any thread starts.
#ifndef NEARCACHE_BENCH_COMMON_NET_UTIL_H_
#define NEARCACHE_BENCH_COMMON_NET_UTIL_H_

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace nearcache::bench {

// CLOCK_MONOTONIC in nanoseconds.
inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// The name Die() prefixes its message with.
inline const char*& ProgramName() {
  static const char* name = "nc_bench";
  return name;
}
inline void SetProgramName(const char* name) { ProgramName() = name; }

// Prints "<program>: <what>" to stderr and exits with status 2.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", ProgramName(), what.c_str());
  std::exit(2);
}

// A stream socket address: a Unix socket path, or a TCP host and port.
struct NetAddress {
  std::string unix_path;  // set: a Unix socket
  std::string host = "127.0.0.1";
  std::string port;  // empty with unix_path
  bool valid() const { return !unix_path.empty() || !port.empty(); }
  bool is_unix() const { return !unix_path.empty(); }
  std::string ToString() const {
    return is_unix() ? "unix:" + unix_path : "tcp:" + host + ":" + port;
  }
};

// Parses "unix:/path", "tcp:host:port" or "host:port" ("[::1]:6379" for
// IPv6; an empty host is 127.0.0.1). Dies with `flag` in the message.
inline NetAddress ParseNetAddress(const std::string& flag, std::string s) {
  NetAddress a;
  if (s.rfind("unix:", 0) == 0) {
    a.unix_path = s.substr(5);
    if (a.unix_path.empty()) Die(flag + ": empty socket path");
    return a;
  }
  if (s.rfind("tcp:", 0) == 0) s = s.substr(4);
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) {
    Die(flag + ": expected unix:/path or tcp:host:port, got " + s);
  }
  a.host = s.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') {
    a.host = a.host.substr(1, a.host.size() - 2);
  }
  if (a.host.empty()) a.host = "127.0.0.1";
  a.port = s.substr(colon + 1);
  return a;
}

inline NetAddress UnixAddress(const std::string& path) {
  NetAddress a;
  a.unix_path = path;
  return a;
}

inline NetAddress TcpAddress(const std::string& host, int port) {
  NetAddress a;
  a.host = host;
  a.port = std::to_string(port);
  return a;
}

inline void SetNonBlocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

inline void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Fills a sockaddr_un; false when the path does not fit.
inline bool MakeUnixSockaddr(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Connects a blocking socket (TCP_NODELAY on TCP). Returns the socket, or
// -1 with *error set.
inline int ConnectTo(const NetAddress& a, std::string* error = nullptr) {
  auto fail = [&](int fd, const std::string& why) {
    if (error != nullptr) *error = "connect " + a.ToString() + ": " + why;
    if (fd >= 0) close(fd);
    return -1;
  };
  if (a.is_unix()) {
    sockaddr_un addr;
    if (!MakeUnixSockaddr(a.unix_path, &addr)) {
      return fail(-1, "socket path too long");
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(-1, std::strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return fail(fd, std::strerror(errno));
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &res) != 0 ||
      res == nullptr) {
    return fail(-1, "cannot resolve " + a.host);
  }
  const int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(-1, std::strerror(errno));
  }
  const int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  const int saved = errno;
  freeaddrinfo(res);
  if (rc != 0) return fail(fd, std::strerror(saved));
  SetNoDelay(fd);
  return fd;
}

// Connects or dies.
inline int ConnectOrDie(const NetAddress& a) {
  std::string error;
  const int fd = ConnectTo(a, &error);
  if (fd < 0) Die(error);
  return fd;
}

// A nonblocking listening socket on `a` (a stale Unix socket file is
// removed first), or dies.
inline int ListenOrDie(const NetAddress& a) {
  int fd = -1;
  if (a.is_unix()) {
    sockaddr_un addr;
    if (!MakeUnixSockaddr(a.unix_path, &addr)) Die("path too long");
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(a.unix_path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Die("bind " + a.ToString() + ": " + std::strerror(errno));
    }
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    if (getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &res) != 0 ||
        res == nullptr) {
      Die("cannot resolve " + a.ToString());
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
      Die("bind " + a.ToString() + ": " + std::strerror(errno));
    }
    freeaddrinfo(res);
  }
  if (listen(fd, 1024) != 0) Die(std::string("listen: ") + strerror(errno));
  SetNonBlocking(fd);
  return fd;
}

}  // namespace nearcache::bench

#endif  // NEARCACHE_BENCH_COMMON_NET_UTIL_H_
