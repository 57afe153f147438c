#include "http/admin_handler.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nearcache {
namespace {

namespace http = boost::beast::http;

constexpr absl::string_view kPrometheusType =
    "text/plain; version=0.0.4; charset=utf-8";

HttpResponse NotFound(absl::string_view path) {
  return MakeJsonError(HttpStatus::not_found,
                       absl::StrCat("no such endpoint: ", path));
}

std::string ReadyBody(const ReadyState& s) {
  nlohmann::ordered_json body;
  body["ready"] = s.ready;
  body["redis"] = s.redis_up ? "up" : "down";
  body["invalidation_link"] = s.invalidation_link_up ? "up" : "down";
  body["serving_stale"] = s.serving_stale;
  return body.dump();
}

// A coroutine with its own copy of the pointer: a lambda coroutine would
// refer to its captures through the closure.
boost::asio::awaitable<HttpResponse> Answer(
    std::shared_ptr<const AdminCallbacks> callbacks,
    const HttpRequest& request) {
  co_return HandleAdminRequest(*callbacks, request);
}

}  // namespace

HttpResponse HandleAdminRequest(const AdminCallbacks& callbacks,
                                const HttpRequest& request) {
  const absl::string_view path = TargetPath(
      absl::string_view(request.target().data(), request.target().size()));
  const bool known = path == "/metrics" || path == "/healthz" ||
                     path == "/readyz" || path == "/config";
  if (!known) return NotFound(path);
  if (request.method() != http::verb::get) {
    HttpResponse res = MakeJsonError(HttpStatus::method_not_allowed,
                                     "method not allowed; use GET");
    res.set(http::field::allow, "GET");
    return res;
  }
  HttpResponse res;
  if (path == "/metrics") {
    if (!callbacks.metrics) return NotFound(path);
    res = MakeResponse(HttpStatus::ok, kPrometheusType, callbacks.metrics());
  } else if (path == "/healthz") {
    if (!callbacks.alive) return NotFound(path);
    res = callbacks.alive()
              ? MakeResponse(HttpStatus::ok, "text/plain", "ok\n")
              : MakeResponse(HttpStatus::service_unavailable, "text/plain",
                             "event loops not responding\n");
  } else if (path == "/readyz") {
    if (!callbacks.ready) return NotFound(path);
    const ReadyState state = callbacks.ready();
    res = MakeResponse(
        state.ready ? HttpStatus::ok : HttpStatus::service_unavailable,
        "application/json", ReadyBody(state));
  } else {
    if (!callbacks.config) return NotFound(path);
    res = MakeResponse(HttpStatus::ok, "text/yaml; charset=utf-8",
                       callbacks.config());
  }
  // Probes and scrapes must see the state now, not a cached copy.
  res.set(http::field::cache_control, "no-store");
  return res;
}

HttpServer::Handler MakeAdminHandler(AdminCallbacks callbacks) {
  auto shared = std::make_shared<const AdminCallbacks>(std::move(callbacks));
  return [shared](HttpRequest& request) { return Answer(shared, request); };
}

}  // namespace nearcache
