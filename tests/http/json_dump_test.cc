// DumpJson must write exactly what nlohmann's dump() writes (compact, no
// ASCII escaping, invalid UTF-8 replaced): the HTTP API's bodies did not
// change when it replaced dump() on the hot path.
#include "http/json_dump.h"

#include <functional>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace nearcache {
namespace {

using Json = nlohmann::ordered_json;

std::string Reference(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TEST(JsonDumpTest, MatchesNlohmannOnHandPickedValues) {
  const std::string strings[] = {
      "",
      "plain",
      std::string("nul\0inside", 10),
      "quote \" backslash \\ slash /",
      "\b\f\n\r\t\x01\x1f\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",  // é € 😀
      "\xff\xfe bad",                               // invalid UTF-8
      "\xed\xa0\x80",                               // a surrogate
      "\xc0\xaf",                                   // overlong '/'
      "trunc \xe2\x82",                             // cut multi-byte
      std::string(5000, 'x') + "\"" + std::string(3000, 'y'),
  };
  for (const std::string& s : strings) {
    const Json j =
        Json::object({{s, s}, {"list", Json::array({s, 1, nullptr})}});
    EXPECT_EQ(DumpJson(j), Reference(j)) << s;
    EXPECT_EQ(DumpJson(Json(s)), Reference(Json(s))) << s;
  }
  Json scalars = Json::array({0, -1, 42u, 1.5, -0.25, 1e300, true, false,
                              nullptr, Json::object(), Json::array()});
  EXPECT_EQ(DumpJson(scalars), Reference(scalars));
}

TEST(JsonDumpTest, MatchesNlohmannOnRandomTrees) {
  std::mt19937 rng(7);
  auto random_string = [&] {
    std::string s(rng() % 40, '\0');
    for (char& c : s) {
      // Mostly printable, some control bytes, quotes, high bytes.
      const unsigned r = rng() % 100;
      c = static_cast<char>(r < 70   ? 0x20 + rng() % 95
                            : r < 80 ? rng() % 0x20
                            : r < 85 ? '"'
                            : r < 90 ? '\\'
                                     : 0x80 + rng() % 0x80);
    }
    return s;
  };
  std::function<Json(int)> random_json = [&](int depth) -> Json {
    const unsigned r = rng() % (depth > 3 ? 4 : 6);
    switch (r) {
      case 0:
        return Json(random_string());
      case 1:
        return Json(static_cast<int64_t>(rng()) - (1 << 30));
      case 2:
        return rng() % 2 == 0 ? Json(nullptr) : Json(rng() % 2 == 0);
      case 3:
        return Json(static_cast<double>(rng()) / 7.0);
      case 4: {
        Json a = Json::array();
        for (unsigned i = rng() % 5; i > 0; --i)
          a.push_back(random_json(depth + 1));
        return a;
      }
      default: {
        Json o = Json::object();
        for (unsigned i = rng() % 5; i > 0; --i) {
          o[random_string()] = random_json(depth + 1);
        }
        return o;
      }
    }
  };
  for (int i = 0; i < 3000; ++i) {
    const Json j = random_json(0);
    ASSERT_EQ(DumpJson(j), Reference(j)) << "tree " << i;
  }
}

}  // namespace
}  // namespace nearcache
