// Loading, validating and rendering the YAML configuration.
//
// Every key is described once, in Keys(): its path, how to read it from a
// YAML node into Config, and how to write it back. Parsing walks the YAML
// tree against that table (so unknown keys are found at any depth), the
// renderer and KeysNeedingRestart walk the table itself. Checks that span
// several keys run after the walk, in Validate().

#include "nearcache/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/config/redis_address.h"
#include "src/config/units.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace nearcache {
namespace {

using config_internal::FormatByteSize;
using config_internal::FormatDurationValue;

constexpr char kPasswordEnv[] = "NEARCACHE_REDIS_PASSWORD";

// Everything one parse gathers.
struct ParseState {
  std::string filename;
  Config config;
  std::vector<std::string> errors;  // "FILE: key.path: why"
  std::set<std::string> failed;     // key paths whose value was refused
  std::string url_username;         // credentials found in redis.address
  std::string url_password;
};

void AddError(ParseState& st, absl::string_view path, absl::string_view why) {
  if (path.empty()) {
    st.errors.push_back(absl::StrCat(st.filename, ": ", why));
  } else {
    st.errors.push_back(absl::StrCat(st.filename, ": ", path, ": ", why));
    st.failed.insert(std::string(path));
  }
}

bool Failed(const ParseState& st, absl::string_view path) {
  return st.failed.count(std::string(path)) > 0;
}

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

std::string Quoted(absl::string_view s) {
  return absl::StrCat("\"", absl::CHexEscape(s), "\"");
}

absl::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// ---- Reading values from YAML nodes ----

// The text of a scalar node, or why `node` is not one. `what` describes the
// expected value, e.g. "a duration (e.g. 30s)".
absl::StatusOr<std::string> ScalarText(const YAML::Node& node,
                                       absl::string_view what) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) {
    return Invalid(absl::StrCat("missing value: expected ", what));
  }
  return Invalid(absl::StrCat("expected ", what, ", got ", KindName(node)));
}

// A string; an empty YAML value (`key:`) reads as "".
absl::StatusOr<std::string> ReadString(const YAML::Node& node) {
  if (node.IsNull()) return std::string();
  return ScalarText(node, "a string");
}

absl::StatusOr<bool> ReadBool(const YAML::Node& node) {
  absl::StatusOr<std::string> text = ScalarText(node, "true or false");
  if (!text.ok()) return text.status();
  const std::string lower = absl::AsciiStrToLower(*text);
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return Invalid(
      absl::StrCat("invalid boolean ", Quoted(*text), " (true or false)"));
}

absl::StatusOr<int64_t> ReadInt(const YAML::Node& node, int64_t lo,
                                int64_t hi) {
  absl::StatusOr<std::string> text = ScalarText(node, "an integer");
  if (!text.ok()) return text.status();
  int64_t n = 0;
  if (!absl::SimpleAtoi(*text, &n)) {
    return Invalid(absl::StrCat("invalid integer ", Quoted(*text)));
  }
  if (n < lo || n > hi) {
    return Invalid(absl::StrCat(n, " is out of range (", lo, "..", hi, ")"));
  }
  return n;
}

absl::StatusOr<absl::Duration> ReadDuration(const YAML::Node& node) {
  absl::StatusOr<std::string> text = ScalarText(node, "a duration (e.g. 30s)");
  if (!text.ok()) return text.status();
  return ParseDurationValue(*text);
}

absl::StatusOr<size_t> ReadSize(const YAML::Node& node) {
  absl::StatusOr<std::string> text = ScalarText(node, "a size (e.g. 256MiB)");
  if (!text.ok()) return text.status();
  return ParseByteSize(*text);
}

// Permission bits in octal, as chmod reads them: "0660", "660", "0o660".
absl::StatusOr<uint32_t> ReadSocketMode(const YAML::Node& node) {
  absl::StatusOr<std::string> text =
      ScalarText(node, "octal permission bits (e.g. \"0660\")");
  if (!text.ok()) return text.status();
  absl::string_view digits = absl::StripAsciiWhitespace(*text);
  if (!absl::ConsumePrefix(&digits, "0o")) absl::ConsumePrefix(&digits, "0O");
  uint32_t mode = 0;
  bool ok = !digits.empty() && digits.size() <= 4;
  for (char c : digits) {
    if (c < '0' || c > '7') ok = false;
    mode = mode * 8 + (c - '0');
  }
  if (!ok || mode > 0777) {
    return Invalid(absl::StrCat("invalid mode ", Quoted(*text),
                                ": expected octal permission bits, e.g. "
                                "\"0660\""));
  }
  return mode;
}

// ---- Checks on single values ----

absl::Status CheckPositive(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return Invalid("must be greater than 0");
  return absl::OkStatus();
}

absl::Status CheckSocketPath(const std::string& path) {
  if (path.size() > config_internal::kMaxUnixSocketPath) {
    return Invalid(absl::StrCat("path is ", path.size(),
                                " bytes; a unix socket path holds at most ",
                                config_internal::kMaxUnixSocketPath));
  }
  return absl::OkStatus();
}

// "host:port" or "[v6]:port", port 1..65535.
absl::Status CheckHostPort(const std::string& address) {
  const absl::Status bad = Invalid(
      absl::StrCat("invalid address ", Quoted(address),
                   ": expected host:port, e.g. 127.0.0.1:6379 or [::1]:6379"));
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad;
  absl::string_view host = absl::string_view(address).substr(0, colon);
  if (absl::StartsWith(host, "[")) {
    if (!absl::EndsWith(host, "]") || host.size() < 3) return bad;
  } else if (host.find(':') != absl::string_view::npos) {
    return Invalid(absl::StrCat("invalid address ", Quoted(address),
                                ": an IPv6 host needs brackets, e.g. "
                                "[::1]:6379"));
  }
  for (char c : host) {
    if (absl::ascii_isspace(c) || c == '/') return bad;
  }
  int port = 0;
  const absl::string_view port_text =
      absl::string_view(address).substr(colon + 1);
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) ||
      !absl::ascii_isdigit(port_text[0]) || port < 1 || port > 65535) {
    return Invalid(absl::StrCat("invalid address ", Quoted(address),
                                ": port must be 1..65535"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptionalHostPort(const std::string& address) {
  return address.empty() ? absl::OkStatus() : CheckHostPort(address);
}

// ---- Writing values as YAML ----

// `s` as a YAML double-quoted scalar. Only YAML's own escapes are used
// (C's \' is not one of them); UTF-8 passes through.
std::string YamlQuoted(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// A YAML scalar for `s`: plain when every YAML reader reads it back as the
// same string, double-quoted otherwise.
std::string YamlString(absl::string_view s) {
  bool plain = !s.empty() && (absl::ascii_isalnum(s[0]) || s[0] == '/') &&
               s.back() != ':';
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains("_./:-@+", c)) {
      plain = false;
    }
  }
  if (plain) {
    // Words that YAML 1.1 readers take as booleans or null, and numbers.
    static constexpr absl::string_view kReserved[] = {
        "y", "n", "yes", "no", "true", "false", "on", "off", "null"};
    const std::string lower = absl::AsciiStrToLower(s);
    double number;
    if (absl::SimpleAtod(s, &number) ||
        std::find(std::begin(kReserved), std::end(kReserved), lower) !=
            std::end(kReserved)) {
      plain = false;
    }
  }
  return plain ? std::string(s) : YamlQuoted(s);
}

// ---- The key table ----

// One leaf key of the YAML layout.
struct Key {
  std::string path;  // "cache.ttl", "redis.tls.ca_file"
  // Reads `node` (found at `path`) into the state's config, or adds errors.
  std::function<void(const YAML::Node& node, const std::string& path,
                     ParseState& st)>
      parse;
  // The value in `config` as YAML text.
  std::function<std::string(const Config& config)> render;
};

// A key whose value is one T read by `read` and stored in section.*member.
template <typename S, typename T>
Key ValueKey(std::string path, S Config::*section, T S::*member,
             std::function<absl::StatusOr<T>(const YAML::Node&)> read,
             std::function<std::string(const T&)> write) {
  Key key;
  key.path = std::move(path);
  key.parse = [section, member, read](const YAML::Node& node,
                                      const std::string& path, ParseState& st) {
    absl::StatusOr<T> value = read(node);
    if (!value.ok()) {
      AddError(st, path, value.status().message());
      return;
    }
    st.config.*section.*member = *std::move(value);
  };
  key.render = [section, member, write](const Config& config) {
    return write(config.*section.*member);
  };
  return key;
}

template <typename S>
Key StringKey(std::string path, S Config::*section, std::string S::*member,
              absl::Status (*check)(const std::string&) = nullptr) {
  return ValueKey<S, std::string>(
      std::move(path), section, member,
      [check](const YAML::Node& node) -> absl::StatusOr<std::string> {
        absl::StatusOr<std::string> s = ReadString(node);
        if (s.ok() && check != nullptr) {
          absl::Status status = check(*s);
          if (!status.ok()) return status;
        }
        return s;
      },
      [](const std::string& s) { return YamlString(s); });
}

template <typename S>
Key BoolKey(std::string path, S Config::*section, bool S::*member) {
  return ValueKey<S, bool>(
      std::move(path), section, member, ReadBool,
      [](const bool& b) -> std::string { return b ? "true" : "false"; });
}

template <typename S, typename T>
Key IntKey(std::string path, S Config::*section, T S::*member, int64_t lo,
           int64_t hi) {
  return ValueKey<S, T>(
      std::move(path), section, member,
      [lo, hi](const YAML::Node& node) -> absl::StatusOr<T> {
        absl::StatusOr<int64_t> n = ReadInt(node, lo, hi);
        if (!n.ok()) return n.status();
        return static_cast<T>(*n);
      },
      [](const T& n) { return absl::StrCat(n); });
}

enum class Zero { kAllowed, kRefused };

template <typename S>
Key DurationKey(std::string path, S Config::*section, absl::Duration S::*member,
                Zero zero) {
  return ValueKey<S, absl::Duration>(
      std::move(path), section, member,
      [zero](const YAML::Node& node) -> absl::StatusOr<absl::Duration> {
        absl::StatusOr<absl::Duration> d = ReadDuration(node);
        if (d.ok() && zero == Zero::kRefused) {
          absl::Status status = CheckPositive(*d);
          if (!status.ok()) return status;
        }
        return d;
      },
      [](const absl::Duration& d) { return FormatDurationValue(d); });
}

template <typename S>
Key SizeKey(std::string path, S Config::*section, size_t S::*member,
            size_t max = SIZE_MAX) {
  return ValueKey<S, size_t>(
      std::move(path), section, member,
      [max](const YAML::Node& node) -> absl::StatusOr<size_t> {
        absl::StatusOr<size_t> n = ReadSize(node);
        if (n.ok() && *n == 0) return Invalid("must be greater than 0");
        if (n.ok() && *n > max) {
          return Invalid(absl::StrCat("must be at most ", FormatByteSize(max)));
        }
        return n;
      },
      [](const size_t& n) { return FormatByteSize(n); });
}

// One of a fixed set of names, e.g. log.level.
template <typename S, typename E>
Key EnumKey(std::string path, S Config::*section, E S::*member,
            std::vector<std::pair<absl::string_view, E>> names) {
  return ValueKey<S, E>(
      std::move(path), section, member,
      [names](const YAML::Node& node) -> absl::StatusOr<E> {
        std::vector<absl::string_view> all;
        for (const auto& [name, value] : names) all.push_back(name);
        absl::StatusOr<std::string> text =
            ScalarText(node, absl::StrCat("one of ", absl::StrJoin(all, ", ")));
        if (!text.ok()) return text.status();
        const std::string lower = absl::AsciiStrToLower(*text);
        for (const auto& [name, value] : names) {
          if (name == lower) return value;
        }
        return Invalid(absl::StrCat("invalid value ", Quoted(*text), " (",
                                    absl::StrJoin(all, ", "), ")"));
      },
      [names](const E& e) {
        for (const auto& [name, value] : names) {
          if (value == e) return std::string(name);
        }
        return std::string("?");
      });
}

// A list whose elements are read one by one, each error naming its index.
template <typename S, typename T>
Key ListKey(std::string path, S Config::*section, std::vector<T> S::*member,
            std::function<absl::StatusOr<T>(const YAML::Node&)> read_element,
            std::function<std::string(const T&)> write_element) {
  Key key;
  key.path = std::move(path);
  key.parse = [section, member, read_element](const YAML::Node& node,
                                              const std::string& path,
                                              ParseState& st) {
    std::vector<T>& out = st.config.*section.*member;
    out.clear();
    if (node.IsNull()) return;
    if (!node.IsSequence()) {
      AddError(st, path,
               absl::StrCat("expected a list (e.g. [a, b] or []), got ",
                            KindName(node)));
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      absl::StatusOr<T> value = read_element(node[i]);
      if (!value.ok()) {
        AddError(st, absl::StrCat(path, "[", i, "]"), value.status().message());
        st.failed.insert(path);
        continue;
      }
      out.push_back(*std::move(value));
    }
  };
  key.render = [section, member, write_element](const Config& config) {
    const std::vector<T>& values = config.*section.*member;
    std::vector<std::string> items;
    for (const T& v : values) items.push_back(write_element(v));
    return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
  };
  return key;
}

// redis.address: also sets the endpoint and keeps any URL credentials
// aside for Validate(), which moves them into the config.
Key RedisAddressKey() {
  Key key;
  key.path = "redis.address";
  key.parse = [](const YAML::Node& node, const std::string& path,
                 ParseState& st) {
    absl::StatusOr<std::string> text =
        ScalarText(node, "a Redis address (e.g. redis://localhost:6379/0)");
    if (!text.ok()) {
      AddError(st, path, text.status().message());
      return;
    }
    absl::StatusOr<config_internal::RedisUrl> url =
        config_internal::ParseRedisUrl(*text);
    if (!url.ok()) {
      AddError(st, path, url.status().message());
      return;
    }
    st.config.redis.address = std::move(url->address_without_credentials);
    st.config.redis.endpoint = std::move(url->endpoint);
    st.url_username = std::move(url->username);
    st.url_password = std::move(url->password);
  };
  key.render = [](const Config& config) {
    // A config built in code may still carry credentials in the address.
    absl::StatusOr<config_internal::RedisUrl> url =
        config_internal::ParseRedisUrl(config.redis.address);
    return YamlString(
        url.ok() ? url->address_without_credentials
                 : config_internal::RedactAddress(config.redis.address));
  };
  return key;
}

const std::vector<Key>& Keys() {
  static const std::vector<Key>* const keys = [] {
    using C = Config;
    using L = ListenConfig;
    using R = RedisConfig;
    using K = CacheConfig;
    using I = InvalidationConfig;
    auto* k = new std::vector<Key>;
    k->push_back(StringKey("listen.resp_socket", &C::listen, &L::resp_socket,
                           CheckSocketPath));
    k->push_back(StringKey("listen.http_socket", &C::listen, &L::http_socket,
                           CheckSocketPath));
    k->push_back(
        ValueKey<L, uint32_t>("listen.socket_mode", &C::listen, &L::socket_mode,
                              ReadSocketMode, [](const uint32_t& mode) {
                                return absl::StrFormat("\"%04o\"", mode);
                              }));
    k->push_back(StringKey("listen.resp_tcp", &C::listen, &L::resp_tcp,
                           CheckOptionalHostPort));
    k->push_back(StringKey("listen.http_tcp", &C::listen, &L::http_tcp,
                           CheckOptionalHostPort));
    k->push_back(IntKey("listen.threads", &C::listen, &L::threads, 1, 64));
    k->push_back(IntKey("listen.max_connections", &C::listen,
                        &L::max_connections, 1, 1000000));
    k->push_back(
        SizeKey("listen.max_bulk_bytes", &C::listen, &L::max_bulk_bytes));
    k->push_back(IntKey("listen.max_args", &C::listen, &L::max_args, 1,
                        int64_t{INT32_MAX}));
    k->push_back(
        SizeKey("listen.max_request_bytes", &C::listen, &L::max_request_bytes));
    k->push_back(
        SizeKey("listen.max_output_bytes", &C::listen, &L::max_output_bytes));
    // Beast keeps the header limit in 32 bits; 64MiB is plenty.
    k->push_back(SizeKey("listen.http_max_header_bytes", &C::listen,
                         &L::http_max_header_bytes, size_t{64} << 20));
    k->push_back(SizeKey("listen.http_max_body_bytes", &C::listen,
                         &L::http_max_body_bytes));
    k->push_back(DurationKey("listen.idle_timeout", &C::listen,
                             &L::idle_timeout, Zero::kAllowed));
    k->push_back(ListKey<L, uint32_t>(
        "listen.allowed_uids", &C::listen, &L::allowed_uids,
        [](const YAML::Node& node) -> absl::StatusOr<uint32_t> {
          // 4294967295 is (uid_t)-1, "no user".
          absl::StatusOr<int64_t> uid = ReadInt(node, 0, 4294967294);
          if (!uid.ok()) return uid.status();
          return static_cast<uint32_t>(*uid);
        },
        [](const uint32_t& uid) { return absl::StrCat(uid); }));

    k->push_back(StringKey("admin.address", &C::admin, &AdminConfig::address,
                           CheckHostPort));

    k->push_back(RedisAddressKey());
    k->push_back(StringKey("redis.username", &C::redis, &R::username));
    k->push_back(
        StringKey("redis.password_file", &C::redis, &R::password_file));
    k->push_back(DurationKey("redis.connect_timeout", &C::redis,
                             &R::connect_timeout, Zero::kRefused));
    k->push_back(DurationKey("redis.command_timeout", &C::redis,
                             &R::command_timeout, Zero::kRefused));
    k->push_back(IntKey("redis.pool_size", &C::redis, &R::pool_size, 1, 64));
    k->push_back(IntKey("redis.breaker_failures", &C::redis,
                        &R::breaker_failures, 1, 1000));
    k->push_back(DurationKey("redis.breaker_cooldown", &C::redis,
                             &R::breaker_cooldown, Zero::kRefused));
    k->push_back(DurationKey("redis.reconnect_min", &C::redis,
                             &R::reconnect_min, Zero::kRefused));
    k->push_back(DurationKey("redis.reconnect_max", &C::redis,
                             &R::reconnect_max, Zero::kRefused));
    k->push_back(StringKey("redis.tls.ca_file", &C::redis, &R::tls_ca_file));
    k->push_back(
        StringKey("redis.tls.cert_file", &C::redis, &R::tls_cert_file));
    k->push_back(StringKey("redis.tls.key_file", &C::redis, &R::tls_key_file));
    k->push_back(
        StringKey("redis.tls.server_name", &C::redis, &R::tls_server_name));
    k->push_back(BoolKey("redis.tls.verify", &C::redis, &R::tls_verify));

    k->push_back(SizeKey("cache.max_bytes", &C::cache, &K::max_bytes));
    k->push_back(DurationKey("cache.ttl", &C::cache, &K::ttl, Zero::kRefused));
    k->push_back(DurationKey("cache.max_stale", &C::cache, &K::max_stale,
                             Zero::kAllowed));
    k->push_back(DurationKey("cache.negative_ttl", &C::cache, &K::negative_ttl,
                             Zero::kAllowed));
    k->push_back(IntKey("cache.shards", &C::cache, &K::shards, 1, 1024));

    k->push_back(
        BoolKey("invalidation.tracking", &C::invalidation, &I::tracking));
    k->push_back(ListKey<I, std::string>(
        "invalidation.tracking_prefixes", &C::invalidation,
        &I::tracking_prefixes,
        [](const YAML::Node& node) { return ScalarText(node, "a string"); },
        [](const std::string& s) { return YamlQuoted(s); }));
    k->push_back(
        StringKey("invalidation.channel", &C::invalidation, &I::channel));
    k->push_back(DurationKey("invalidation.ping_interval", &C::invalidation,
                             &I::ping_interval, Zero::kRefused));
    k->push_back(DurationKey("invalidation.ping_timeout", &C::invalidation,
                             &I::ping_timeout, Zero::kRefused));

    k->push_back(EnumKey<LogConfig, LogConfig::Level>(
        "log.level", &C::log, &LogConfig::level,
        {{"debug", LogConfig::kDebug},
         {"info", LogConfig::kInfo},
         {"warn", LogConfig::kWarn},
         {"error", LogConfig::kError}}));
    k->push_back(EnumKey<LogConfig, LogConfig::Format>(
        "log.format", &C::log, &LogConfig::format,
        {{"json", LogConfig::kJson}, {"text", LogConfig::kText}}));
    return k;
  }();
  return *keys;
}

const Key* FindKey(absl::string_view path) {
  for (const Key& key : Keys()) {
    if (key.path == path) return &key;
  }
  return nullptr;
}

// The names directly under `prefix` ("" for the top level), in table order:
// leaf keys and groups alike.
std::vector<std::string> ChildrenOf(absl::string_view prefix) {
  std::vector<std::string> names;
  for (const Key& key : Keys()) {
    absl::string_view rest = key.path;
    if (!prefix.empty() && !(absl::ConsumePrefix(&rest, prefix) &&
                             absl::ConsumePrefix(&rest, "."))) {
      continue;
    }
    std::string name(rest.substr(0, rest.find('.')));
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

// Whether `path` is a section or group ("redis", "redis.tls").
bool IsGroup(absl::string_view path) {
  for (const Key& key : Keys()) {
    if (absl::StartsWith(key.path, path) && key.path.size() > path.size() &&
        key.path[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

// Optimal string alignment distance: edits, counting a swap of adjacent
// letters as one ("tll" -> "ttl").
int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<int>> d(a.size() + 1, std::vector<int>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// " (did you mean X?)" for an unknown `name` under `prefix`, or "". A key
// of exactly that name in another section wins ("ttl" at the top level ->
// cache.ttl); else the closest name here within two edits.
std::string Suggestion(absl::string_view prefix, absl::string_view name) {
  std::vector<std::string> elsewhere;
  for (const Key& key : Keys()) {
    const std::vector<absl::string_view> parts = absl::StrSplit(key.path, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i] != name) continue;
      std::string full =
          absl::StrJoin(parts.begin(), parts.begin() + i + 1, ".");
      if (std::find(elsewhere.begin(), elsewhere.end(), full) ==
          elsewhere.end()) {
        elsewhere.push_back(std::move(full));
      }
    }
  }
  if (!elsewhere.empty()) {
    return absl::StrCat(" (did you mean ", absl::StrJoin(elsewhere, " or "),
                        "?)");
  }
  const std::string lower = absl::AsciiStrToLower(name);
  std::string best;
  int best_distance = 3;
  for (const std::string& candidate : ChildrenOf(prefix)) {
    const int distance = EditDistance(lower, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  if (best.empty()) return "";
  return absl::StrCat(" (did you mean ", best, "?)");
}

// Reads the keys of map `node` found at `prefix` ("" for the top level).
void ParseMap(const YAML::Node& node, const std::string& prefix,
              ParseState& st) {
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const YAML::Node& key_node = entry.first;
    const YAML::Node& value = entry.second;
    if (!key_node.IsScalar()) {
      AddError(st, prefix, "a key must be a plain name");
      continue;
    }
    const std::string& name = key_node.Scalar();
    const std::string path =
        prefix.empty() ? name : absl::StrCat(prefix, ".", name);
    if (!seen.insert(name).second) {
      AddError(st, path, "duplicate key");
      continue;
    }
    if (const Key* key = FindKey(path)) {
      key->parse(value, path, st);
    } else if (IsGroup(path)) {
      if (value.IsNull()) continue;  // an empty section: its defaults
      if (!value.IsMap()) {
        AddError(
            st, path,
            absl::StrCat("expected a map of settings, got ", KindName(value)));
        continue;
      }
      ParseMap(value, path, st);
    } else {
      AddError(st, path, absl::StrCat("unknown key", Suggestion(prefix, name)));
    }
  }
}

// Checks that span several keys. A key that already failed is left out, so
// that one mistake is reported once.
void Validate(ParseState& st) {
  Config& c = st.config;
  if (c.redis.username.empty()) c.redis.username = st.url_username;
  c.redis.password = st.url_password;

  const ListenConfig& l = c.listen;
  const bool listeners_failed =
      Failed(st, "listen.resp_socket") || Failed(st, "listen.http_socket") ||
      Failed(st, "listen.resp_tcp") || Failed(st, "listen.http_tcp");
  if (!listeners_failed && l.resp_socket.empty() && l.http_socket.empty() &&
      l.resp_tcp.empty() && l.http_tcp.empty()) {
    AddError(st, "listen",
             "no listener: set at least one of resp_socket, http_socket, "
             "resp_tcp, http_tcp");
  }
  if (!l.resp_socket.empty() && l.resp_socket == l.http_socket) {
    AddError(st, "listen.http_socket", "same path as listen.resp_socket");
  }
  if (!l.resp_tcp.empty() && l.resp_tcp == l.http_tcp) {
    AddError(st, "listen.http_tcp", "same address as listen.resp_tcp");
  }
  for (const auto& [other, name] :
       {std::pair{&l.resp_tcp, "listen.resp_tcp"},
        std::pair{&l.http_tcp, "listen.http_tcp"}}) {
    if (!other->empty() && *other == c.admin.address) {
      AddError(st, "admin.address", absl::StrCat("same address as ", name));
    }
  }

  const RedisConfig& r = c.redis;
  if (!Failed(st, "redis.reconnect_min") &&
      !Failed(st, "redis.reconnect_max") && r.reconnect_max < r.reconnect_min) {
    AddError(st, "redis.reconnect_max",
             absl::StrCat(FormatDurationValue(r.reconnect_max),
                          " is less than redis.reconnect_min (",
                          FormatDurationValue(r.reconnect_min), ")"));
  }
  const bool tls_set = !r.tls_ca_file.empty() || !r.tls_cert_file.empty() ||
                       !r.tls_key_file.empty() || !r.tls_server_name.empty() ||
                       !r.tls_verify;
  if (!Failed(st, "redis.address") && tls_set &&
      r.endpoint.transport != RedisEndpoint::Transport::kTls) {
    AddError(st, "redis.tls",
             "TLS settings are given but redis.address is not rediss://");
  }
  if (r.tls_cert_file.empty() != r.tls_key_file.empty()) {
    if (r.tls_key_file.empty()) {
      AddError(st, "redis.tls.key_file", "needed with redis.tls.cert_file");
    } else {
      AddError(st, "redis.tls.cert_file", "needed with redis.tls.key_file");
    }
  }

  // Redis refuses BCAST prefixes of which one starts with another.
  const std::vector<std::string>& prefixes = c.invalidation.tracking_prefixes;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    for (size_t j = i + 1; j < prefixes.size(); ++j) {
      if (absl::StartsWith(prefixes[i], prefixes[j]) ||
          absl::StartsWith(prefixes[j], prefixes[i])) {
        AddError(st, "invalidation.tracking_prefixes",
                 absl::StrCat(Quoted(prefixes[i]), " and ", Quoted(prefixes[j]),
                              " overlap; Redis refuses overlapping prefixes"));
      }
    }
  }
}

// Notes where each document of a YAML stream starts; ignores the rest.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The number of documents in `text`. yaml-cpp 0.7's LoadAll() never returns,
// allocating until the process dies, when a document consumes no token (the
// text ",x": jbeder/yaml-cpp#1040, fixed in 0.8), so the documents are
// walked here first: each must start past the one before. Throws
// YAML::Exception on invalid YAML.
size_t CountDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  size_t count = 0;
  while (parser.HandleNextDocument(handler)) {
    ++count;
    const std::vector<YAML::Mark>& s = handler.starts;
    if (s.size() != count ||
        (count >= 2 && s[count - 1].pos <= s[count - 2].pos)) {
      const YAML::Mark at = s.empty() ? YAML::Mark::null_mark() : s.back();
      const size_t pos = static_cast<size_t>(std::max(at.pos, 0));
      throw YAML::ParserException(
          at, pos < text.size()
                  ? absl::StrCat("unexpected ", Quoted(text.substr(pos, 1)))
                  : std::string("unexpected end"));
    }
  }
  return count;
}

ParseState ParseText(absl::string_view text, absl::string_view filename) {
  ParseState st;
  st.filename = std::string(filename);
  st.config.source_path = std::string(filename);
  std::vector<YAML::Node> docs;
  try {
    const std::string yaml(text);
    const size_t count = CountDocuments(yaml);
    if (count > 1) {
      AddError(st, "",
               absl::StrCat("holds ", count, " YAML documents; expected one"));
      return st;
    }
    if (count == 1) docs.push_back(YAML::Load(yaml));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      AddError(st, "", absl::StrCat("invalid YAML: ", e.msg));
    } else {
      // yaml-cpp's marks count from 0.
      st.errors.push_back(absl::StrCat(filename, ":", e.mark.line + 1, ":",
                                       e.mark.column + 1,
                                       ": invalid YAML: ", e.msg));
    }
    return st;
  }
  if (docs.empty() || docs[0].IsNull()) {
    Validate(st);
    return st;
  }
  if (!docs[0].IsMap()) {
    AddError(st, "",
             absl::StrCat("expected a map of sections (",
                          absl::StrJoin(ChildrenOf(""), ", "), "), got ",
                          KindName(docs[0])));
    return st;
  }
  try {
    ParseMap(docs[0], "", st);
  } catch (const YAML::Exception& e) {
    // Not expected: ParseMap only reads node types it checked.
    AddError(st, "", absl::StrCat("cannot read the YAML: ", e.what()));
    return st;
  }
  Validate(st);
  return st;
}

// Reads a whole file, or returns strerror's text.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Invalid(std::strerror(errno));
  std::string data;
  char buf[8192];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Invalid(std::strerror(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

// Makes a relative `path` relative to `dir` ("" or ending in '/'): file
// paths in the config are relative to the config file's directory.
void ResolvePath(const std::string& dir, std::string* path) {
  if (!path->empty() && (*path)[0] != '/') *path = dir + *path;
}

// Reads the password and checks the TLS files, for LoadConfigFile.
void ResolveFiles(const std::string& config_path, ParseState& st) {
  RedisConfig& r = st.config.redis;
  const size_t slash = config_path.rfind('/');
  const std::string dir = slash == std::string::npos
                              ? std::string()
                              : config_path.substr(0, slash + 1);
  for (std::string* path :
       {&r.password_file, &r.tls_ca_file, &r.tls_cert_file, &r.tls_key_file}) {
    ResolvePath(dir, path);
  }

  if (!r.password_file.empty() && !Failed(st, "redis.password_file")) {
    absl::StatusOr<std::string> secret = ReadFile(r.password_file);
    if (!secret.ok()) {
      AddError(st, "redis.password_file",
               absl::StrCat("cannot read ", Quoted(r.password_file), ": ",
                            secret.status().message()));
    } else {
      while (!secret->empty() &&
             (secret->back() == '\n' || secret->back() == '\r')) {
        secret->pop_back();
      }
      if (secret->empty()) {
        AddError(st, "redis.password_file",
                 absl::StrCat(Quoted(r.password_file), " is empty"));
      }
      r.password = *std::move(secret);
    }
  } else if (r.password.empty()) {
    if (const char* env = std::getenv(kPasswordEnv)) r.password = env;
  }

  // AUTH takes a user only together with a password.
  if (!r.username.empty() && r.password.empty() &&
      !Failed(st, "redis.password_file")) {
    AddError(st, "redis.username",
             absl::StrCat("needs a password: set redis.password_file or ",
                          kPasswordEnv));
  }

  if (r.endpoint.transport == RedisEndpoint::Transport::kTls) {
    for (const auto& [file, key] :
         {std::pair{&r.tls_ca_file, "redis.tls.ca_file"},
          std::pair{&r.tls_cert_file, "redis.tls.cert_file"},
          std::pair{&r.tls_key_file, "redis.tls.key_file"}}) {
      if (file->empty() || Failed(st, key)) continue;
      if (access(file->c_str(), R_OK) != 0) {
        AddError(st, key,
                 absl::StrCat("cannot read ", Quoted(*file), ": ",
                              std::strerror(errno)));
      }
    }
  }
}

// `line` with its control characters escaped ("\n", "\001"): key names
// and yaml-cpp's messages quote the file, and a line break there would break
// the one-line-per-problem report (or forge a line of its own).
std::string OneLine(absl::string_view line) {
  std::string out;
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += absl::CHexEscape(absl::string_view(&c, 1));
    } else {
      out += c;
    }
  }
  return out;
}

absl::StatusOr<Config> Finish(ParseState& st) {
  if (!st.errors.empty()) {
    std::vector<std::string> lines;
    for (const std::string& error : st.errors) lines.push_back(OneLine(error));
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }
  return std::move(st.config);
}

}  // namespace

absl::string_view LogLevelName(LogConfig::Level level) {
  switch (level) {
    case LogConfig::kDebug:
      return "debug";
    case LogConfig::kInfo:
      return "info";
    case LogConfig::kWarn:
      return "warn";
    case LogConfig::kError:
      return "error";
  }
  return "info";
}

absl::string_view LogFormatName(LogConfig::Format format) {
  return format == LogConfig::kText ? "text" : "json";
}

absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text,
                                   absl::string_view filename) {
  ParseState st = ParseText(yaml_text, filename);
  return Finish(st);
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ", text.status().message()));
  }
  ParseState st = ParseText(*text, path);
  ResolveFiles(path, st);
  return Finish(st);
}

std::string RenderConfig(const Config& config) {
  std::string out = "# nearcache effective configuration";
  if (!config.source_path.empty()) {
    absl::StrAppend(&out, " (from ", config.source_path, ")");
  }
  out += "\n";
  std::vector<std::string> open;  // the groups the last key was in
  for (const Key& key : Keys()) {
    const std::vector<std::string> parts = absl::StrSplit(key.path, '.');
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() &&
           open[common] == parts[common]) {
      ++common;
    }
    open.resize(common);
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      absl::StrAppend(&out, std::string(2 * i, ' '), parts[i], ":\n");
      open.push_back(parts[i]);
    }
    const std::string indent(2 * (parts.size() - 1), ' ');
    absl::StrAppend(&out, indent, parts.back(), ": ", key.render(config), "\n");
    if (key.path == "redis.password_file") {
      absl::StrAppend(&out, indent, "# password: ",
                      config.redis.password.empty() ? "(none)" : "<redacted>",
                      "\n");
    }
  }
  return out;
}

std::vector<std::string> KeysNeedingRestart(const Config& running,
                                            const Config& reloaded) {
  static constexpr absl::string_view kAppliedInPlace[] = {
      "cache.max_bytes", "cache.ttl", "cache.max_stale", "cache.negative_ttl"};
  std::vector<std::string> changed;
  for (const Key& key : Keys()) {
    if (std::find(std::begin(kAppliedInPlace), std::end(kAppliedInPlace),
                  key.path) != std::end(kAppliedInPlace)) {
      continue;
    }
    if (key.render(running) != key.render(reloaded) ||
        (key.path == "redis.address" &&
         !(running.redis.endpoint == reloaded.redis.endpoint))) {
      changed.push_back(key.path);
    }
    if (key.path == "redis.password_file" &&
        running.redis.password != reloaded.redis.password) {
      changed.push_back("redis.password");
    }
  }
  return changed;
}

}  // namespace nearcache
