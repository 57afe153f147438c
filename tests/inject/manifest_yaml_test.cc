// The YAML side of `nearcache inject`: splitting a stream into documents,
// emitting nodes without changing scalar types, and applying add operations.
#include "inject/manifest_yaml.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nearcache::inject {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Chunks(absl::string_view stream) {
  std::vector<std::string> out;
  for (const DocumentChunk& c : SplitDocuments(stream)) {
    out.emplace_back(c.text);
  }
  return out;
}

TEST(SplitDocumentsTest, SplitsAtMarkerLinesAndLosesNoByte) {
  EXPECT_THAT(Chunks("a: 1\n"), ElementsAre("a: 1\n"));
  EXPECT_THAT(Chunks("a: 1\n---\nb: 2\n"),
              ElementsAre("a: 1\n", "---\nb: 2\n"));
  EXPECT_THAT(Chunks("---\na: 1\n--- # two\nb: 2"),
              ElementsAre("---\na: 1\n", "--- # two\nb: 2"));
  EXPECT_THAT(Chunks("a: 1\r\n---\r\nb: 2\r\n"),
              ElementsAre("a: 1\r\n", "---\r\nb: 2\r\n"));
  // Not markers: more dashes, indented, or dashes inside a value.
  EXPECT_THAT(Chunks("a: ----\n----\n  ---\nb: \"---\"\n"),
              ElementsAre("a: ----\n----\n  ---\nb: \"---\"\n"));
  EXPECT_THAT(Chunks(""), ElementsAre(""));

  const std::vector<DocumentChunk> chunks =
      SplitDocuments("# c\na: 1\n---\nb: 2\n\n---\nc: 3\n");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].first_line, 1);
  EXPECT_EQ(chunks[1].first_line, 3);
  EXPECT_EQ(chunks[2].first_line, 6);
}

TEST(PlainScalarChangesTypeTest, QuotesWhatYaml11ReadsAsAnotherType) {
  for (const char* s :
       {"",      "true", "False", "yes",        "NO",    "on", "Off",
        "y",     "n",    "null",  "~",          "Null",  "80", "0755",
        "0x1F",  "1e3",  "1.5",   "-1",         "+2",    ".5", ".inf",
        "-.Inf", ".NaN", "12:30", "2024-01-02", "1_000", "<<"}) {
    EXPECT_TRUE(PlainScalarChangesType(s)) << '"' << s << '"';
  }
  for (const char* s :
       {"100m", "1Gi", "256MiB", "nginx", "nginx:1.14.2", "/var/run/nearcache",
        "--config", "-c", "admin", "RuntimeDefault", "nearcache.io/sidecar",
        "yesterday"}) {
    EXPECT_FALSE(PlainScalarChangesType(s)) << '"' << s << '"';
  }
}

// A string emitted and read back stays the same string, and is quoted
// whenever a plain scalar would have another type.
TEST(EmitYamlTest, StringsRoundTrip) {
  const std::vector<std::string> cases = {"true",
                                          "yes",
                                          "0755",
                                          "1e3",
                                          "",
                                          "~",
                                          "null",
                                          "a: b",
                                          "#x",
                                          "- item",
                                          "it's \"quoted\"",
                                          "café ☕",
                                          "  padded  ",
                                          "line\nline",
                                          "ends\n",
                                          "ends\n\n",
                                          "\nleading",
                                          " indented\nblock\n",
                                          "a\tb",
                                          "x\r\ny",
                                          "[flow]",
                                          "{map}",
                                          "*alias",
                                          "&anchor",
                                          "!tag",
                                          "@at",
                                          "`tick",
                                          "%pct",
                                          "key:",
                                          "ok"};
  for (const std::string& s : cases) {
    YAML::Node map(YAML::NodeType::Map);
    map.force_insert(JsonToYaml("k"), JsonToYaml(s));
    const std::string text = EmitYaml(map);
    YAML::Node back = YAML::Load(text);
    ASSERT_TRUE(back.IsMap()) << text;
    EXPECT_EQ(back["k"].Scalar(), s) << text;
    if (PlainScalarChangesType(s)) {
      EXPECT_EQ(back["k"].Tag(), "!") << "not quoted: " << text;
    }
  }
}

TEST(EmitYamlTest, KeepsPlainScalarsPlainAndFlowStyle) {
  const std::string in =
      "port: 80\n"
      "enabled: true\n"
      "name: \"true\"\n"
      "quoted: \"nginx\"\n"
      "args: [a, \"1\"]\n"
      "empty: {}\n"
      "none: []\n"
      "nothing: ~\n"
      "script: |\n  echo hi\n  exit 0\n";
  EXPECT_EQ(EmitYaml(YAML::Load(in)),
            "port: 80\n"
            "enabled: true\n"
            "name: \"true\"\n"
            "quoted: nginx\n"
            "args: [a, \"1\"]\n"
            "empty: {}\n"
            "none: []\n"
            "nothing: ~\n"
            "script: |\n  echo hi\n  exit 0\n");
}

TEST(JsonToYamlTest, NumbersAndBooleansArePlainStringsAreNot) {
  const YAML::Node node =
      JsonToYaml(Json{{"port", 9464}, {"on", false}, {"s", "9464"}});
  // "on" is a boolean in YAML 1.1, even as a key.
  EXPECT_EQ(EmitYaml(node), "port: 9464\n\"on\": false\ns: \"9464\"\n");
  EXPECT_EQ(YamlToJson(YAML::Load("a: [1, x]\nb: ~\nc: {d: e}")),
            Json({{"a", {"1", "x"}}, {"b", nullptr}, {"c", {{"d", "e"}}}}));
}

TEST(ApplyAddOpsTest, AddsInsertsAppendsAndReplaces) {
  YAML::Node doc = YAML::Load(
      "spec:\n  list: [b, c]\n  map: {x: 1}\nmetadata:\n  labels: {a/b: 1}\n");
  ASSERT_TRUE(ApplyAddOps(doc, {{"/spec/list/0", "a"},
                                {"/spec/list/-", "d"},
                                {"/spec/list/2", "b2"},
                                {"/spec/map/z", 2},
                                {"/spec/new", Json::array({"m"})},
                                {"/metadata/labels/a~1b", "2"}})
                  .ok());
  EXPECT_EQ(EmitYaml(doc),
            "spec:\n"
            "  list: [a, b, b2, c, d]\n"
            "  map: {x: 1, z: 2}\n"
            "  new:\n"
            "  - m\n"
            "metadata:\n"
            "  labels: {a/b: \"2\"}\n");
  EXPECT_FALSE(ApplyAddOps(doc, {{"/spec/missing/x", 1}}).ok());
  EXPECT_FALSE(ApplyAddOps(doc, {{"/spec/list/9", 1}}).ok());
  EXPECT_FALSE(ApplyAddOps(doc, {{"spec", 1}}).ok());
}

TEST(ReplaceDocumentContentTest, KeepsMarkerAndOuterComments) {
  const YAML::Node doc = YAML::Load("a: 2");
  EXPECT_EQ(ReplaceDocumentContent("---\n# head\na: 1  # inner\n# tail\n", doc),
            "---\n# head\na: 2\n# tail\n");
  EXPECT_EQ(ReplaceDocumentContent("a: 1", doc), "a: 2\n");
  EXPECT_EQ(ReplaceDocumentContent("--- {a: 1}\n", doc), "---\na: 2\n");
  EXPECT_EQ(ReplaceDocumentContent("--- # c\n\na: 1\n...\n", doc),
            "--- # c\n\na: 2\n...\n");
}

}  // namespace
}  // namespace nearcache::inject
