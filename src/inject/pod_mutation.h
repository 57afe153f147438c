// The sidecar injection, as one plan shared by `nearcache inject` (YAML
// manifests) and `nearcache webhook` (AdmissionReview JSONPatch).
//
// PlanPodMutation looks at one pod (a Pod, or the pod template of a
// workload: an object with `metadata` and `spec`) and returns the JSONPatch
// "add" operations that give it the nearcache sidecar:
//
//   - the sidecar FIRST among spec.initContainers, with restartPolicy Always
//     (a native sidecar, Kubernetes >= 1.29): probes on the admin port,
//     resources, a locked-down securityContext, the config and socket mounts;
//   - the volumes: an emptyDir for the sockets, the ConfigMap for the config;
//   - in every app container (spec.containers): the socket volume at
//     /var/run/nearcache and NEARCACHE_SOCKET / NEARCACHE_HTTP_SOCKET;
//   - the pod label nearcache.io/sidecar: "true" (the PodMonitor selects it).
//
// Nothing is planned for a pod without `nearcache.io/inject: "true"` or one
// that already has a container or init container named `nearcache`, so
// injecting twice is injecting once. Existing init containers, volumes,
// mounts and env vars are kept; a mount at /var/run/nearcache or a variable
// the container already sets is left as the user wrote it.
//
// Per-pod settings come from annotations (see the k* constants below).
#ifndef NEARCACHE_INJECT_POD_MUTATION_H_
#define NEARCACHE_INJECT_POD_MUTATION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nearcache/config.h"
#include "nlohmann/json.hpp"

namespace nearcache::inject {

using Json = nlohmann::ordered_json;

// Annotations read on the pod (template) metadata.
inline constexpr char kInjectAnnotation[] = "nearcache.io/inject";
inline constexpr char kImageAnnotation[] = "nearcache.io/image";
inline constexpr char kConfigMapAnnotation[] = "nearcache.io/config-map";
inline constexpr char kMaxBytesAnnotation[] = "nearcache.io/max-bytes";
inline constexpr char kPasswordSecretAnnotation[] =
    "nearcache.io/redis-password-secret";
// The label added to injected pods.
inline constexpr char kSidecarLabel[] = "nearcache.io/sidecar";

// Names and paths the injected pod spec uses.
inline constexpr char kSidecarName[] = "nearcache";
inline constexpr char kSocketVolume[] = "nearcache-sockets";
inline constexpr char kConfigVolume[] = "nearcache-config";
inline constexpr char kSocketDir[] = "/var/run/nearcache";
inline constexpr char kConfigDir[] = "/etc/nearcache";
inline constexpr char kConfigPath[] = "/etc/nearcache/nearcache.yaml";
inline constexpr char kRespSocketPath[] = "/var/run/nearcache/redis.sock";
inline constexpr char kHttpSocketPath[] = "/var/run/nearcache/http.sock";
inline constexpr char kPasswordSecretKey[] = "password";
inline constexpr int kAdminPort = 9464;

// "nearcache:<version of this build>".
std::string DefaultSidecarImage();

// Defaults for what the annotations do not say. Plain value type.
struct InjectOptions {
  // The sidecar image; nearcache.io/image overrides it per pod.
  std::string image = DefaultSidecarImage();
  // The ConfigMap holding nearcache.yaml; nearcache.io/config-map overrides.
  std::string config_map = "nearcache-config";
  // cache.max_bytes assumed for sizing the memory limit when the pod has no
  // nearcache.io/max-bytes annotation (the config's default, 256MiB).
  size_t max_bytes = CacheConfig{}.max_bytes;
  // The sidecar's CPU request. No CPU limit is set: throttling a cache on
  // the request path costs more latency than it saves.
  std::string cpu_request = "100m";
};

// One JSONPatch "add" operation; `path` is a JSON pointer from the pod
// (template) root, e.g. "/spec/initContainers/0".
struct PatchOp {
  std::string path;
  Json value;
};

// The memory limit (and request) for a sidecar whose cache.max_bytes is
// `max_bytes`: 1.15 x max_bytes + 64MiB, rounded up to whole MiB. The 15%
// covers allocator slack and the index; the 64MiB the binary, buffers and
// threads. InvalidArgument for 0 or more than 1PiB.
absl::StatusOr<size_t> SidecarMemoryBytes(size_t max_bytes);

// "359Mi": `bytes` (a multiple of 1MiB) as a Kubernetes quantity.
std::string FormatMebibytes(size_t bytes);

// True when `pod` (an object with metadata/spec) carries
// nearcache.io/inject: "true".
bool WantsInjection(const Json& pod);

// True when `pod` already has a container or init container named
// "nearcache".
bool HasSidecar(const Json& pod);

// The operations that inject the sidecar into `pod`, in the order they must
// be applied; empty when WantsInjection is false or HasSidecar is true.
// InvalidArgument, naming the annotation, when an annotation's value is
// unusable (an unparsable size, a name Kubernetes would refuse).
absl::StatusOr<std::vector<PatchOp>> PlanPodMutation(
    const Json& pod, const InjectOptions& options);

// Escapes a JSON pointer token: "~" -> "~0", "/" -> "~1".
std::string EscapePointerToken(absl::string_view token);

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_POD_MUTATION_H_
