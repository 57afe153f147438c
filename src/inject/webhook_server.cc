#include "inject/webhook_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <csignal>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "inject/admission.h"
#include "util/log.h"

namespace nearcache::inject {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

// An AdmissionReview of a Pod is tens of KiB; the API server refuses
// objects above 3MiB.
constexpr uint64_t kMaxBodyBytes = uint64_t{4} << 20;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr auto kShutdownTimeout = std::chrono::seconds(2);
constexpr auto kStopGrace = std::chrono::seconds(2);

absl::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// "host:port", "[v6]:port" or ":port" (all interfaces).
absl::StatusOr<tcp::endpoint> ParseListenAddress(const std::string& text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(text).substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: invalid address \"", text, "\": expected host:port"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: invalid address \"", text, "\": host must be an IP"));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

asio::awaitable<void> ServeConnection(Stream stream,
                                      const InjectOptions* options) {
  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  stream.next_layer().expires_after(kHandshakeTimeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server, token);
  if (ec) {
    LOG_DEBUG("webhook: TLS handshake failed", {{"error", ec.message()}});
    co_return;
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    stream.next_layer().expires_after(kIdleTimeout);
    co_await http::async_read(stream, buffer, parser, token);
    if (ec) break;
    const http::request<http::string_body>& request = parser.get();
    HttpReply reply =
        HandleWebhookRequest(View(request.method_string()),
                             View(request.target()), request.body(), *options);
    LOG_DEBUG("webhook: request",
              {{"method", std::string(View(request.method_string()))},
               {"target", std::string(View(request.target()))},
               {"status", absl::StrCat(reply.status)}});
    http::response<http::string_body> response(
        static_cast<http::status>(reply.status), request.version());
    response.set(http::field::server, "nearcache-webhook");
    response.set(http::field::content_type, reply.content_type);
    response.keep_alive(request.keep_alive());
    response.body() = std::move(reply.body);
    response.prepare_payload();
    stream.next_layer().expires_after(kWriteTimeout);
    co_await http::async_write(stream, response, token);
    if (ec || !response.keep_alive()) break;
  }
  stream.next_layer().expires_after(kShutdownTimeout);
  co_await stream.async_shutdown(token);
}

}  // namespace

struct WebhookServer::Impl {
  // Destroyed in reverse: the acceptor, then the io_context with the
  // connections still in it, then the TLS context they use.
  asio::ssl::context tls{asio::ssl::context::tls_server};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};

  asio::awaitable<void> AcceptLoop(const InjectOptions* options) {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(
          asio::redirect_error(asio::use_awaitable, ec));
      if (!acceptor.is_open()) co_return;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        LOG_WARN("webhook: accept failed", {{"error", ec.message()}});
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(
            asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      asio::co_spawn(
          io,
          ServeConnection(Stream(beast::tcp_stream(std::move(socket)), tls),
                          options),
          asio::detached);
    }
  }
};

WebhookServer::WebhookServer(WebhookServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

WebhookServer::~WebhookServer() = default;

absl::Status WebhookServer::Start() {
  absl::StatusOr<tcp::endpoint> endpoint = ParseListenAddress(options_.listen);
  if (!endpoint.ok()) return endpoint.status();

  boost::system::error_code ec;
  impl_->tls.set_options(
      asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
          asio::ssl::context::no_tlsv1_1,
      ec);
  impl_->tls.use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-cert: cannot use \"",
                                                   options_.tls_cert_file,
                                                   "\": ", ec.message()));
  }
  impl_->tls.use_private_key_file(options_.tls_key_file,
                                  asio::ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-key: cannot use \"",
                                                   options_.tls_key_file,
                                                   "\": ", ec.message()));
  }

  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen, ": ", ec.message()));
  }
  LOG_INFO("webhook listening",
           {{"address", options_.listen}, {"port", absl::StrCat(port())}});
  return absl::OkStatus();
}

uint16_t WebhookServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

int WebhookServer::Run() {
  asio::co_spawn(impl_->io, impl_->AcceptLoop(&options_.inject),
                 asio::detached);
  asio::signal_set signals(impl_->io, SIGTERM, SIGINT);
  asio::steady_timer grace(impl_->io);
  signals.async_wait(
      [this, &grace](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        LOG_INFO("webhook shutting down", {{"signal", absl::StrCat(signo)}});
        boost::system::error_code ignored;
        impl_->acceptor.close(ignored);
        // Requests take microseconds; idle keep-alive connections are dropped.
        grace.expires_after(kStopGrace);
        grace.async_wait(
            [this](const boost::system::error_code&) { impl_->io.stop(); });
      });
  impl_->io.run();
  return 0;
}

}  // namespace nearcache::inject
