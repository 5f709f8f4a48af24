#include "crypto/aes_gcm_oneshot.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/hex.h"

namespace kmsfs::crypto {
namespace {

SecretBytes Key(uint8_t fill) { return SecretBytes::CopyFrom(std::vector<uint8_t>(kAes256KeySize, fill)); }

// NIST GCM test case 2 (zero key, zero nonce, one zero block).
TEST(AesGcmOneshotTest, MatchesKnownAnswerAndRoundTrips) {
  const SecretBytes key = Key(0);
  std::vector<uint8_t> nonce(12, 0), pt(16, 0), ct(16), tag(16);
  ASSERT_TRUE(AesGcmSeal(key, nonce, pt, {}, ct, tag).ok());
  EXPECT_EQ(HexEncode(ct), "cea7403d4d606b6e074ec5d3baf39d18");
  EXPECT_EQ(HexEncode(tag), "d0d1c8a799996bf0265b98b5d48ab919");
  std::vector<uint8_t> back(16, 0xff);
  ASSERT_TRUE(AesGcmOpen(key, nonce, ct, {}, tag, back).ok());
  EXPECT_EQ(back, pt);
}

TEST(AesGcmOneshotTest, OpenFailsOnWrongAadTagCiphertextOrKeyAndWipesOutput) {
  const SecretBytes key = Key(7);
  std::vector<uint8_t> nonce(12, 1), pt = {1, 2, 3}, ct(3), tag(16), out(3);
  std::vector<uint8_t> aad = {9, 9};
  ASSERT_TRUE(AesGcmSeal(key, nonce, pt, aad, ct, tag).ok());
  std::vector<uint8_t> other_aad = {9, 8};
  EXPECT_EQ(AesGcmOpen(key, nonce, ct, other_aad, tag, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(out, std::vector<uint8_t>(3, 0));
  EXPECT_EQ(AesGcmOpen(Key(8), nonce, ct, aad, tag, out).code(), StatusCode::kDataLoss);
  std::vector<uint8_t> bad_ct = ct;
  bad_ct[0] ^= 1;
  EXPECT_EQ(AesGcmOpen(key, nonce, bad_ct, aad, tag, out).code(), StatusCode::kDataLoss);
  tag[0] ^= 1;
  EXPECT_EQ(AesGcmOpen(key, nonce, ct, aad, tag, out).code(), StatusCode::kDataLoss);
}

TEST(AesGcmOneshotTest, RejectsWrongBufferSizes) {
  const SecretBytes key = Key(1);
  const SecretBytes short_key = SecretBytes::CopyFrom(std::vector<uint8_t>(16, 1));
  std::vector<uint8_t> nonce(12, 0), short_nonce(8, 0), pt(4, 0), ct(4), short_ct(3), tag(16), short_tag(12);
  EXPECT_EQ(AesGcmSeal(short_key, nonce, pt, {}, ct, tag).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmSeal(key, short_nonce, pt, {}, ct, tag).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmSeal(key, nonce, pt, {}, short_ct, tag).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmSeal(key, nonce, pt, {}, ct, short_tag).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(AesGcmSeal(key, nonce, pt, {}, ct, tag).ok());
  std::vector<uint8_t> out(4), short_out(3);
  EXPECT_EQ(AesGcmOpen(key, nonce, ct, {}, tag, short_out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(AesGcmOpen(key, nonce, ct, {}, short_tag, out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kmsfs::crypto
