// Helpers to open the listening sockets of the front-ends: a Unix socket file
// (replacing a leftover from a dead process, refusing to steal one a live
// process listens on, applying the configured file mode) and a TCP
// "host:port" endpoint.
#ifndef NEARCACHE_SERVER_LISTEN_SOCKET_H_
#define NEARCACHE_SERVER_LISTEN_SOCKET_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nearcache {

// Binds and listens on the Unix socket `path` with file mode `mode`.
// A socket file nobody answers on is removed first; one a live process
// answers on is an error, as is a path that is not a socket.
absl::StatusOr<boost::asio::local::stream_protocol::acceptor> ListenUnix(
    boost::asio::io_context& io, const std::string& path, uint32_t mode);

// Binds and listens on "host:port" (IPv6 as "[::1]:6380").
absl::StatusOr<boost::asio::ip::tcp::acceptor> ListenTcp(
    boost::asio::io_context& io, const std::string& address);

// The uid of the process at the other end of the connected Unix socket `fd`
// (SO_PEERCRED), or nullopt when the kernel does not say.
std::optional<uint32_t> PeerUid(int fd);

// Whether a client on the connected Unix socket `fd` may talk to us: true
// when `allowed_uids` is empty or holds the peer's uid (SO_PEERCRED).
bool PeerAllowed(int fd, const std::vector<uint32_t>& allowed_uids);

}  // namespace nearcache

#endif  // NEARCACHE_SERVER_LISTEN_SOCKET_H_
