#include "http/http_message.h"

#include <string>

#include "gtest/gtest.h"

namespace nearcache {
namespace {

TEST(PercentDecodeTest, DecodesEscapesInEitherCase) {
  EXPECT_EQ(PercentDecode("a%00b%ff%FFc", false), std::string("a\0b\xff\xff"
                                                              "c",
                                                              6));
  EXPECT_EQ(PercentDecode("a+b%2B", false), "a+b+");
  EXPECT_EQ(PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(PercentDecode("", false), "");
}

TEST(PercentDecodeTest, RefusesBadEscapes) {
  EXPECT_EQ(PercentDecode("%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("a%4", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%g0", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%0g", false), std::nullopt);
}

TEST(IsValidUtf8Test, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));       // é
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));      // €
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
}

TEST(IsValidUtf8Test, RefusesMalformed) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
}

TEST(TargetTest, SplitsPathAndQuery) {
  EXPECT_EQ(TargetPath("/v1/keys/a?fields=x"), "/v1/keys/a");
  EXPECT_EQ(TargetQuery("/v1/keys/a?fields=x"), "fields=x");
  EXPECT_EQ(TargetPath("/metrics"), "/metrics");
  EXPECT_EQ(TargetQuery("/metrics"), "");
}

TEST(MakeJsonErrorTest, BodyIsJsonEvenForBinaryMessages) {
  HttpResponse res = MakeJsonError(HttpStatus::bad_request, "bad \"x\"\xff");
  EXPECT_EQ(res.result(), HttpStatus::bad_request);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(res.body(), "{\"error\":\"bad \\\"x\\\"\xef\xbf\xbd\"}");
  EXPECT_EQ(res[boost::beast::http::field::content_length],
            std::to_string(res.body().size()));
}

}  // namespace
}  // namespace nearcache
