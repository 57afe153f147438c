// `nearcache inject`: adds the nearcache sidecar to Kubernetes manifests.
//
//   absl::StatusOr<std::string> out = InjectManifests(yaml, InjectOptions());
//
// The input is a YAML stream (documents separated by "---" lines). Every pod
// template annotated `nearcache.io/inject: "true"` gets the sidecar (see
// pod_mutation.h for what changes) in these kinds:
//
//   Pod                                     metadata / spec
//   Deployment, StatefulSet, DaemonSet,     spec.template
//   ReplicaSet, ReplicationController, Job
//   CronJob                                 spec.jobTemplate.spec.template
//   List                                    each of items, as above
//
// A document that is left unchanged (not annotated, already injected, any
// other kind, comments only) is copied to the output byte for byte. A changed
// document is emitted again from its parsed form: its leading and trailing
// comment lines are kept, comments inside it are lost, and scalar types are
// preserved (a quoted "true" stays a string). Injecting twice gives the same
// bytes as injecting once.
//
// Thread-safe: no shared state.
#ifndef NEARCACHE_INJECT_INJECT_H_
#define NEARCACHE_INJECT_INJECT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inject/pod_mutation.h"

namespace nearcache::inject {

// The manifests in `yaml` with the sidecar injected. InvalidArgument for
// YAML that does not parse or an annotation that cannot be used; the
// message names the document ("document 2 (Deployment shop/web): ...") and,
// for syntax errors, the line in the stream.
absl::StatusOr<std::string> InjectManifests(absl::string_view yaml,
                                            const InjectOptions& options);

}  // namespace nearcache::inject

#endif  // NEARCACHE_INJECT_INJECT_H_
