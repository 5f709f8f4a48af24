#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/hex.h"
#include "tests/vectors/hkdf_kat.h"

namespace kmsfs::crypto {
namespace {

std::vector<uint8_t> Hex(const char* hex) {
  auto v = HexDecode(hex);
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : std::vector<uint8_t>{};
}

class HkdfKatTest : public ::testing::TestWithParam<vectors::HkdfVector> {};

TEST_P(HkdfKatTest, MatchesRfc5869) {
  const auto& v = GetParam();
  auto okm = HkdfSha256(Hex(v.ikm), Hex(v.salt), Hex(v.info), v.length);
  ASSERT_TRUE(okm.ok()) << okm.status().ToString();
  EXPECT_EQ(HexEncode(okm->span()), v.okm);
}

INSTANTIATE_TEST_SUITE_P(Rfc5869, HkdfKatTest, ::testing::ValuesIn(vectors::kHkdfVectors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HkdfTest, RejectsZeroAndOverlongOutput) {
  const std::vector<uint8_t> ikm(32, 1);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(ikm, {}, {}, 255 * 32 + 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(HkdfSha256(ikm, {}, {}, 255 * 32).ok());
}

TEST(HkdfTest, EmptyIkmSaltAndInfoFollowRfc5869) {
  // PRK = HMAC-SHA256(32 zero bytes, ""), OKM = HMAC-SHA256(PRK, 0x01),
  // computed independently with Python's hmac module.
  auto okm = HkdfSha256({}, {}, {}, 32);
  ASSERT_TRUE(okm.ok()) << okm.status().ToString();
  EXPECT_EQ(HexEncode(okm->span()), "eb70f01dede9afafa449eee1b1286504e1f62388b3f7dd4f956697b0e828fe18");
}

TEST(HkdfTest, DifferentSaltGivesDifferentKey) {
  const std::vector<uint8_t> ikm(64, 9);
  const std::vector<uint8_t> salt_a(16, 1), salt_b(16, 2);
  auto a = HkdfSha256(ikm, salt_a, {}, 32);
  auto b = HkdfSha256(ikm, salt_b, {}, 32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->Equals(*b));
}

TEST(Sha256Test, MatchesKnownDigests) {
  const std::string abc = "abc";
  EXPECT_EQ(HexEncode(Sha256({reinterpret_cast<const uint8_t*>(abc.data()), abc.size()})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // The KMS documentation's example: SHA-256 of a 64-byte all-zero DEK.
  const std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(HexEncodeUpper(Sha256(zeros)),
            "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B");
}

TEST(RandomBytesTest, FillsDistinctBuffers) {
  std::vector<uint8_t> a(32), b(32);
  RandomBytes(a);
  RandomBytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<uint8_t>(32, 0));
  RandomBytes({});  // empty is a no-op
}

}  // namespace
}  // namespace kmsfs::crypto
