// PlanPodMutation: what the sidecar injection adds to a pod, as JSONPatch
// operations applied here with nlohmann's own RFC 6902 implementation.
#include "inject/pod_mutation.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nearcache::inject {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMiB = size_t{1} << 20;

// The ops as a JSONPatch document.
Json ToPatch(const std::vector<PatchOp>& ops) {
  Json patch = Json::array();
  for (const PatchOp& op : ops) {
    patch.push_back({{"op", "add"}, {"path", op.path}, {"value", op.value}});
  }
  return patch;
}

// `pod` after injection with `options`. Fails the test on an error.
Json Inject(const Json& pod, const InjectOptions& options = {}) {
  absl::StatusOr<std::vector<PatchOp>> ops = PlanPodMutation(pod, options);
  EXPECT_TRUE(ops.ok()) << ops.status();
  if (!ops.ok()) return pod;
  return pod.patch(ToPatch(*ops));
}

Json AnnotatedPod(Json annotations = Json::object()) {
  annotations[kInjectAnnotation] = "true";
  return Json{{"metadata", {{"name", "model"}, {"annotations", annotations}}},
              {"spec",
               {{"containers",
                 Json::array({{{"name", "model"}, {"image", "model:1"}}})}}}};
}

const Json* FindNamed(const Json& list, const std::string& name) {
  for (const Json& item : list) {
    if (item.value("name", "") == name) return &item;
  }
  return nullptr;
}

TEST(SidecarMemoryTest, IsMaxBytesTimes115PercentPlus64MiBInWholeMiB) {
  EXPECT_EQ(*SidecarMemoryBytes(256 * kMiB), 359 * kMiB);  // 294.4 + 64
  EXPECT_EQ(*SidecarMemoryBytes(1024 * kMiB), 1242 * kMiB);
  EXPECT_EQ(*SidecarMemoryBytes(100 * kMiB), 179 * kMiB);  // exactly 115 + 64
  EXPECT_EQ(*SidecarMemoryBytes(1), 65 * kMiB);
  EXPECT_FALSE(SidecarMemoryBytes(0).ok());
  EXPECT_FALSE(SidecarMemoryBytes(size_t{1} << 51).ok());
  EXPECT_EQ(FormatMebibytes(359 * kMiB), "359Mi");
}

TEST(PlanPodMutationTest, DefaultImageIsThisVersion) {
  EXPECT_TRUE(absl::StartsWith(DefaultSidecarImage(), "nearcache:"));
  EXPECT_EQ(InjectOptions().image, DefaultSidecarImage());
}

TEST(PlanPodMutationTest, NothingWithoutTheAnnotation) {
  Json pod = AnnotatedPod();
  pod["metadata"].erase("annotations");
  EXPECT_TRUE(PlanPodMutation(pod, {})->empty());
  pod["metadata"]["annotations"] = {{kInjectAnnotation, "false"}};
  EXPECT_TRUE(PlanPodMutation(pod, {})->empty());
  pod["metadata"]["annotations"] = {{kInjectAnnotation, "yes"}};
  EXPECT_TRUE(PlanPodMutation(pod, {})->empty());
  // A YAML `true` without quotes counts as "true".
  pod["metadata"]["annotations"] = {{kInjectAnnotation, true}};
  EXPECT_FALSE(PlanPodMutation(pod, {})->empty());
}

TEST(PlanPodMutationTest, BarePodGetsEverything) {
  const Json pod = Inject(AnnotatedPod());
  EXPECT_EQ(pod["metadata"]["labels"][kSidecarLabel], "true");

  const Json& init = pod["spec"]["initContainers"];
  ASSERT_EQ(init.size(), 1u);
  const Json& sidecar = init[0];
  EXPECT_EQ(sidecar["name"], "nearcache");
  EXPECT_EQ(sidecar["image"], DefaultSidecarImage());
  EXPECT_EQ(sidecar["restartPolicy"], "Always");
  EXPECT_EQ(sidecar["args"],
            Json::array({"--config", "/etc/nearcache/nearcache.yaml"}));
  EXPECT_EQ(sidecar["ports"][0]["name"], "admin");
  EXPECT_EQ(sidecar["ports"][0]["containerPort"], 9464);
  EXPECT_EQ(sidecar["startupProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(sidecar["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_EQ(sidecar["readinessProbe"]["httpGet"]["path"], "/readyz");
  for (const char* probe :
       {"startupProbe", "livenessProbe", "readinessProbe"}) {
    EXPECT_EQ(sidecar[probe]["httpGet"]["port"], "admin") << probe;
  }
  EXPECT_EQ(sidecar["resources"]["limits"]["memory"], "359Mi");
  EXPECT_EQ(sidecar["resources"]["requests"]["memory"], "359Mi");
  EXPECT_FALSE(sidecar["resources"]["limits"].contains("cpu"));
  const Json& security = sidecar["securityContext"];
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["capabilities"]["drop"], Json::array({"ALL"}));
  EXPECT_EQ(security["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_FALSE(sidecar.contains("env"));  // no password secret annotated

  const Json& volumes = pod["spec"]["volumes"];
  ASSERT_NE(FindNamed(volumes, kSocketVolume), nullptr);
  EXPECT_EQ((*FindNamed(volumes, kSocketVolume))["emptyDir"], Json::object());
  EXPECT_EQ((*FindNamed(volumes, kConfigVolume))["configMap"]["name"],
            "nearcache-config");

  const Json& app = pod["spec"]["containers"][0];
  EXPECT_EQ(app["volumeMounts"],
            Json::array({{{"name", kSocketVolume},
                          {"mountPath", "/var/run/nearcache"}}}));
  EXPECT_EQ((*FindNamed(app["env"], "NEARCACHE_SOCKET"))["value"],
            "/var/run/nearcache/redis.sock");
  EXPECT_EQ((*FindNamed(app["env"], "NEARCACHE_HTTP_SOCKET"))["value"],
            "/var/run/nearcache/http.sock");
}

TEST(PlanPodMutationTest, KeepsWhatThePodHasAndPutsTheSidecarFirst) {
  Json pod = AnnotatedPod();
  pod["metadata"]["labels"] = {{"app", "model"}};
  Json& spec = pod["spec"];
  spec["initContainers"] =
      Json::array({{{"name", "migrate"}}, {{"name", "warm"}}});
  spec["volumes"] =
      Json::array({{{"name", "data"}, {"emptyDir", Json::object()}}});
  spec["containers"][0]["env"] =
      Json::array({{{"name", "NEARCACHE_SOCKET"}, {"value", "/mine.sock"}}});
  spec["containers"][0]["volumeMounts"] =
      Json::array({{{"name", "data"}, {"mountPath", "/data"}}});
  spec["containers"].push_back(
      {{"name", "second"},
       {"volumeMounts", Json::array({{{"name", "own"},
                                      {"mountPath", "/var/run/nearcache"}}})}});

  const Json out = Inject(pod);
  EXPECT_EQ(out["metadata"]["labels"]["app"], "model");
  EXPECT_EQ(out["metadata"]["labels"][kSidecarLabel], "true");
  const Json& init = out["spec"]["initContainers"];
  ASSERT_EQ(init.size(), 3u);
  EXPECT_EQ(init[0]["name"], "nearcache");
  EXPECT_EQ(init[1]["name"], "migrate");
  EXPECT_EQ(init[2]["name"], "warm");
  const Json& volumes = out["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 3u);
  EXPECT_EQ(volumes[0]["name"], "data");

  const Json& first = out["spec"]["containers"][0];
  ASSERT_EQ(first["env"].size(), 2u);
  EXPECT_EQ(first["env"][0]["value"], "/mine.sock");  // the user's value wins
  EXPECT_EQ(first["env"][1]["name"], "NEARCACHE_HTTP_SOCKET");
  ASSERT_EQ(first["volumeMounts"].size(), 2u);
  EXPECT_EQ(first["volumeMounts"][1]["name"], kSocketVolume);
  // Something is mounted at /var/run/nearcache already: left as it is.
  const Json& second = out["spec"]["containers"][1];
  ASSERT_EQ(second["volumeMounts"].size(), 1u);
  EXPECT_EQ(second["volumeMounts"][0]["name"], "own");
}

TEST(PlanPodMutationTest, InjectingTwiceIsInjectingOnce) {
  const Json once = Inject(AnnotatedPod());
  EXPECT_TRUE(HasSidecar(once));
  EXPECT_TRUE(PlanPodMutation(once, {})->empty());

  Json manual = AnnotatedPod();
  manual["spec"]["containers"].push_back({{"name", "nearcache"}});
  EXPECT_TRUE(PlanPodMutation(manual, {})->empty());
}

TEST(PlanPodMutationTest, AnnotationsOverrideTheOptions) {
  InjectOptions options;
  options.image = "registry.example.com/nearcache:1";
  options.config_map = "team-config";
  const Json defaults = Inject(AnnotatedPod(), options);
  EXPECT_EQ(defaults["spec"]["initContainers"][0]["image"],
            "registry.example.com/nearcache:1");
  EXPECT_EQ((*FindNamed(defaults["spec"]["volumes"],
                        kConfigVolume))["configMap"]["name"],
            "team-config");

  const Json pod =
      Inject(AnnotatedPod({{kImageAnnotation, "mirror/nc:2"},
                           {kConfigMapAnnotation, "ranker-nc"},
                           {kMaxBytesAnnotation, "1GiB"},
                           {kPasswordSecretAnnotation, "redis-auth"}}),
             options);
  const Json& sidecar = pod["spec"]["initContainers"][0];
  EXPECT_EQ(sidecar["image"], "mirror/nc:2");
  EXPECT_EQ(sidecar["resources"]["limits"]["memory"], "1242Mi");
  EXPECT_EQ(sidecar["env"][0]["name"], "NEARCACHE_REDIS_PASSWORD");
  EXPECT_EQ(sidecar["env"][0]["valueFrom"]["secretKeyRef"],
            Json({{"name", "redis-auth"}, {"key", "password"}}));
  EXPECT_EQ(
      (*FindNamed(pod["spec"]["volumes"], kConfigVolume))["configMap"]["name"],
      "ranker-nc");
}

TEST(PlanPodMutationTest, UnusableAnnotationsAreErrorsNamingThem) {
  struct Case {
    const char* annotation;
    const char* value;
  };
  for (const Case& c : std::vector<Case>{
           {kMaxBytesAnnotation, "lots"},
           {kMaxBytesAnnotation, "0"},
           {kMaxBytesAnnotation, "256mb"},
           {kConfigMapAnnotation, "Bad_Name"},
           {kConfigMapAnnotation, ""},
           {kPasswordSecretAnnotation, "UPPER"},
           {kImageAnnotation, "has space"},
           {kImageAnnotation, ""},
       }) {
    absl::StatusOr<std::vector<PatchOp>> ops =
        PlanPodMutation(AnnotatedPod({{c.annotation, c.value}}), {});
    ASSERT_FALSE(ops.ok()) << c.annotation << "=" << c.value;
    EXPECT_EQ(ops.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ops.status().message(), HasSubstr(c.annotation));
  }
  Json no_spec = AnnotatedPod();
  no_spec.erase("spec");
  EXPECT_FALSE(PlanPodMutation(no_spec, {}).ok());
}

TEST(PlanPodMutationTest, LabelPathEscapesTheSlash) {
  Json pod = AnnotatedPod();
  pod["metadata"]["labels"] = {{"app", "model"}};
  absl::StatusOr<std::vector<PatchOp>> ops = PlanPodMutation(pod, {});
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ((*ops)[0].path, "/metadata/labels/nearcache.io~1sidecar");
  EXPECT_EQ(EscapePointerToken("a/b~c"), "a~1b~0c");
}

}  // namespace
}  // namespace nearcache::inject
