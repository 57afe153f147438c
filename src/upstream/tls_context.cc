#include "upstream/tls_context.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <string.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nearcache {
namespace {

using boost::system::error_code;
namespace ssl = asio::ssl;

// OpenSSL reports a missing file as a generic "system lib" error: check
// first, so that the message says what is wrong.
absl::Status CheckReadable(const char* what, const std::string& path) {
  if (access(path.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS ", what, " ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status LoadError(const char* what, const std::string& path,
                       const error_code& ec) {
  return absl::InvalidArgumentError(
      absl::StrCat("TLS ", what, " ", path, ": ", ec.message()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(
    const TlsOptions& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS client certificate and key go together: set both or neither");
  }
  std::shared_ptr<ssl::context> ctx;
  try {
    // Only throws when OpenSSL cannot allocate the context.
    ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("cannot create a TLS context: ", e.what()));
  }
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION);
  // An encrypted key would make OpenSSL prompt on the terminal; a sidecar
  // has none, so refuse it with a message instead.
  SSL_CTX_set_default_passwd_cb(
      native, [](char*, int, int, void*) -> int { return -1; });

  error_code ec;
  if (!tls.ca_file.empty()) {
    if (absl::Status s = CheckReadable("CA file", tls.ca_file); !s.ok()) {
      return s;
    }
    ctx->load_verify_file(tls.ca_file, ec);
    if (ec) return LoadError("CA file", tls.ca_file, ec);
  } else if (tls.verify) {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS: cannot load the system CAs: ", ec.message()));
    }
  }
  if (!tls.cert_file.empty()) {
    if (absl::Status s = CheckReadable("certificate", tls.cert_file); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckReadable("key", tls.key_file); !s.ok()) {
      return s;
    }
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return LoadError("certificate", tls.cert_file, ec);
    ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) return LoadError("key", tls.key_file, ec);
    if (SSL_CTX_check_private_key(native) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key ", tls.key_file,
                       " does not match the certificate ", tls.cert_file));
    }
  }
  ctx->set_verify_mode(tls.verify ? ssl::verify_peer : ssl::verify_none, ec);
  return ctx;
}

}  // namespace nearcache
