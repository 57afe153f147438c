// WebhookServer: `nearcache webhook`, the mutating admission webhook over
// HTTPS (boost.beast + OpenSSL). Routing is HandleWebhookRequest
// (admission.h); this file is only sockets and TLS.
//
// One thread, one io_context, one coroutine per connection: a TLS handshake
// bounded by a timeout, then requests (keep-alive) each with a body limit
// and read/write timeouts. SIGTERM or SIGINT closes the listener, lets the
// requests in flight finish for a short grace period, and Run() returns 0.
//
//   WebhookServerOptions options;
//   options.listen = "0.0.0.0:8443";
//   options.tls_cert_file = "/etc/webhook/tls/tls.crt";
//   options.tls_key_file = "/etc/webhook/tls/tls.key";
//   WebhookServer server(options);
//   if (absl::Status s = server.Start(); !s.ok()) ...;
//   return server.Run();
#ifndef NEARCACHE_INJECT_WEBHOOK_SERVER_H_
#define NEARCACHE_INJECT_WEBHOOK_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "inject/pod_mutation.h"

namespace nearcache::inject {

// Plain value type.
struct WebhookServerOptions {
  // host:port to listen on; "[::]:8443" for IPv6, port 0 for any free port.
  std::string listen = "0.0.0.0:8443";
  // PEM certificate chain and private key. The certificate must name the
  // webhook's Service (<service>.<namespace>.svc); they are read at Start()
  // only, so a renewed certificate needs a restart.
  std::string tls_cert_file;
  std::string tls_key_file;
  InjectOptions inject;
};

// Thread-compatible: Start(), port(), Run() and the destructor on one thread.
class WebhookServer {
 public:
  explicit WebhookServer(WebhookServerOptions options);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  // Loads the certificate and key, binds and listens. InvalidArgument for a
  // bad address or unusable TLS files, Unavailable when the bind fails.
  absl::Status Start();

  // The port listened on. REQUIRES: Start() succeeded.
  uint16_t port() const;

  // Serves until SIGTERM or SIGINT. Returns the exit code (0).
  // REQUIRES: Start() succeeded.
  int Run();

 private:
  struct Impl;
  WebhookServerOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_WEBHOOK_SERVER_H_
