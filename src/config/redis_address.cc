// Parsing of redis.address: redis://, rediss:// and unix:// URLs.

#include "src/config/redis_address.h"

#include <sys/un.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nearcache/config.h"

namespace nearcache {
namespace config_internal {
namespace {

static_assert(kMaxUnixSocketPath == sizeof(sockaddr_un{}.sun_path) - 1);

int HexDigit(char c) {
  return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
}

// Decodes %XX escapes, as URLs carry reserved characters in credentials.
bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
        !absl::ascii_isxdigit(in[i + 2])) {
      return false;
    }
    out->push_back(
        static_cast<char>(HexDigit(in[i + 1]) * 16 + HexDigit(in[i + 2])));
    i += 2;
  }
  return true;
}

bool ParseDb(absl::string_view text, int* db) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return absl::SimpleAtoi(text, db);
}

bool ValidHostName(absl::string_view host) {
  for (char c : host) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

bool ValidIpv6Literal(absl::string_view host) {
  if (host.find(':') == absl::string_view::npos) return false;
  for (char c : host) {
    if (!absl::ascii_isxdigit(c) && c != ':' && c != '.' && c != '%' &&
        !absl::ascii_isalnum(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RedactAddress(absl::string_view address) {
  // Without a scheme, the credentials (if any) are at the start.
  const size_t scheme_end = address.find("://");
  const size_t authority =
      scheme_end == absl::string_view::npos ? 0 : scheme_end + 3;
  const size_t authority_end = address.find_first_of("/?", authority);
  const absl::string_view auth =
      address.substr(authority, authority_end == absl::string_view::npos
                                    ? absl::string_view::npos
                                    : authority_end - authority);
  const size_t at = auth.rfind('@');
  if (at == absl::string_view::npos) return std::string(address);
  const size_t colon = auth.substr(0, at).find(':');
  if (colon == absl::string_view::npos) return std::string(address);
  return absl::StrCat(address.substr(0, authority + colon), ":<redacted>",
                      address.substr(authority + at));
}

absl::StatusOr<RedisUrl> ParseRedisUrl(absl::string_view address) {
  address = absl::StripAsciiWhitespace(address);
  const size_t scheme_end = address.find("://");

  const std::string shown = RedactAddress(address);
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid Redis address \"", absl::CHexEscape(shown), "\": ", why));
  };

  if (address.empty()) return invalid("empty");
  if (scheme_end == absl::string_view::npos) {
    std::string why =
        "expected redis://host:port/db, rediss://host:port/db or "
        "unix:///path";
    if (absl::StartsWith(address, "/")) {
      absl::StrAppend(&why, " (did you mean unix://", shown, "?)");
    } else if (ValidHostName(address.substr(0, address.find(':')))) {
      absl::StrAppend(&why, " (did you mean redis://", shown, "?)");
    }
    return invalid(why);
  }
  const std::string scheme =
      absl::AsciiStrToLower(address.substr(0, scheme_end));
  absl::string_view rest = address.substr(scheme_end + 3);

  RedisUrl url;
  if (scheme == "unix") {
    url.endpoint.transport = RedisEndpoint::Transport::kUnix;
    url.address_without_credentials = std::string(address);
    if (!absl::StartsWith(rest, "/")) {
      if (rest.find('@') != absl::string_view::npos) {
        return invalid(
            "credentials in a unix:// address are not supported; use "
            "redis.username and redis.password_file");
      }
      return invalid(
          "unix:// needs an absolute path, e.g. "
          "unix:///var/run/redis/redis.sock");
    }
    const size_t q = rest.find('?');
    const absl::string_view path = rest.substr(0, q);
    if (path == "/") return invalid("missing socket path");
    if (path.size() > kMaxUnixSocketPath) {
      return invalid(absl::StrCat("socket path is ", path.size(),
                                  " bytes; a unix socket path holds at most ",
                                  kMaxUnixSocketPath));
    }
    url.endpoint.unix_path = std::string(path);
    if (q != absl::string_view::npos) {
      for (absl::string_view param :
           absl::StrSplit(rest.substr(q + 1), '&', absl::SkipEmpty())) {
        const std::pair<absl::string_view, absl::string_view> kv =
            absl::StrSplit(param, absl::MaxSplits('=', 1));
        if (kv.first != "db") {
          return invalid(
              absl::StrCat("unknown parameter \"", kv.first, "\" (only db=N)"));
        }
        if (!ParseDb(kv.second, &url.endpoint.db)) {
          return invalid(absl::StrCat("invalid database \"", kv.second,
                                      "\" (a number, e.g. ?db=0)"));
        }
      }
    }
    return url;
  }

  if (scheme == "redis") {
    url.endpoint.transport = RedisEndpoint::Transport::kTcp;
  } else if (scheme == "rediss") {
    url.endpoint.transport = RedisEndpoint::Transport::kTls;
  } else {
    return invalid(absl::StrCat("unknown scheme \"", scheme,
                                "\" (redis, rediss or unix)"));
  }

  const size_t authority_end = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, authority_end);
  const absl::string_view tail = authority_end == absl::string_view::npos
                                     ? absl::string_view()
                                     : rest.substr(authority_end);

  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    const absl::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    const absl::string_view user = userinfo.substr(0, colon);
    const absl::string_view pass = colon == absl::string_view::npos
                                       ? absl::string_view()
                                       : userinfo.substr(colon + 1);
    if (!PercentDecode(user, &url.username) ||
        !PercentDecode(pass, &url.password)) {
      return invalid("bad %-escape in the user or password");
    }
    authority.remove_prefix(at + 1);
  }
  url.address_without_credentials =
      absl::StrCat(address.substr(0, scheme_end + 3), authority, tail);

  absl::string_view host = authority;
  absl::string_view port;
  bool has_port = false;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return invalid("missing ']'");
    host = authority.substr(1, close - 1);
    const absl::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid("expected ':port' after ']'");
      port = after.substr(1);
      has_port = true;
    }
    if (!ValidIpv6Literal(host)) {
      return invalid(absl::StrCat("invalid IPv6 address \"", host, "\""));
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != absl::string_view::npos) {
      if (authority.find(':', colon + 1) != absl::string_view::npos) {
        return invalid("an IPv6 host needs brackets, e.g. redis://[::1]:6379");
      }
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (!host.empty() && !ValidHostName(host)) {
      return invalid(absl::StrCat("invalid host \"", host, "\""));
    }
  }
  if (host.empty()) return invalid("missing host");
  url.endpoint.host = std::string(host);

  if (has_port) {
    int n = 0;
    if (port.empty()) return invalid("missing port after ':'");
    if (!ParseDb(port, &n) || n < 1 || n > 65535) {
      return invalid(absl::StrCat("invalid port \"", port, "\" (1..65535)"));
    }
    url.endpoint.port = static_cast<uint16_t>(n);
  }

  if (absl::StartsWith(tail, "?")) {
    return invalid(
        "query parameters are not supported; the database goes in the path, "
        "e.g. redis://host:6379/0");
  }
  absl::string_view db = absl::StripPrefix(tail, "/");
  if (db.find('?') != absl::string_view::npos) {
    return invalid(
        "query parameters are not supported; the database goes in the path, "
        "e.g. redis://host:6379/0");
  }
  if (!db.empty() && !ParseDb(db, &url.endpoint.db)) {
    return invalid(absl::StrCat("invalid database \"", db,
                                "\" (a number, e.g. redis://host:6379/0)"));
  }
  return url;
}

}  // namespace config_internal

absl::StatusOr<RedisEndpoint> ParseRedisAddress(absl::string_view address) {
  absl::StatusOr<config_internal::RedisUrl> url =
      config_internal::ParseRedisUrl(address);
  if (!url.ok()) return url.status();
  return std::move(url->endpoint);
}

}  // namespace nearcache
