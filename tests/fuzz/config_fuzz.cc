// libFuzzer target for the config loader (include/nearcache/config.h): the
// input is a YAML file. Run it with tests/fuzz/config.dict, the real keys and
// value shapes, so that the fuzzer reaches past "unknown key".
//
// Checked, besides ASan/UBSan:
//   - ParseConfig never throws (yaml-cpp's exceptions stay inside it) and
//     fails only with InvalidArgument, one "FILE..." line per problem;
//   - a config it accepts renders to YAML that parses back to the same
//     config (the password aside: it is never rendered), which renders to
//     the same text, and against which no key needs a restart.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nearcache/config.h"

namespace {

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

constexpr char kFile[] = "fuzz.yaml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nearcache::Config;
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<Config> config = nearcache::ParseConfig(yaml, kFile);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
    for (absl::string_view line :
         absl::StrSplit(config.status().message(), '\n')) {
      FUZZ_CHECK(absl::StartsWith(line, kFile));
    }
    return 0;
  }
  FUZZ_CHECK(config->source_path == kFile);

  const std::string rendered = nearcache::RenderConfig(*config);
  const absl::StatusOr<Config> again = nearcache::ParseConfig(rendered, kFile);
  if (!again.ok()) {
    std::fprintf(stderr, "rendered config does not parse back:\n%s\n%s\n",
                 rendered.c_str(),
                 std::string(again.status().message()).c_str());
    std::abort();
  }
  Config want = *config;
  want.redis.password.clear();
  if (!(*again == want)) {
    std::fprintf(stderr,
                 "rendered config parses back to another config:\n%s\n"
                 "which renders as:\n%s\n",
                 rendered.c_str(), nearcache::RenderConfig(*again).c_str());
    std::abort();
  }
  FUZZ_CHECK(nearcache::RenderConfig(*again) == nearcache::RenderConfig(want));
  FUZZ_CHECK(nearcache::KeysNeedingRestart(*config, *config).empty());
  FUZZ_CHECK(nearcache::KeysNeedingRestart(want, *again).empty());
  return 0;
}
