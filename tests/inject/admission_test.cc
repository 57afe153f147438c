// The webhook's logic without sockets: AdmissionReview in, AdmissionReview
// with a base64 JSONPatch out, and the HTTP routing around it.
#include "inject/admission.h"

#include <yaml-cpp/yaml.h>

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inject/inject.h"
#include "inject/manifest_yaml.h"

namespace nearcache::inject {
namespace {

using ::testing::HasSubstr;

Json AnnotatedPod() {
  return Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"generateName": "model-7d9f-", "namespace": "ml",
                 "labels": {"app": "model"},
                 "annotations": {"nearcache.io/inject": "true",
                                 "nearcache.io/max-bytes": "128MiB"}},
    "spec": {"initContainers": [{"name": "migrate", "image": "m:1"}],
             "containers": [{"name": "model", "image": "model:1",
                             "ports": [{"containerPort": 8080}]}]}})");
}

Json Review(const Json& pod, const std::string& operation = "CREATE") {
  return {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
        {"namespace", "ml"},
        {"operation", operation},
        {"object", pod}}}};
}

// The response object of ReviewAdmission. Fails the test on an error.
Json Respond(const Json& review) {
  absl::StatusOr<std::string> out = ReviewAdmission(review.dump(), {});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return Json::object();
  const Json parsed = Json::parse(*out);
  EXPECT_EQ(parsed["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(parsed["kind"], "AdmissionReview");
  EXPECT_EQ(parsed["response"]["uid"], review["request"]["uid"]);
  EXPECT_EQ(parsed["response"]["allowed"], true);
  return parsed["response"];
}

Json DecodePatch(const Json& response) {
  std::string text;
  EXPECT_TRUE(
      absl::Base64Unescape(response["patch"].get<std::string>(), &text));
  return Json::parse(text);
}

// Every scalar as a string, as YamlToJson sees a manifest.
Json Stringify(const Json& j) {
  if (j.is_object()) {
    Json out = Json::object();
    for (const auto& [k, v] : j.items()) out[k] = Stringify(v);
    return out;
  }
  if (j.is_array()) {
    Json out = Json::array();
    for (const Json& v : j) out.push_back(Stringify(v));
    return out;
  }
  if (j.is_string()) return j;
  return j.is_null() ? j : Json(j.dump());
}

TEST(ReviewAdmissionTest, AnnotatedPodGetsAPatchThatAddsTheSidecarFirst) {
  const Json response = Respond(Review(AnnotatedPod()));
  EXPECT_EQ(response["patchType"], "JSONPatch");
  const Json patch = DecodePatch(response);
  for (const Json& op : patch) EXPECT_EQ(op["op"], "add");

  const Json pod = AnnotatedPod().patch(patch);
  const Json& init = pod["spec"]["initContainers"];
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init[0]["name"], "nearcache");
  EXPECT_EQ(init[0]["restartPolicy"], "Always");
  EXPECT_EQ(init[0]["resources"]["limits"]["memory"], "212Mi");
  EXPECT_EQ(init[1]["name"], "migrate");
  EXPECT_EQ(pod["metadata"]["labels"]["nearcache.io/sidecar"], "true");
  EXPECT_EQ(pod["metadata"]["labels"]["app"], "model");
  EXPECT_EQ(pod["spec"]["containers"][0]["env"][0]["name"], "NEARCACHE_SOCKET");
}

TEST(ReviewAdmissionTest, NoPatchWhenNotAnnotatedInjectedOrNotACreate) {
  Json plain = AnnotatedPod();
  plain["metadata"].erase("annotations");
  Json injected =
      AnnotatedPod().patch(DecodePatch(Respond(Review(AnnotatedPod()))));
  for (const Json& review :
       {Review(plain), Review(injected), Review(AnnotatedPod(), "UPDATE")}) {
    const Json response = Respond(review);
    EXPECT_FALSE(response.contains("patch")) << response;
    EXPECT_FALSE(response.contains("patchType")) << response;
  }
  Json deployment = Review(AnnotatedPod());
  deployment["request"]["kind"]["kind"] = "Deployment";
  EXPECT_FALSE(Respond(deployment).contains("patch"));
}

TEST(ReviewAdmissionTest, UnusableAnnotationAllowsWithAWarning) {
  Json pod = AnnotatedPod();
  pod["metadata"]["annotations"]["nearcache.io/max-bytes"] = "a lot";
  const Json response = Respond(Review(pod));
  EXPECT_FALSE(response.contains("patch"));
  ASSERT_EQ(response["warnings"].size(), 1u);
  EXPECT_THAT(response["warnings"][0].get<std::string>(),
              HasSubstr("nearcache.io/max-bytes"));
}

TEST(ReviewAdmissionTest, RefusesWhatIsNotAnAdmissionReview) {
  EXPECT_FALSE(ReviewAdmission("not json", {}).ok());
  EXPECT_FALSE(ReviewAdmission("[]", {}).ok());
  Json review = Review(AnnotatedPod());
  review["apiVersion"] = "admission.k8s.io/v1beta1";
  EXPECT_FALSE(ReviewAdmission(review.dump(), {}).ok());
  review = Review(AnnotatedPod());
  review["request"].erase("uid");
  EXPECT_FALSE(ReviewAdmission(review.dump(), {}).ok());
}

// The webhook and `nearcache inject` make the same pod.
TEST(ReviewAdmissionTest, SameResultAsInjectingTheManifest) {
  const Json webhook =
      AnnotatedPod().patch(DecodePatch(Respond(Review(AnnotatedPod()))));
  absl::StatusOr<std::string> yaml =
      InjectManifests(AnnotatedPod().dump(), InjectOptions());
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(YamlToJson(YAML::Load(*yaml)), Stringify(webhook));
}

TEST(HandleWebhookRequestTest, Routes) {
  const std::string review = Review(AnnotatedPod()).dump();
  HttpReply reply =
      HandleWebhookRequest("POST", "/mutate?timeout=10s", review, {});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_THAT(reply.body, HasSubstr("\"patchType\":\"JSONPatch\""));

  EXPECT_EQ(HandleWebhookRequest("POST", "/mutate", "{}", {}).status, 400);
  EXPECT_EQ(HandleWebhookRequest("GET", "/mutate", "", {}).status, 405);
  EXPECT_EQ(HandleWebhookRequest("GET", "/elsewhere", "", {}).status, 404);
  reply = HandleWebhookRequest("GET", "/healthz", "", {});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

}  // namespace
}  // namespace nearcache::inject
