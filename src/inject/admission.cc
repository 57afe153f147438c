#include "inject/admission.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace nearcache::inject {
namespace {

std::string StringAt(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// True when the request is the creation of a Pod.
bool IsPodCreate(const Json& request) {
  const auto kind = request.find("kind");
  const bool pod = kind != request.end() && StringAt(*kind, "kind") == "Pod";
  const std::string operation = StringAt(request, "operation");
  return pod && (operation.empty() || operation == "CREATE");
}

}  // namespace

absl::StatusOr<std::string> ReviewAdmission(absl::string_view body,
                                            const InjectOptions& options) {
  Json review = Json::parse(body.begin(), body.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (review.is_discarded() || !review.is_object()) {
    return absl::InvalidArgumentError("body is not a JSON object");
  }
  const std::string api_version = StringAt(review, "apiVersion");
  if (api_version != "admission.k8s.io/v1" ||
      StringAt(review, "kind") != "AdmissionReview") {
    return absl::InvalidArgumentError(
        "expected apiVersion admission.k8s.io/v1, kind AdmissionReview");
  }
  const auto request = review.find("request");
  if (request == review.end() || !request->is_object() ||
      StringAt(*request, "uid").empty()) {
    return absl::InvalidArgumentError("AdmissionReview has no request.uid");
  }

  Json response = {{"uid", StringAt(*request, "uid")}, {"allowed", true}};
  const auto object = request->find("object");
  if (IsPodCreate(*request) && object != request->end() &&
      object->is_object()) {
    absl::StatusOr<std::vector<PatchOp>> ops =
        PlanPodMutation(*object, options);
    if (!ops.ok()) {
      response["warnings"] = Json::array({absl::StrCat(
          "nearcache sidecar not injected: ", ops.status().message())});
    } else if (!ops->empty()) {
      Json patch = Json::array();
      for (const PatchOp& op : *ops) {
        patch.push_back(
            {{"op", "add"}, {"path", op.path}, {"value", op.value}});
      }
      response["patchType"] = "JSONPatch";
      response["patch"] = absl::Base64Escape(
          patch.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
  }
  Json out = {{"apiVersion", api_version},
              {"kind", "AdmissionReview"},
              {"response", response}};
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpReply HandleWebhookRequest(absl::string_view method,
                               absl::string_view target, absl::string_view body,
                               const InjectOptions& options) {
  const absl::string_view path = target.substr(0, target.find('?'));
  HttpReply reply;
  if (path == "/healthz") {
    if (method == "GET") {
      reply.body = "ok\n";
    } else {
      reply.status = 405;
      reply.body = "method not allowed\n";
    }
    return reply;
  }
  if (path != kMutatePath) {
    reply.status = 404;
    reply.body = "not found\n";
    return reply;
  }
  if (method != "POST") {
    reply.status = 405;
    reply.body = "method not allowed\n";
    return reply;
  }
  absl::StatusOr<std::string> review = ReviewAdmission(body, options);
  if (!review.ok()) {
    reply.status = 400;
    reply.body = absl::StrCat(review.status().message(), "\n");
    return reply;
  }
  reply.content_type = "application/json";
  reply.body = *std::move(review);
  return reply;
}

}  // namespace nearcache::inject
