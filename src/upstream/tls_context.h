// TLS for rediss:// endpoints: the settings a connection takes, and the
// client-side OpenSSL context built from them once and shared by every
// connection of a pool (it holds the CA store and the client certificate;
// the server name is checked per connection).
//
// The asio/OpenSSL types stay out of this header: callers only pass the
// context along.
//
// Usage:
//   TlsOptions tls;
//   tls.ca_file = "/etc/redis-tls/ca.crt";
//   absl::StatusOr<std::shared_ptr<asio::ssl::context>> ctx =
//       MakeTlsContext(tls);
//   if (!ctx.ok()) ...;  // names the file and why
//   co_await RedisConnection::Connect(ex, options, *ctx);
#ifndef NEARCACHE_UPSTREAM_TLS_CONTEXT_H_
#define NEARCACHE_UPSTREAM_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace nearcache {

namespace asio = boost::asio;

// Thread-compatible plain struct. Used only for rediss:// endpoints.
struct TlsOptions {
  // PEM CA certificates that verify the server; empty: the system's CAs.
  std::string ca_file;
  // PEM client certificate (chain) and its unencrypted private key, for a
  // server with tls-auth-clients; both or neither.
  std::string cert_file;
  std::string key_file;
  // Sent as SNI (unless an IP address) and matched against the server
  // certificate's names; empty: the endpoint's host.
  std::string server_name;
  // Verify the server's certificate chain and name. Turning it off leaves
  // the connection open to an active man in the middle.
  bool verify = true;

  bool operator==(const TlsOptions&) const = default;
};

// A TLS 1.2+ client context loaded with `tls`'s CA (or the system's when
// verifying without one) and client certificate. Thread-compatible; shared
// read-only once built. Fails with kInvalidArgument naming the file and the
// reason when a file cannot be read or parsed, or the key does not match
// the certificate.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(
    const TlsOptions& tls);

}  // namespace nearcache

#endif  // NEARCACHE_UPSTREAM_TLS_CONTEXT_H_
