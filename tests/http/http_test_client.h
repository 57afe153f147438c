// A blocking HTTP/1.1 test client on a plain socket: sends bytes as given
// (so that tests can pipeline or send malformed requests) and parses
// responses with beast. Every read is bounded (SO_RCVTIMEO) so that a bug
// fails the test instead of hanging it.
#ifndef NEARCACHE_TESTS_HTTP_HTTP_TEST_CLIENT_H_
#define NEARCACHE_TESTS_HTTP_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstring>
#include <optional>
#include <string>

#include "http/http_message.h"

namespace nearcache {

// Thread-compatible.
class HttpTestClient {
 public:
  HttpTestClient() = default;
  ~HttpTestClient() { Close(); }
  HttpTestClient(const HttpTestClient&) = delete;
  HttpTestClient& operator=(const HttpTestClient&) = delete;

  bool ConnectUnix(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    return Finish(
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }

  bool ConnectTcp(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return Finish(
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }

  bool Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n =
          send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // The next response, or nullopt when the connection closed (or a read
  // timed out) before a whole one arrived.
  std::optional<HttpResponse> ReadResponse() {
    boost::beast::http::response_parser<boost::beast::http::string_body> p;
    p.body_limit(64 << 20);
    p.eager(true);
    for (;;) {
      while (!buffered_.empty() && !p.is_done()) {
        boost::beast::error_code ec;
        const size_t used =
            p.put(boost::asio::buffer(buffered_.data(), buffered_.size()), ec);
        buffered_.erase(0, used);
        if (ec == boost::beast::http::error::need_more) break;
        if (ec) return std::nullopt;
      }
      if (p.is_done()) return p.release();
      if (!Fill()) {
        if (p.got_some()) {
          boost::beast::error_code ec;
          p.put_eof(ec);
          if (!ec && p.is_done()) return p.release();
        }
        return std::nullopt;
      }
    }
  }

  // Whether the server closes the connection: reads (and drops) until EOF.
  // False when the read times out or the connection is reset.
  bool WaitForClose() {
    for (;;) {
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return false;
    }
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool Finish(bool connected) {
    timeval tv{};
    tv.tv_sec = 10;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!connected) Close();
    return connected;
  }

  bool Fill() {
    char buf[16384];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffered_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffered_;
};

}  // namespace nearcache

#endif  // NEARCACHE_TESTS_HTTP_HTTP_TEST_CLIENT_H_
