// RawRespConnection: a test client that speaks RESP as raw bytes over a Unix
// socket, so that tests compare exactly what two servers (redis-server and
// nearcache) send back, byte for byte, and see when a server closes the
// connection. Every wait is bounded (10 s) so a bug cannot hang a test.
#ifndef NEARCACHE_TESTS_INTEGRATION_RAW_RESP_H_
#define NEARCACHE_TESTS_INTEGRATION_RAW_RESP_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace nearcache {

// The RESP2 multibulk encoding of `args`: *N\r\n$len\r\narg\r\n...
std::string EncodeCommand(const std::vector<std::string>& args);

// Length of the first complete RESP2 reply at the start of `bytes`, 0 when
// it is incomplete. A malformed reply is an error.
absl::StatusOr<size_t> ReplyLength(absl::string_view bytes);

// Thread-compatible. Not copyable; closes the socket on destruction.
class RawRespConnection {
 public:
  static constexpr absl::Duration kTimeout = absl::Seconds(10);

  // nullptr when the connect failed.
  static std::unique_ptr<RawRespConnection> Connect(const std::string& path);
  ~RawRespConnection();
  RawRespConnection(const RawRespConnection&) = delete;
  RawRespConnection& operator=(const RawRespConnection&) = delete;

  // Writes all of `bytes`. False when the peer is gone.
  bool Send(absl::string_view bytes);
  // The next reply's bytes. Errors: timeout, connection closed, malformed.
  absl::StatusOr<std::string> ReadReply();
  // The next `n` replies, concatenated.
  absl::StatusOr<std::string> ReadReplies(size_t n);
  // Send(EncodeCommand(args)) + ReadReply().
  absl::StatusOr<std::string> Call(const std::vector<std::string>& args);
  // Send(bytes) + ReadReply().
  absl::StatusOr<std::string> CallRaw(absl::string_view bytes);
  // True when the peer closes the connection (EOF or reset) within the
  // timeout without sending anything more.
  bool ClosedByPeer();

 private:
  explicit RawRespConnection(int fd) : fd_(fd) {}
  // Reads once (waiting up to the deadline). False on EOF, error, timeout.
  bool ReadMore(absl::Time deadline, std::string* why);

  int fd_;
  std::string buffer_;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_INTEGRATION_RAW_RESP_H_
