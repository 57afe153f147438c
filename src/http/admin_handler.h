// The admin endpoints (admin.address, for kubelet and Prometheus) as a plain
// function from request to response: socket-free and tested without a
// network. What they report comes from callbacks the application provides.
//
//   GET /metrics  Prometheus text format 0.0.4, from `metrics`.
//   GET /healthz  200 "ok" while `alive` says the event loops answer, else
//                 503 (liveness: a failing pod is restarted).
//   GET /readyz   {"ready": true, "redis": "up"|"down",
//                  "invalidation_link": "up"|"down", "serving_stale": bool}
//                 with 200 while ready, 503 when not. Ready means listening
//                 with a loaded config; Redis being down does not make the
//                 sidecar unready (it serves stale values), it is reported.
//   GET /config   the effective configuration (YAML, secrets redacted: the
//                 callback's job, e.g. RenderConfig()).
//
// A route whose callback is not set answers 404; other paths 404, other
// methods 405, with a JSON {"error": ...} body. A query string is ignored.
#ifndef NEARCACHE_HTTP_ADMIN_HANDLER_H_
#define NEARCACHE_HTTP_ADMIN_HANDLER_H_

#include <functional>
#include <string>

#include "http/http_message.h"
#include "http/http_server.h"

namespace nearcache {

// What /readyz reports.
struct ReadyState {
  bool ready = false;     // listening and config loaded
  bool redis_up = false;  // the upstream pool reaches Redis
  bool invalidation_link_up = false;
  bool serving_stale = false;  // Redis unavailable: stale values served
};

// Thread-compatible plain struct. The callbacks run on the admin server's
// thread, once per request: they must be quick and must not block on the
// data-plane threads.
struct AdminCallbacks {
  std::function<std::string()> metrics;  // the Prometheus exposition
  std::function<bool()> alive;           // the event loops answer
  std::function<ReadyState()> ready;
  std::function<std::string()> config;  // YAML, secrets redacted
};

// Answers one admin request. Never throws unless a callback does.
HttpResponse HandleAdminRequest(const AdminCallbacks& callbacks,
                                const HttpRequest& request);

// HandleAdminRequest as an HttpServer handler; `callbacks` is copied.
HttpServer::Handler MakeAdminHandler(AdminCallbacks callbacks);

}  // namespace nearcache

#endif  // NEARCACHE_HTTP_ADMIN_HANDLER_H_
