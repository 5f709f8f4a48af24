#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/hex.h"
#include "tests/testutil/bytes.h"
#include "tests/vectors/hkdf_kat.h"

namespace kmsfs::crypto {
namespace {

using testing::Hex;

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

// RFC 7914 §11, first vector (its first 32 bytes: PBKDF2's first block).
TEST(Pbkdf2Test, MatchesRfc7914Vector) {
  auto out = Pbkdf2Sha256(AsBytes("passwd"), AsBytes("salt"), 1);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(*out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(Pbkdf2Test, MatchesRfc7914VectorWithManyIterations) {
  auto out = Pbkdf2Sha256(AsBytes("Password"), AsBytes("NaCl"), 80000);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(HexEncode(*out), "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56");
}

TEST(Pbkdf2Test, EmptyPasswordAndSaltAreAccepted) {
  auto a = Pbkdf2Sha256({}, {}, 1);
  auto b = Pbkdf2Sha256(AsBytes("x"), {}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(Pbkdf2Test, RejectsNonPositiveIterationCount) {
  EXPECT_FALSE(Pbkdf2Sha256(AsBytes("pw"), AsBytes("salt"), 0).ok());
  EXPECT_FALSE(Pbkdf2Sha256(AsBytes("pw"), AsBytes("salt"), -1).ok());
}

}  // namespace
}  // namespace kmsfs::crypto
