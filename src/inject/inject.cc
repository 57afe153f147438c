#include "inject/inject.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inject/manifest_yaml.h"

namespace nearcache::inject {
namespace {

// The scalar at `key` of map `node`, or "". Const access never inserts; a
// missing key gives an invalid node, which must be checked with IsDefined()
// before anything else (yaml-cpp throws on it).
std::string ScalarAt(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return "";
  const YAML::Node value = node[key];
  return value.IsDefined() && value.IsScalar() ? value.Scalar() : "";
}

// The map at `keys` under `node`, or nullopt. The result is a handle into
// `node`: changes to it change the document.
std::optional<YAML::Node> MapAt(const YAML::Node& node,
                                std::initializer_list<const char*> keys) {
  YAML::Node current = node;
  for (const char* key : keys) {
    if (!current.IsMap()) return std::nullopt;
    const YAML::Node& as_const = current;
    YAML::Node child = as_const[key];
    if (!child.IsDefined() || !child.IsMap()) return std::nullopt;
    current.reset(child);
  }
  return current;
}

// "Deployment shop/web", for error messages.
std::string Describe(const YAML::Node& object) {
  std::string kind = ScalarAt(object, "kind");
  std::string name;
  if (std::optional<YAML::Node> metadata = MapAt(object, {"metadata"})) {
    name = ScalarAt(*metadata, "name");
    const std::string ns = ScalarAt(*metadata, "namespace");
    if (!ns.empty()) name = absl::StrCat(ns, "/", name);
  }
  if (kind.empty()) kind = "object";
  return name.empty() ? kind : absl::StrCat(kind, " ", name);
}

// The pod template of a workload object, or the object itself for a Pod.
std::optional<YAML::Node> PodTemplate(const YAML::Node& object) {
  const std::string kind = ScalarAt(object, "kind");
  if (kind == "Pod") return object;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "ReplicationController" ||
      kind == "Job") {
    return MapAt(object, {"spec", "template"});
  }
  if (kind == "CronJob") {
    return MapAt(object, {"spec", "jobTemplate", "spec", "template"});
  }
  return std::nullopt;
}

// Injects into `object` (and, for a List, its items). Sets *changed when
// anything was added; on failure, *where names the object that failed.
absl::Status InjectObject(const YAML::Node& object,
                          const InjectOptions& options, bool* changed,
                          std::string* where) {
  if (!object.IsMap()) return absl::OkStatus();
  if (ScalarAt(object, "kind") == "List") {
    const YAML::Node items = object["items"];
    if (!items.IsDefined() || !items.IsSequence()) return absl::OkStatus();
    for (const YAML::Node& item : items) {
      if (absl::Status s = InjectObject(item, options, changed, where);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }
  std::optional<YAML::Node> pod = PodTemplate(object);
  if (!pod.has_value()) return absl::OkStatus();
  absl::StatusOr<std::vector<PatchOp>> ops =
      PlanPodMutation(YamlToJson(*pod), options);
  absl::Status status = ops.status();
  if (ops.ok() && !ops->empty()) {
    status = ApplyAddOps(*pod, *ops);
    *changed = true;
  }
  if (!status.ok()) *where = Describe(object);
  return status;
}

}  // namespace

absl::StatusOr<std::string> InjectManifests(absl::string_view yaml,
                                            const InjectOptions& options) {
  std::string out;
  out.reserve(yaml.size() * 2);
  int index = 0;
  for (const DocumentChunk& chunk : SplitDocuments(yaml)) {
    ++index;
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(chunk.text));
    } catch (const YAML::Exception& e) {
      const int line = chunk.first_line + (e.mark.is_null() ? 0 : e.mark.line);
      return absl::InvalidArgumentError(absl::StrCat(
          "document ", index, " (line ", line, "): invalid YAML: ", e.msg));
    }
    if (docs.size() > 1) {
      // SplitDocuments missed a boundary: refuse rather than drop content.
      return absl::InvalidArgumentError(absl::StrCat(
          "document ", index, " (line ", chunk.first_line,
          "): more than one document without a \"---\" line between them"));
    }
    bool changed = false;
    std::string where;
    absl::Status status;
    std::string replaced;
    try {
      if (!docs.empty()) {
        status = InjectObject(docs[0], options, &changed, &where);
      }
      if (status.ok() && changed) {
        replaced = ReplaceDocumentContent(chunk.text, docs[0]);
      }
    } catch (const YAML::Exception& e) {  // a node of an unexpected shape
      status = absl::InvalidArgumentError(e.msg);
    }
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("document ", index,
                       where.empty() ? "" : absl::StrCat(" (", where, ")"),
                       ": ", status.message()));
    }
    if (changed) {
      out += replaced;
    } else {
      out.append(chunk.text.data(), chunk.text.size());
    }
  }
  return out;
}

}  // namespace nearcache::inject
