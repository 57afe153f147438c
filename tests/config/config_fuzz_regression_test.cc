// Regression tests for what fuzzing the config layer found
// (tests/fuzz/config_fuzz.cc, tests/fuzz/config_values_fuzz.cc): each test
// is a minimized fuzzer input and the contract it broke.

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nearcache/config.h"
#include "src/config/units.h"

namespace nearcache {
namespace {

using std::string_literals::operator""s;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kFile[] = "fuzz.yaml";

// The error lines of a config that must not load.
std::vector<std::string> Errors(const std::string& yaml) {
  const absl::StatusOr<Config> config = ParseConfig(yaml, kFile);
  EXPECT_FALSE(config.ok());
  return absl::StrSplit(config.status().message(), '\n');
}

// ParseConfig on another thread, so that a hang fails the test instead of
// stalling the suite (yaml-cpp 0.7's LoadAll() loops forever, allocating, on
// these inputs).
std::vector<std::string> ErrorsWithin(const std::string& yaml,
                                      std::chrono::seconds limit) {
  auto result = std::async(std::launch::async, [yaml] { return Errors(yaml); });
  if (result.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "ParseConfig did not return within " << limit.count()
                  << "s";
    std::quick_exit(1);  // the parse still runs and eats memory
  }
  return result.get();
}

TEST(ConfigFuzzRegressionTest, TokenNoDocumentConsumesIsAnErrorNotAHang) {
  EXPECT_THAT(ErrorsWithin(",x", std::chrono::seconds(10)),
              ElementsAre("fuzz.yaml:1:1: invalid YAML: unexpected \",\""));
  EXPECT_THAT(ErrorsWithin(",\v", std::chrono::seconds(10)),
              ElementsAre("fuzz.yaml:1:1: invalid YAML: unexpected \",\""));
  EXPECT_THAT(ErrorsWithin(" ,", std::chrono::seconds(10)),
              ElementsAre("fuzz.yaml:1:2: invalid YAML: unexpected \",\""));
}

TEST(ConfigFuzzRegressionTest, DocumentsAreStillCounted) {
  EXPECT_THAT(Errors("a: 1\n---\nb: 2\n---\n"),
              ElementsAre("fuzz.yaml: holds 3 YAML documents; expected one"));
  const absl::StatusOr<Config> one = ParseConfig("---\ncache:\n...\n", kFile);
  EXPECT_TRUE(one.ok()) << one.status();
}

TEST(ConfigFuzzRegressionTest, KeyNamesCannotBreakOrForgeErrorLines) {
  // A key holding a line break, shaped like an error line of its own.
  EXPECT_THAT(
      Errors("\"a\\nfuzz.yaml: listen.threads: forged\": 1\n"),
      ElementsAre("fuzz.yaml: a\\nfuzz.yaml: listen.threads: forged: unknown "
                  "key"));
  // A plain key with a carriage return and a byte that is not UTF-8.
  const std::vector<std::string> errors = Errors("l\r\x80\0n:"s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], StartsWith("fuzz.yaml: l\\r"));
  EXPECT_THAT(errors[0], Not(HasSubstr("\r")));
}

TEST(ConfigFuzzRegressionTest, YamlMessagesStayOnOneLine) {
  // yaml-cpp quotes the offending character in its message: here a line
  // break.
  const std::vector<std::string> errors = Errors("\0\1\0\0\0\n\0\0\1:"s);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], StartsWith("fuzz.yaml:2:1: invalid YAML: "));
}

TEST(ConfigFuzzRegressionTest, DurationsAreWholeNanoseconds) {
  // 22424.9ns: absl::Duration keeps quarter nanoseconds, which the rendered
  // config cannot write back.
  const absl::StatusOr<absl::Duration> d = ParseDurationValue(".0224249ms");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, absl::Nanoseconds(22424));
  EXPECT_EQ(config_internal::FormatDurationValue(*d), "0.022424ms");
  EXPECT_EQ(ParseDurationValue("0.022424ms").value(), *d);
  EXPECT_EQ(ParseDurationValue("1.0000000009s").value(), absl::Seconds(1));
}

TEST(ConfigFuzzRegressionTest, SubNanosecondTtlRendersBackToTheSameConfig) {
  const absl::StatusOr<Config> config =
      ParseConfig("cache:\n  ttl: .0224249ms\n", kFile);
  ASSERT_TRUE(config.ok()) << config.status();
  const absl::StatusOr<Config> again =
      ParseConfig(RenderConfig(*config), kFile);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *config);
}

}  // namespace
}  // namespace nearcache
