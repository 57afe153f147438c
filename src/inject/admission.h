// The admission webhook's logic, without sockets: an AdmissionReview
// (admission.k8s.io/v1) for a Pod in, an AdmissionReview with the JSONPatch
// that injects the sidecar out (see pod_mutation.h for what it adds).
//
// The answer is always `allowed: true`: nearcache must never be the reason a
// pod cannot start (the webhook is registered with failurePolicy Ignore for
// the same reason). A pod that is not annotated, already has the sidecar, or
// is not a CREATE gets no patch; a pod whose annotations cannot be used gets
// no patch and a warning that kubectl prints.
//
// Thread-safe: no shared state.
#ifndef NEARCACHE_INJECT_ADMISSION_H_
#define NEARCACHE_INJECT_ADMISSION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inject/pod_mutation.h"

namespace nearcache::inject {

// The path the MutatingWebhookConfiguration calls.
inline constexpr char kMutatePath[] = "/mutate";

// The AdmissionReview response (JSON text) to the AdmissionReview request
// `body`. InvalidArgument when `body` is not an AdmissionReview v1 with a
// request and a uid.
absl::StatusOr<std::string> ReviewAdmission(absl::string_view body,
                                            const InjectOptions& options);

// An HTTP answer of the webhook server. Plain value type.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Routes one HTTP request: POST /mutate (ReviewAdmission; 400 for a body it
// refuses), GET /healthz (200 "ok"), 405 for another method on those paths,
// 404 elsewhere. A query string in `target` is ignored (the API server adds
// ?timeout=...).
HttpReply HandleWebhookRequest(absl::string_view method,
                               absl::string_view target, absl::string_view body,
                               const InjectOptions& options);

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_ADMISSION_H_
