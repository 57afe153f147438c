#include "tests/integration/raw_resp.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace nearcache {
namespace {

// Parses the reply starting at `pos`; sets *end past it. Returns false when
// incomplete.
absl::StatusOr<bool> ParseReply(absl::string_view b, size_t pos, size_t* end,
                                int depth) {
  if (depth > 64) return absl::InvalidArgumentError("nesting too deep");
  if (pos >= b.size()) return false;
  const size_t crlf = b.find("\r\n", pos);
  if (crlf == absl::string_view::npos) return false;
  const char type = b[pos];
  const absl::string_view line = b.substr(pos + 1, crlf - pos - 1);
  switch (type) {
    case '+':
    case '-':
    case ':':
      *end = crlf + 2;
      return true;
    case '$': {
      int64_t len;
      if (!absl::SimpleAtoi(line, &len) || len < -1) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad bulk header ", line));
      }
      if (len == -1) {
        *end = crlf + 2;
        return true;
      }
      const size_t need = crlf + 2 + static_cast<size_t>(len) + 2;
      if (b.size() < need) return false;
      if (b.substr(need - 2, 2) != "\r\n") {
        return absl::InvalidArgumentError("bulk not followed by CRLF");
      }
      *end = need;
      return true;
    }
    case '*': {
      int64_t n;
      if (!absl::SimpleAtoi(line, &n) || n < -1) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad array header ", line));
      }
      size_t at = crlf + 2;
      for (int64_t i = 0; i < n; ++i) {
        absl::StatusOr<bool> r = ParseReply(b, at, &at, depth + 1);
        if (!r.ok() || !*r) return r;
      }
      *end = at;
      return true;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown reply type byte ", static_cast<int>(type)));
  }
}

}  // namespace

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) {
    absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  }
  return out;
}

absl::StatusOr<size_t> ReplyLength(absl::string_view bytes) {
  size_t end = 0;
  absl::StatusOr<bool> r = ParseReply(bytes, 0, &end, 0);
  if (!r.ok()) return r.status();
  return *r ? end : 0;
}

std::unique_ptr<RawRespConnection> RawRespConnection::Connect(
    const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    close(fd);
    return nullptr;
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<RawRespConnection>(new RawRespConnection(fd));
}

RawRespConnection::~RawRespConnection() { close(fd_); }

bool RawRespConnection::Send(absl::string_view bytes) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (!bytes.empty()) {
    const ssize_t n =
        send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The peer is not reading: read what it sent meanwhile, so that a
      // server that stops reading while its replies are unread cannot
      // deadlock us both. Kept in buffer_ for ReadReply().
      pollfd p = {fd_, POLLOUT | POLLIN, 0};
      const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (ms <= 0) return false;
      if (poll(&p, 1, static_cast<int>(ms)) < 0 && errno != EINTR) return false;
      if (p.revents & POLLIN) {
        char buf[65536];
        const ssize_t r = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) buffer_.append(buf, static_cast<size_t>(r));
      }
      continue;
    }
    return false;
  }
  return true;
}

bool RawRespConnection::ReadMore(absl::Time deadline, std::string* why) {
  for (;;) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) {
      *why = "timed out";
      return false;
    }
    pollfd p = {fd_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(ms));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *why = absl::StrCat("poll: ", strerror(errno));
      return false;
    }
    if (r == 0) continue;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    *why = n == 0 ? "connection closed by peer"
                  : absl::StrCat("recv: ", strerror(errno));
    return false;
  }
}

absl::StatusOr<std::string> RawRespConnection::ReadReply() {
  const absl::Time deadline = absl::Now() + kTimeout;
  for (;;) {
    absl::StatusOr<size_t> len = ReplyLength(buffer_);
    if (!len.ok()) return len.status();
    if (*len > 0) {
      std::string reply = buffer_.substr(0, *len);
      buffer_.erase(0, *len);
      return reply;
    }
    std::string why;
    if (!ReadMore(deadline, &why)) {
      return absl::UnavailableError(
          absl::StrCat(why, " with ", buffer_.size(),
                       " bytes of a reply buffered: ", buffer_.substr(0, 200)));
    }
  }
}

absl::StatusOr<std::string> RawRespConnection::ReadReplies(size_t n) {
  std::string all;
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<std::string> r = ReadReply();
    if (!r.ok()) {
      return absl::Status(
          r.status().code(),
          absl::StrCat("reply ", i, " of ", n, ": ", r.status().message()));
    }
    all += *r;
  }
  return all;
}

absl::StatusOr<std::string> RawRespConnection::Call(
    const std::vector<std::string>& args) {
  return CallRaw(EncodeCommand(args));
}

absl::StatusOr<std::string> RawRespConnection::CallRaw(
    absl::string_view bytes) {
  if (!Send(bytes)) return absl::UnavailableError("send failed");
  return ReadReply();
}

bool RawRespConnection::ClosedByPeer() {
  if (!buffer_.empty()) return false;
  const absl::Time deadline = absl::Now() + kTimeout;
  std::string why;
  if (ReadMore(deadline, &why)) return false;  // it sent more bytes
  return why != "timed out";
}

}  // namespace nearcache
