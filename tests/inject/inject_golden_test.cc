// Golden files for InjectManifests: every testdata/NAME.yaml must inject to
// exactly testdata/NAME.golden.yaml, and injecting the golden again must
// change nothing. After an intended change, regenerate and review the diff:
//   NEARCACHE_UPDATE_GOLDEN=1 build/tests/inject/inject_test
//   --gtest_filter='Golden*'
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "inject/inject.h"

namespace nearcache::inject {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Inputs() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(NEARCACHE_INJECT_TESTDATA)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, ".yaml") &&
        !absl::EndsWith(name, ".golden.yaml")) {
      names.push_back(name.substr(0, name.size() - 5));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The options the goldens were made with: a fixed image, so that a version
// bump does not change them.
InjectOptions GoldenOptions() {
  InjectOptions options;
  options.image = "nearcache:0.1.0";
  return options;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, InjectsToTheGoldenFileAndIsIdempotent) {
  const fs::path dir = NEARCACHE_INJECT_TESTDATA;
  const std::string input = Read(dir / (GetParam() + ".yaml"));
  absl::StatusOr<std::string> out = InjectManifests(input, GoldenOptions());
  ASSERT_TRUE(out.ok()) << out.status();

  const fs::path golden_path = dir / (GetParam() + ".golden.yaml");
  if (std::getenv("NEARCACHE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden_path, std::ios::binary) << *out;
  }
  ASSERT_TRUE(fs::exists(golden_path)) << golden_path;
  EXPECT_EQ(*out, Read(golden_path));

  absl::StatusOr<std::string> again = InjectManifests(*out, GoldenOptions());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *out) << "injecting twice differs from injecting once";
}

INSTANTIATE_TEST_SUITE_P(Testdata, GoldenTest, ::testing::ValuesIn(Inputs()),
                         [](const auto& info) { return info.param; });

TEST(InjectManifestsTest, UnchangedStreamsAreCopiedByteForByte) {
  for (const std::string& s :
       {std::string(""), std::string("# only a comment"),
        std::string("a: 1\r\n---\r\nkind: Service\r\n"),
        std::string("---\n---\nkind: Pod\nmetadata: {name: x}\n...\n")}) {
    absl::StatusOr<std::string> out = InjectManifests(s, GoldenOptions());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, s);
  }
}

TEST(InjectManifestsTest, ErrorsNameTheDocument) {
  absl::StatusOr<std::string> bad_yaml =
      InjectManifests("a: 1\n---\nb: [1,\nc: 2\n", GoldenOptions());
  ASSERT_FALSE(bad_yaml.ok());
  EXPECT_TRUE(absl::StartsWith(bad_yaml.status().message(), "document 2 (line"))
      << bad_yaml.status();

  absl::StatusOr<std::string> bad_annotation = InjectManifests(
      "kind: Service\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\n"
      "metadata: {name: web, namespace: shop}\n"
      "spec:\n  template:\n    metadata:\n      annotations:\n"
      "        nearcache.io/inject: \"true\"\n"
      "        nearcache.io/max-bytes: lots\n"
      "    spec: {containers: [{name: a}]}\n",
      GoldenOptions());
  ASSERT_FALSE(bad_annotation.ok());
  EXPECT_TRUE(absl::StartsWith(
      bad_annotation.status().message(),
      "document 2 (Deployment shop/web): nearcache.io/max-bytes: "))
      << bad_annotation.status();
}

}  // namespace
}  // namespace nearcache::inject
