#include "server/listen_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nearcache {

namespace asio = boost::asio;
using asio::local::stream_protocol;

absl::StatusOr<stream_protocol::acceptor> ListenUnix(asio::io_context& io,
                                                     const std::string& path,
                                                     uint32_t mode) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unix socket path too long (", path.size(), " bytes, at most ",
        sizeof(sockaddr_un::sun_path) - 1, "): ", path));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " exists and is not a socket"));
    }
    stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec) {
      return absl::AlreadyExistsError(
          absl::StrCat("another process is listening on ", path));
    }
    // A leftover from a process that died without cleaning up.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot remove stale socket ", path, ": ", std::strerror(errno)));
    }
  }
  stream_protocol::acceptor acceptor(io);
  boost::system::error_code ec;
  stream_protocol::endpoint endpoint(path);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind ", path, ": ", ec.message()));
  }
  // Clients cannot connect before listen(), so the mode is in place first.
  if (chmod(path.c_str(), mode) != 0) {
    const int err = errno;
    unlink(path.c_str());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot chmod ", path, ": ", std::strerror(err)));
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    unlink(path.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", path, ": ", ec.message()));
  }
  return acceptor;
}

absl::StatusOr<asio::ip::tcp::acceptor> ListenTcp(asio::io_context& io,
                                                  const std::string& address) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address \"", address, "\": want host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", address, ": ", ec.message()));
  }
  asio::ip::tcp::endpoint endpoint = results.begin()->endpoint();
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  return acceptor;
}

std::optional<uint32_t> PeerUid(int fd) {
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      len != sizeof(cred)) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(cred.uid);
}

bool PeerAllowed(int fd, const std::vector<uint32_t>& allowed_uids) {
  if (allowed_uids.empty()) return true;
  const std::optional<uint32_t> uid = PeerUid(fd);
  return uid.has_value() && std::find(allowed_uids.begin(), allowed_uids.end(),
                                      *uid) != allowed_uids.end();
}

}  // namespace nearcache
