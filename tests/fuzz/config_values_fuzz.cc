// libFuzzer target for the config layer's value parsers: durations, byte
// sizes and Redis addresses (include/nearcache/config.h). Byte 0 picks the
// parser, the rest is the value's text.
//
// Checked, besides ASan/UBSan: whatever a parser accepts, the config layer's
// own writer (what RenderConfig uses) writes back as text that parses to
// the same value; an accepted address keeps its endpoint without its
// credentials, and the endpoint's ToString() (what the logs show) parses
// back to the same endpoint.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nearcache/config.h"
#include "nearcache/redis_endpoint.h"
#include "src/config/redis_address.h"
#include "src/config/units.h"

namespace {

#define FUZZ_CHECK(cond)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

void Duration(absl::string_view text) {
  const absl::StatusOr<absl::Duration> d = nearcache::ParseDurationValue(text);
  if (!d.ok()) return;
  FUZZ_CHECK(*d >= absl::ZeroDuration());
  const std::string written =
      nearcache::config_internal::FormatDurationValue(*d);
  const absl::StatusOr<absl::Duration> again =
      nearcache::ParseDurationValue(written);
  if (!again.ok() || *again != *d) {
    std::fprintf(stderr, "duration '%s' written as '%s' reads back as %s\n",
                 std::string(text).c_str(), written.c_str(),
                 again.ok() ? absl::FormatDuration(*again).c_str()
                            : std::string(again.status().message()).c_str());
    std::abort();
  }
}

void Size(absl::string_view text) {
  const absl::StatusOr<size_t> n = nearcache::ParseByteSize(text);
  if (!n.ok()) return;
  const std::string written = nearcache::config_internal::FormatByteSize(*n);
  const absl::StatusOr<size_t> again = nearcache::ParseByteSize(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *n);
}

void Address(absl::string_view text) {
  using nearcache::config_internal::ParseRedisUrl;
  using nearcache::config_internal::RedisUrl;
  // Redacting is total: any text, valid or not.
  (void)nearcache::config_internal::RedactAddress(text);
  const absl::StatusOr<RedisUrl> url = ParseRedisUrl(text);
  if (!url.ok()) return;
  const absl::StatusOr<RedisUrl> bare =
      ParseRedisUrl(url->address_without_credentials);
  FUZZ_CHECK(bare.ok());
  FUZZ_CHECK(bare->endpoint == url->endpoint);
  FUZZ_CHECK(bare->username.empty());
  FUZZ_CHECK(bare->password.empty());
  FUZZ_CHECK(bare->address_without_credentials ==
             url->address_without_credentials);
  const std::string shown = url->endpoint.ToString();
  const absl::StatusOr<nearcache::RedisEndpoint> again =
      nearcache::ParseRedisAddress(shown);
  if (!again.ok() || !(*again == url->endpoint)) {
    std::fprintf(stderr, "address '%s' shown as '%s' does not read back\n",
                 std::string(text).c_str(), shown.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0:
      Duration(text);
      break;
    case 1:
      Size(text);
      break;
    default:
      Address(text);
      break;
  }
  return 0;
}
