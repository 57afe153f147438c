#include "inject/pod_mutation.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace nearcache::inject {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kOverheadBytes = 64 * kMiB;
constexpr size_t kMaxMaxBytes = size_t{1} << 50;  // 1PiB

// The member `key` of `object`, or nullptr when `object` is not an object
// or has no such member.
const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const Json* Path(const Json& root, std::initializer_list<const char*> keys) {
  const Json* node = &root;
  for (const char* key : keys) {
    node = Member(*node, key);
    if (node == nullptr) return nullptr;
  }
  return node;
}

// An annotation's value. Annotations are strings in the API; a YAML
// manifest may still say `nearcache.io/inject: true`, so scalars of other
// types count by their text.
std::optional<std::string> Annotation(const Json& pod, const char* key) {
  const Json* annotations = Path(pod, {"metadata", "annotations"});
  if (annotations == nullptr) return std::nullopt;
  const Json* value = Member(*annotations, key);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (value->is_string()) return value->get<std::string>();
  if (value->is_primitive()) return value->dump();
  return std::nullopt;
}

bool HasNamed(const Json* list, absl::string_view name) {
  if (list == nullptr || !list->is_array()) return false;
  for (const Json& item : *list) {
    const Json* n = Member(item, "name");
    if (n != nullptr && n->is_string() && n->get<std::string>() == name) {
      return true;
    }
  }
  return false;
}

// A DNS-1123 subdomain, as ConfigMap and Secret names must be.
bool IsDnsSubdomain(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-' &&
        c != '.') {
      return false;
    }
  }
  return absl::ascii_isalnum(name.front()) && absl::ascii_isalnum(name.back());
}

bool IsImageReference(absl::string_view image) {
  if (image.empty() || image.size() > 1024) return false;
  for (char c : image) {
    if (!absl::ascii_isgraph(c)) return false;
  }
  return true;
}

// What the annotations (or the options) say for one pod.
struct Settings {
  std::string image;
  std::string config_map;
  size_t memory_bytes = 0;
  std::string password_secret;  // empty: none
};

absl::StatusOr<Settings> ResolveSettings(const Json& pod,
                                         const InjectOptions& options) {
  Settings s;
  s.image = Annotation(pod, kImageAnnotation).value_or(options.image);
  if (!IsImageReference(s.image)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kImageAnnotation, ": invalid image \"", s.image, "\""));
  }
  s.config_map =
      Annotation(pod, kConfigMapAnnotation).value_or(options.config_map);
  if (!IsDnsSubdomain(s.config_map)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kConfigMapAnnotation, ": invalid ConfigMap name \"",
                     s.config_map, "\""));
  }
  size_t max_bytes = options.max_bytes;
  if (std::optional<std::string> text = Annotation(pod, kMaxBytesAnnotation)) {
    absl::StatusOr<size_t> parsed = ParseByteSize(*text);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kMaxBytesAnnotation, ": ", parsed.status().message()));
    }
    max_bytes = *parsed;
  }
  absl::StatusOr<size_t> memory = SidecarMemoryBytes(max_bytes);
  if (!memory.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kMaxBytesAnnotation, ": ", memory.status().message()));
  }
  s.memory_bytes = *memory;
  s.password_secret =
      Annotation(pod, kPasswordSecretAnnotation).value_or(std::string());
  if (!s.password_secret.empty() && !IsDnsSubdomain(s.password_secret)) {
    return absl::InvalidArgumentError(absl::StrCat(kPasswordSecretAnnotation,
                                                   ": invalid Secret name \"",
                                                   s.password_secret, "\""));
  }
  return s;
}

Json HttpProbe(const char* path, int period_seconds, int timeout_seconds,
               int failure_threshold) {
  return Json{{"httpGet", {{"path", path}, {"port", "admin"}}},
              {"periodSeconds", period_seconds},
              {"timeoutSeconds", timeout_seconds},
              {"failureThreshold", failure_threshold}};
}

Json SocketMount() {
  return Json{{"name", kSocketVolume}, {"mountPath", kSocketDir}};
}

Json SocketEnv() {
  return Json::array(
      {{{"name", "NEARCACHE_SOCKET"}, {"value", kRespSocketPath}},
       {{"name", "NEARCACHE_HTTP_SOCKET"}, {"value", kHttpSocketPath}}});
}

Json Volumes(const Settings& s) {
  return Json::array(
      {{{"name", kSocketVolume}, {"emptyDir", Json::object()}},
       {{"name", kConfigVolume}, {"configMap", {{"name", s.config_map}}}}});
}

// The sidecar. No runAsUser/runAsGroup: it runs as the pod's
// securityContext says, else as the image's USER (65532), so that a pod
// whose containers share a user or group can use the 0660 sockets.
Json Sidecar(const Settings& s, const InjectOptions& options) {
  const std::string memory = FormatMebibytes(s.memory_bytes);
  Json c = {
      {"name", kSidecarName},
      {"image", s.image},
      {"args", Json::array({"--config", kConfigPath})},
      {"restartPolicy", "Always"},
      {"ports", Json::array({{{"name", "admin"},
                              {"containerPort", kAdminPort},
                              {"protocol", "TCP"}}})},
  };
  if (!s.password_secret.empty()) {
    c["env"] = Json::array(
        {{{"name", "NEARCACHE_REDIS_PASSWORD"},
          {"valueFrom",
           {{"secretKeyRef",
             {{"name", s.password_secret}, {"key", kPasswordSecretKey}}}}}}});
  }
  c["resources"] = {
      {"requests", {{"cpu", options.cpu_request}, {"memory", memory}}},
      {"limits", {{"memory", memory}}}};
  c["startupProbe"] = HttpProbe("/healthz", 1, 1, 30);
  c["readinessProbe"] = HttpProbe("/readyz", 5, 1, 3);
  c["livenessProbe"] = HttpProbe("/healthz", 10, 2, 3);
  c["securityContext"] = {{"runAsNonRoot", true},
                          {"readOnlyRootFilesystem", true},
                          {"allowPrivilegeEscalation", false},
                          {"capabilities", {{"drop", Json::array({"ALL"})}}},
                          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  c["volumeMounts"] = Json::array({SocketMount(),
                                   {{"name", kConfigVolume},
                                    {"mountPath", kConfigDir},
                                    {"readOnly", true}}});
  return c;
}

}  // namespace

std::string DefaultSidecarImage() {
  return "nearcache:" NEARCACHE_INJECT_VERSION;
}

absl::StatusOr<size_t> SidecarMemoryBytes(size_t max_bytes) {
  if (max_bytes == 0 || max_bytes > kMaxMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(max_bytes, " bytes is out of range (1B..1PiB)"));
  }
  const size_t scaled = (max_bytes * 115 + 99) / 100;
  const size_t total = scaled + kOverheadBytes;
  return (total + kMiB - 1) / kMiB * kMiB;
}

std::string FormatMebibytes(size_t bytes) {
  return absl::StrCat(bytes / kMiB, "Mi");
}

bool WantsInjection(const Json& pod) {
  return Annotation(pod, kInjectAnnotation) == "true";
}

bool HasSidecar(const Json& pod) {
  return HasNamed(Path(pod, {"spec", "initContainers"}), kSidecarName) ||
         HasNamed(Path(pod, {"spec", "containers"}), kSidecarName);
}

std::string EscapePointerToken(absl::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

absl::StatusOr<std::vector<PatchOp>> PlanPodMutation(
    const Json& pod, const InjectOptions& options) {
  std::vector<PatchOp> ops;
  if (!WantsInjection(pod) || HasSidecar(pod)) return ops;
  const Json* spec = Member(pod, "spec");
  if (spec == nullptr || !spec->is_object()) {
    return absl::InvalidArgumentError(
        "annotated for injection but has no spec");
  }
  absl::StatusOr<Settings> settings = ResolveSettings(pod, options);
  if (!settings.ok()) return settings.status();

  const Json* labels = Path(pod, {"metadata", "labels"});
  if (labels != nullptr && labels->is_object()) {
    ops.push_back(
        {absl::StrCat("/metadata/labels/", EscapePointerToken(kSidecarLabel)),
         "true"});
  } else {
    ops.push_back({"/metadata/labels", {{kSidecarLabel, "true"}}});
  }

  const Json sidecar = Sidecar(*settings, options);
  const Json* init = Member(*spec, "initContainers");
  if (init != nullptr && init->is_array()) {
    ops.push_back({"/spec/initContainers/0", sidecar});
  } else {
    ops.push_back({"/spec/initContainers", Json::array({sidecar})});
  }

  const Json* volumes = Member(*spec, "volumes");
  if (volumes != nullptr && volumes->is_array()) {
    for (const Json& volume : Volumes(*settings)) {
      if (!HasNamed(volumes, volume["name"].get<std::string>())) {
        ops.push_back({"/spec/volumes/-", volume});
      }
    }
  } else {
    ops.push_back({"/spec/volumes", Volumes(*settings)});
  }

  const Json* containers = Member(*spec, "containers");
  if (containers == nullptr || !containers->is_array()) return ops;
  for (size_t i = 0; i < containers->size(); ++i) {
    const Json& container = (*containers)[i];
    const std::string prefix = absl::StrCat("/spec/containers/", i);
    const Json* mounts = Member(container, "volumeMounts");
    if (mounts != nullptr && mounts->is_array()) {
      bool mounted = false;
      for (const Json& m : *mounts) {
        const Json* path = Member(m, "mountPath");
        mounted |= path != nullptr && path->is_string() &&
                   path->get<std::string>() == kSocketDir;
      }
      if (!mounted && !HasNamed(mounts, kSocketVolume)) {
        ops.push_back({prefix + "/volumeMounts/-", SocketMount()});
      }
    } else {
      ops.push_back({prefix + "/volumeMounts", Json::array({SocketMount()})});
    }
    const Json* env = Member(container, "env");
    if (env != nullptr && env->is_array()) {
      for (const Json& var : SocketEnv()) {
        if (!HasNamed(env, var["name"].get<std::string>())) {
          ops.push_back({prefix + "/env/-", var});
        }
      }
    } else {
      ops.push_back({prefix + "/env", SocketEnv()});
    }
  }
  return ops;
}

}  // namespace nearcache::inject
