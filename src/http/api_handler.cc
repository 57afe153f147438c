#include "http/api_handler.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "http/json_dump.h"
#include "nearcache/clock.h"
#include "service/key_lookup.h"

namespace nearcache {
namespace {

namespace http = boost::beast::http;
using Json = nlohmann::ordered_json;

constexpr absl::string_view kKeysPrefix = "/v1/keys/";
constexpr absl::string_view kHashesPrefix = "/v1/hashes/";
constexpr absl::string_view kLookupPath = "/v1/lookup";

// Indices into ApiCommandLabels().
enum Route : size_t { kKeysRoute, kHashesRoute, kLookupRoute, kOtherRoute };

absl::string_view View(boost::beast::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// What json.dump() would write, faster (http/json_dump.h). Invalid UTF-8
// is replaced, so it cannot throw; the values put in are checked (or
// base64-encoded) before, so nothing is replaced.
std::string Dump(const Json& json) { return DumpJson(json); }

HttpResponse JsonResponse(HttpStatus status, const Json& json) {
  return MakeResponse(status, "application/json", Dump(json));
}

HttpResponse MethodNotAllowed(absl::string_view allow) {
  HttpResponse res =
      MakeJsonError(HttpStatus::method_not_allowed,
                    absl::StrCat("method not allowed; use ", allow));
  res.set(http::field::allow,
          boost::beast::string_view(allow.data(), allow.size()));
  return res;
}

// How the values of one response were served, for X-Cache-Status and Age.
struct Served {
  bool stale = false;
  bool miss = false;
  absl::Duration max_age = absl::ZeroDuration();

  void Add(const KeyResult& r) {
    switch (r.result) {
      case LookupResult::kHit:
      case LookupResult::kNegativeHit:
        break;
      case LookupResult::kStale:
        stale = true;
        break;
      case LookupResult::kMiss:
      case LookupResult::kError:
        miss = true;
        break;
    }
    if (r.value != nullptr) max_age = std::max(max_age, r.age);
  }

  void SetHeaders(HttpResponse& res) const {
    res.set("X-Cache-Status", stale ? "STALE" : miss ? "MISS" : "HIT");
    res.set(http::field::age, std::to_string(absl::ToInt64Seconds(max_age)));
  }
};

// How a lookup route refers to the other kind of value, for WRONGTYPE.
enum class Hint { kKeysRoute, kHashesRoute, kLookupRoute };

std::string WrongTypeMessage(FetchKind kind, Hint hint) {
  if (kind == FetchKind::kString) {
    return hint == Hint::kLookupRoute
               ? "WRONGTYPE the key does not hold a string; for a hash ask "
                 "with \"type\": \"hash\""
               : "WRONGTYPE the key does not hold a string; for a hash use "
                 "GET /v1/hashes/{key}";
  }
  return hint == Hint::kLookupRoute
             ? "WRONGTYPE the key does not hold a hash; for a string ask "
               "without \"type\": \"hash\""
             : "WRONGTYPE the key does not hold a hash; for a string use "
               "GET /v1/keys/{key}";
}

struct KeyError {
  HttpStatus status;
  std::string message;
};

// Whether `r` can be served as the kind it was asked for; if not, the HTTP
// status and the error. The one place a lookup outcome becomes an HTTP code.
std::optional<KeyError> CheckKey(const KeyResult& r, Hint hint) {
  if (r.transport_error()) {
    return KeyError{HttpStatus::service_unavailable, r.error};
  }
  if (!r.error.empty()) {
    if (absl::StartsWith(r.error, "WRONGTYPE")) {
      return KeyError{HttpStatus::conflict, WrongTypeMessage(r.kind, hint)};
    }
    return KeyError{HttpStatus::bad_gateway,
                    absl::StrCat("Redis replied: ", r.error)};
  }
  if (!r.value->exists()) {
    return KeyError{HttpStatus::not_found, "no such key"};
  }
  if ((r.kind == FetchKind::kString) != r.value->is_string()) {
    return KeyError{HttpStatus::conflict, WrongTypeMessage(r.kind, hint)};
  }
  return std::nullopt;
}

// A JSON string of `bytes`, base64-encoded when `base64`.
Json JsonBytes(absl::string_view bytes, bool base64) {
  return base64 ? Json(absl::Base64Escape(bytes)) : Json(std::string(bytes));
}

// The fields of a hash as a JSON object: `names` (null when the hash lacks
// one), or every field when `names` is null. Sets *base64 when any name or
// value is not UTF-8, and then encodes them all.
Json HashObject(const Value& hash, const std::vector<std::string>* names,
                bool* base64) {
  bool utf8 = true;
  if (names == nullptr) {
    for (const auto& [field, value] : hash.fields()) {
      utf8 = utf8 && IsValidUtf8(field) && IsValidUtf8(value);
    }
  } else {
    for (const std::string& name : *names) {
      const std::optional<absl::string_view> value = hash.FindField(name);
      utf8 = utf8 && IsValidUtf8(name) &&
             (!value.has_value() || IsValidUtf8(*value));
    }
  }
  *base64 = !utf8;
  Json object = Json::object();
  if (names == nullptr) {
    for (const auto& [field, value] : hash.fields()) {
      object[*base64 ? absl::Base64Escape(field) : std::string(field)] =
          JsonBytes(value, *base64);
    }
  } else {
    for (const std::string& name : *names) {
      const std::optional<absl::string_view> value = hash.FindField(name);
      object[*base64 ? absl::Base64Escape(name) : name] =
          !value.has_value() ? Json(nullptr) : JsonBytes(*value, *base64);
    }
  }
  return object;
}

// The key in a path after `prefix`, percent-decoded; or an error response.
std::optional<std::string> KeyFromPath(absl::string_view path,
                                       absl::string_view prefix,
                                       HttpResponse* error) {
  std::optional<std::string> key =
      PercentDecode(path.substr(prefix.size()), /*plus_as_space=*/false);
  if (!key.has_value()) {
    *error = MakeJsonError(HttpStatus::bad_request,
                           "bad percent-encoding in the key");
  } else if (key->empty()) {
    *error = MakeJsonError(HttpStatus::bad_request, "missing key in the path");
    key.reset();
  }
  return key;
}

boost::asio::awaitable<HttpResponse> GetKey(const ApiContext* context,
                                            std::string key) {
  KeyLookup lookup;
  lookup.Add(key, FetchKind::kString);
  co_await lookup.Resolve(context->cache, context->fetcher, context->counters);
  const KeyResult& r = lookup[0];
  Served served;
  served.Add(r);
  HttpResponse res;
  if (std::optional<KeyError> e = CheckKey(r, Hint::kKeysRoute)) {
    res = MakeJsonError(e->status, e->message);
  } else {
    res = MakeResponse(HttpStatus::ok, "application/octet-stream",
                       std::string(r.value->str()));
  }
  served.SetHeaders(res);
  co_return res;
}

// The ?fields= items of a query, each percent-decoded; nullopt in *fields
// when the query has none. Returns false on bad percent-encoding.
bool FieldsFromQuery(absl::string_view query,
                     std::optional<std::vector<std::string>>* fields) {
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    if (!absl::ConsumePrefix(&param, "fields=")) continue;
    if (!fields->has_value()) fields->emplace();
    for (absl::string_view item : absl::StrSplit(param, ',')) {
      std::optional<std::string> name =
          PercentDecode(item, /*plus_as_space=*/true);
      if (!name.has_value()) return false;
      (*fields)->push_back(std::move(*name));
    }
  }
  return true;
}

boost::asio::awaitable<HttpResponse> GetHash(
    const ApiContext* context, std::string key,
    std::optional<std::vector<std::string>> fields) {
  KeyLookup lookup;
  lookup.Add(key, FetchKind::kHash);
  co_await lookup.Resolve(context->cache, context->fetcher, context->counters);
  const KeyResult& r = lookup[0];
  Served served;
  served.Add(r);
  HttpResponse res;
  if (std::optional<KeyError> e = CheckKey(r, Hint::kHashesRoute)) {
    res = MakeJsonError(e->status, e->message);
  } else {
    bool base64 = false;
    Json body = Json::object();
    body["fields"] =
        HashObject(*r.value, fields.has_value() ? &*fields : nullptr, &base64);
    if (base64) body["encoding"] = "base64";
    res = JsonResponse(HttpStatus::ok, body);
  }
  served.SetHeaders(res);
  co_return res;
}

// A parsed POST /v1/lookup body.
struct LookupRequest {
  Json keys;                     // the "keys" array as sent, for the echo
  std::vector<std::string> raw;  // the keys, decoded
  FetchKind kind = FetchKind::kString;
};

// Parses and checks a /v1/lookup body; on failure sets *error.
std::optional<LookupRequest> ParseLookupRequest(const std::string& text,
                                                std::string* error) {
  try {
    Json body = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      *error = "the request body is not valid JSON";
      return std::nullopt;
    }
    if (!body.is_object()) {
      *error = "the request body must be a JSON object";
      return std::nullopt;
    }
    LookupRequest req;
    bool base64 = false;
    if (auto it = body.find("encoding"); it != body.end() && !it->is_null()) {
      if (!it->is_string() || it->get_ref<const std::string&>() != "base64") {
        *error = "\"encoding\" must be \"base64\" when given";
        return std::nullopt;
      }
      base64 = true;
    }
    if (auto it = body.find("type"); it != body.end() && !it->is_null()) {
      const std::string* type =
          it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
      if (type != nullptr && *type == "hash") {
        req.kind = FetchKind::kHash;
      } else if (type == nullptr || *type != "string") {
        *error = "\"type\" must be \"string\" or \"hash\" when given";
        return std::nullopt;
      }
    }
    auto keys = body.find("keys");
    if (keys == body.end() || !keys->is_array()) {
      *error = "\"keys\" must be an array of strings";
      return std::nullopt;
    }
    if (keys->size() > kMaxLookupKeys) {
      *error = absl::StrCat("too many keys: ", keys->size(), " (at most ",
                            kMaxLookupKeys, " per request)");
      return std::nullopt;
    }
    req.raw.reserve(keys->size());
    for (size_t i = 0; i < keys->size(); ++i) {
      const Json& k = (*keys)[i];
      if (!k.is_string()) {
        *error = absl::StrCat("keys[", i, "] is not a string");
        return std::nullopt;
      }
      const std::string& text_key = k.get_ref<const std::string&>();
      if (!base64) {
        req.raw.push_back(text_key);
        continue;
      }
      std::string decoded;
      if (!absl::Base64Unescape(text_key, &decoded)) {
        *error = absl::StrCat("keys[", i, "] is not valid base64");
        return std::nullopt;
      }
      req.raw.push_back(std::move(decoded));
    }
    req.keys = std::move(*keys);
    return req;
  } catch (const std::exception& e) {
    *error = absl::StrCat("bad request body: ", e.what());
    return std::nullopt;
  }
}

Json LookupResultJson(const Json& key, const KeyResult& r) {
  Json out = Json::object();
  out["key"] = key;
  std::optional<KeyError> e = CheckKey(r, Hint::kLookupRoute);
  const bool not_found = e.has_value() && e->status == HttpStatus::not_found;
  out["status"] = not_found ? "NOT_FOUND"
                  : e       ? "ERROR"
                            : LookupResultName(r.result, r.value.get());
  bool base64 = false;
  if (e.has_value()) {
    out["value"] = nullptr;
  } else if (r.value->is_string()) {
    base64 = !IsValidUtf8(r.value->str());
    out["value"] = JsonBytes(r.value->str(), base64);
  } else {
    out["value"] = HashObject(*r.value, nullptr, &base64);
  }
  out["age_ms"] = r.value != nullptr ? absl::ToInt64Milliseconds(r.age) : 0;
  if (base64) out["encoding"] = "base64";
  if (e.has_value() && !not_found) out["error"] = e->message;
  return out;
}

boost::asio::awaitable<HttpResponse> PostLookup(const ApiContext* context,
                                                const HttpRequest& request) {
  std::string error;
  std::optional<LookupRequest> req = ParseLookupRequest(request.body(), &error);
  if (!req.has_value()) {
    co_return MakeJsonError(HttpStatus::bad_request, error);
  }
  KeyLookup lookup;
  for (const std::string& key : req->raw) lookup.Add(key, req->kind);
  if (!lookup.empty()) {
    co_await lookup.Resolve(context->cache, context->fetcher,
                            context->counters);
  }
  Served served;
  Json results = Json::array();
  for (size_t i = 0; i < lookup.size(); ++i) {
    served.Add(lookup[i]);
    results.push_back(LookupResultJson(req->keys[i], lookup[i]));
  }
  Json body = Json::object();
  body["results"] = std::move(results);
  HttpResponse res = JsonResponse(HttpStatus::ok, body);
  served.SetHeaders(res);
  co_return res;
}

boost::asio::awaitable<HttpResponse> Route(const ApiContext* context,
                                           const HttpRequest& request,
                                           size_t* route) {
  const absl::string_view target = View(request.target());
  const absl::string_view path = TargetPath(target);
  const bool get = request.method() == http::verb::get;
  HttpResponse error;
  if (absl::StartsWith(path, kKeysPrefix)) {
    if (!get) co_return MethodNotAllowed("GET");
    *route = kKeysRoute;
    std::optional<std::string> key = KeyFromPath(path, kKeysPrefix, &error);
    if (!key.has_value()) co_return error;
    co_return co_await GetKey(context, std::move(*key));
  }
  if (absl::StartsWith(path, kHashesPrefix)) {
    if (!get) co_return MethodNotAllowed("GET");
    *route = kHashesRoute;
    std::optional<std::string> key = KeyFromPath(path, kHashesPrefix, &error);
    if (!key.has_value()) co_return error;
    std::optional<std::vector<std::string>> fields;
    if (!FieldsFromQuery(TargetQuery(target), &fields)) {
      co_return MakeJsonError(HttpStatus::bad_request,
                              "bad percent-encoding in ?fields=");
    }
    co_return co_await GetHash(context, std::move(*key), std::move(fields));
  }
  if (path == kLookupPath) {
    if (request.method() != http::verb::post) {
      co_return MethodNotAllowed("POST");
    }
    *route = kLookupRoute;
    co_return co_await PostLookup(context, request);
  }
  co_return MakeJsonError(HttpStatus::not_found,
                          absl::StrCat("no such endpoint: ", path));
}

}  // namespace

std::vector<std::string> ApiCommandLabels() {
  return {"keys", "hashes", "lookup", "other"};
}

boost::asio::awaitable<HttpResponse> HandleApiRequest(
    const ApiContext* context, const HttpRequest& request) {
  const absl::Time start = SystemClock()->Now();
  size_t route = kOtherRoute;
  HttpResponse res = co_await Route(context, request, &route);
  if (context->metrics != nullptr) {
    context->metrics->requests.Inc(route);
    context->metrics->duration.Observe(SystemClock()->Now() - start);
  }
  co_return res;
}

HttpServer::Handler MakeApiHandler(const ApiContext* context) {
  return [context](HttpRequest& request) {
    return HandleApiRequest(context, request);
  };
}

}  // namespace nearcache
