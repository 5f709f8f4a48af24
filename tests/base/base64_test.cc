#include "base/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"

namespace kmsfs {
namespace {

TEST(Base64Test, MatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), enc);
    EXPECT_EQ(std::string_view(Base64EncodeSecret(AsBytes(plain))), enc);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(std::string(dec->begin(), dec->end()), plain);
  }
}

TEST(Base64Test, RoundTripsEveryByteValueAndLength) {
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(255 - i);
  for (size_t n = 0; n <= all.size(); ++n) {
    const std::span<const uint8_t> in(all.data(), n);
    const std::string enc = Base64Encode(in);
    ASSERT_EQ(enc.size(), 4 * ((n + 2) / 3));
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.ok()) << n;
    EXPECT_EQ(*dec, std::vector<uint8_t>(in.begin(), in.end()));
  }
  EXPECT_EQ(Base64Encode(std::vector<uint8_t>{0xfb, 0xff, 0xbf}), "+/+/");
}

TEST(Base64Test, DecodeIsStrict) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9", "Zm-_",
                          "Zg=A", "Zm9v\r\n", " Zm9v"}) {
    EXPECT_EQ(Base64Decode(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(Base64Decode(std::string_view("Zm\0v", 4)).ok());
}

// As before the move (OpenSSL's decoder): the unused low bits of a padded
// final quantum are dropped, not checked.
TEST(Base64Test, DecodeIgnoresUnusedBitsOfThePaddedQuantum) {
  auto dec = Base64Decode("Zh==");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, std::vector<uint8_t>{'f'});
}

}  // namespace
}  // namespace kmsfs
