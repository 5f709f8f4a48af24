#include "crypto/aes_siv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/hex.h"
#include "tests/testutil/bytes.h"

namespace kmsfs::crypto {
namespace {

using testing::Hex;

// RFC 5297 Appendix A.1 (deterministic AES-SIV, one associated-data string).
TEST(AesSivTest, Rfc5297DeterministicVector) {
  auto siv = AesSiv::New(SecretBytes::CopyFrom(Hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")));
  ASSERT_TRUE(siv.ok()) << siv.status().ToString();
  const auto ad = Hex("101112131415161718191a1b1c1d1e1f2021222324252627");
  const auto plain = Hex("112233445566778899aabbccddee");
  auto sealed = (*siv)->Seal(plain, ad);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(HexEncode(*sealed), "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
  auto opened = (*siv)->Open(*sealed, ad);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, plain);
}

TEST(AesSivTest, SealIsDeterministicAndOpenRefusesAnyChange) {
  auto siv = AesSiv::New(SecretBytes::Random(AesSiv::kKeySize));
  ASSERT_TRUE(siv.ok());
  const std::vector<uint8_t> ad = {1, 2, 3};
  const std::vector<uint8_t> plain(32, 'x');
  auto a = (*siv)->Seal(plain, ad);
  auto b = (*siv)->Seal(plain, ad);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->size(), plain.size() + AesSiv::kTagSize);
  for (size_t i = 0; i < a->size(); ++i) {
    std::vector<uint8_t> bad = *a;
    bad[i] ^= 0x40;
    EXPECT_EQ((*siv)->Open(bad, ad).status().code(), StatusCode::kDataLoss) << "byte " << i;
  }
  EXPECT_EQ((*siv)->Open(*a, std::vector<uint8_t>{1, 2, 4}).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ((*siv)->Open(std::vector<uint8_t>(5, 0), ad).status().code(), StatusCode::kDataLoss);
}

TEST(AesSivTest, KeysOfOtherSizesAreRefused) {
  for (size_t n : {0, 16, 31, 63, 65}) {
    EXPECT_EQ(AesSiv::New(SecretBytes::Random(n == 0 ? 1 : n)).status().code(), StatusCode::kInvalidArgument) << n;
  }
}

}  // namespace
}  // namespace kmsfs::crypto
