// Internal to the inject layer: the YAML side of `nearcache inject`.
//
// yaml-cpp keeps a scalar's text but not its type, and its emitter writes
// the string "true" as a plain `true`, which Kubernetes then reads as a
// boolean. So documents are emitted here node by node: a scalar that was
// quoted in the input (tag "!") or was a JSON string is quoted whenever
// YAML 1.1 (what Kubernetes' YAML reader follows) would take it for a bool,
// a number or null; a plain scalar is written plain, as it was read.
//
// Thread-safe: free functions without shared state.
#ifndef NEARCACHE_INJECT_MANIFEST_YAML_H_
#define NEARCACHE_INJECT_MANIFEST_YAML_H_

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "inject/pod_mutation.h"

namespace nearcache::inject {

// One document of a YAML stream, as it appears in the input.
struct DocumentChunk {
  // From a "---" line (included) to the next one (excluded); the first
  // chunk starts at the beginning of the stream and may have no marker.
  absl::string_view text;
  // 1-based line of the stream where `text` starts.
  int first_line = 1;
};

// Splits a stream at its "---" lines (a line that starts with "---"
// followed by nothing, a space or a tab). Concatenating the chunks' text
// gives back `stream` byte for byte. Document markers cannot occur inside
// YAML content at column 0, so no parsing is needed to find them.
std::vector<DocumentChunk> SplitDocuments(absl::string_view stream);

// Re-emits `chunk` with `doc` as its content: keeps the chunk's leading
// marker and comment lines and its trailing comment lines, and replaces
// everything in between (comments inside the document are lost).
std::string ReplaceDocumentContent(absl::string_view chunk,
                                   const YAML::Node& doc);

// `node` as YAML text, ending with a newline: block style as kubectl
// writes it (a sequence under a key is not indented further), flow style
// where the input used it, multi-line strings as literal blocks where
// exact, and quoting as described above.
std::string EmitYaml(const YAML::Node& node);

// True when `text`, written as a plain scalar, would not read back as the
// string `text` under YAML 1.1 or 1.2: empty, null/bool words (yes, off,
// ~, ...), anything that starts like a number.
bool PlainScalarChangesType(absl::string_view text);

// `node` as JSON: maps to objects (keys by their text), sequences to
// arrays, every scalar to a string, null to null. Only for looking at a
// manifest: a scalar's type is not recovered.
Json YamlToJson(const YAML::Node& node);

// `value` as a YAML node: strings get the "!" tag (quoted when needed),
// numbers and booleans are plain scalars.
YAML::Node JsonToYaml(const Json& value);

// Applies JSONPatch "add" operations to `root` (a handle: the node it
// refers to is changed). Paths go through maps by key and sequences by
// index; the last token adds a map key, appends ("-") or inserts (an index)
// into a sequence. InvalidArgument when a path does not lead anywhere.
absl::Status ApplyAddOps(YAML::Node root, const std::vector<PatchOp>& ops);

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_MANIFEST_YAML_H_
