#include "kms/server/envelope.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/hex.h"

namespace kmsfs::kms::server {
namespace {

constexpr std::string_view kKeyId = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
constexpr std::string_view kContext = R"({"kmsfs_file_id":"00112233"})";

class KmsdEnvelopeTest : public ::testing::Test {
 protected:
  SecretBytes material_ = SecretBytes::Random(32);
  SecretBytes dek_ = SecretBytes::Random(64);

  std::vector<uint8_t> SealDek(uint32_t version = 0, std::string_view ctx = kContext) {
    auto env = SealEnvelope(material_, kKeyId, version, EnvelopeKind::kDataKey, dek_.span(), ctx);
    EXPECT_TRUE(env.ok());
    return env.ok() ? *env : std::vector<uint8_t>();
  }
};

TEST_F(KmsdEnvelopeTest, DataKeyEnvelopeHasDocumentedLayout) {
  std::vector<uint8_t> env = SealDek();
  ASSERT_EQ(env.size(), 188u);  // 376 hex characters, as in the documented examples
  EXPECT_EQ(HexEncodeUpper(std::span<const uint8_t>(env).first(4)), "02009800");
  EXPECT_EQ(std::string(env.begin() + 116, env.begin() + 152), kKeyId);
  EXPECT_EQ(HexEncode(std::span<const uint8_t>(env).subspan(152, 4)), "00000000");
  // Padding between the tag and the key id is zero.
  for (size_t i = 96; i < 116; ++i) EXPECT_EQ(env[i], 0) << i;
}

TEST_F(KmsdEnvelopeTest, DataEnvelopeOverheadIs140Bytes) {
  std::string text = "12345678";
  auto env = SealEnvelope(material_, kKeyId, 0, EnvelopeKind::kData, AsBytes(text), "");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->size(), text.size() + 140);
  EXPECT_EQ(EnvelopeSize(EnvelopeKind::kData, 4096), 4236u);
  // 2 + 2: version and little-endian length of everything but the last 36 bytes.
  EXPECT_EQ((*env)[2] | ((*env)[3] << 8), static_cast<int>(env->size() - 36));
}

TEST_F(KmsdEnvelopeTest, OpenReturnsThePlaintext) {
  std::vector<uint8_t> env = SealDek();
  auto out = OpenEnvelope(material_, env, EnvelopeKind::kDataKey, kContext);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->Equals(dek_));
}

// kmsd keeps the derived keys of a material version: sealing and opening
// with them is the same as with the material, either way round.
TEST_F(KmsdEnvelopeTest, KeysDerivedOnceSealAndOpenAsTheMaterialDoes) {
  auto keys = DeriveEnvelopeKeys(material_);
  ASSERT_TRUE(keys.ok());
  auto sealed_with_keys = SealEnvelope(*keys, kKeyId, 3, EnvelopeKind::kDataKey, dek_.span(), kContext);
  ASSERT_TRUE(sealed_with_keys.ok());
  auto opened = OpenEnvelope(material_, *sealed_with_keys, EnvelopeKind::kDataKey, kContext);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE(opened->Equals(dek_));
  auto opened_with_keys = OpenEnvelope(*keys, SealDek(3), EnvelopeKind::kDataKey, kContext);
  ASSERT_TRUE(opened_with_keys.ok());
  EXPECT_TRUE(opened_with_keys->Equals(dek_));
  auto other = DeriveEnvelopeKeys(SecretBytes::Random(32));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(OpenEnvelope(*other, *sealed_with_keys, EnvelopeKind::kDataKey, kContext).ok());
  EXPECT_FALSE(DeriveEnvelopeKeys(SecretBytes::Random(16)).ok()) << "material must be an AES-256 key";
}

TEST_F(KmsdEnvelopeTest, TwoSealsOfTheSameKeyDiffer) {
  EXPECT_NE(SealDek(), SealDek());
}

TEST_F(KmsdEnvelopeTest, VersionIsStoredLittleEndian) {
  std::vector<uint8_t> env = SealDek(0x01020304);
  EXPECT_EQ(HexEncode(std::span<const uint8_t>(env).subspan(152, 4)), "04030201");
  auto info = InspectEnvelope(env, EnvelopeKind::kDataKey);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, 0x01020304u);
  EXPECT_EQ(info->key_id, kKeyId);
  EXPECT_EQ(info->plaintext_size, 64u);
}

TEST_F(KmsdEnvelopeTest, OpenFailsWhenAnyByteIsFlipped) {
  const std::vector<uint8_t> env = SealDek();
  for (size_t i = 0; i < env.size(); ++i) {
    std::vector<uint8_t> bad = env;
    bad[i] ^= 0x01;
    EXPECT_FALSE(OpenEnvelope(material_, bad, EnvelopeKind::kDataKey, kContext).ok()) << "byte " << i;
  }
}

TEST_F(KmsdEnvelopeTest, OpenFailsWithAnotherContext) {
  std::vector<uint8_t> env = SealDek();
  EXPECT_FALSE(OpenEnvelope(material_, env, EnvelopeKind::kDataKey, "").ok());
  EXPECT_FALSE(OpenEnvelope(material_, env, EnvelopeKind::kDataKey, R"({"kmsfs_file_id":"00112234"})").ok());
}

TEST_F(KmsdEnvelopeTest, OpenFailsWithAnotherKeyMaterial) {
  std::vector<uint8_t> env = SealDek();
  SecretBytes other = SecretBytes::Random(32);
  EXPECT_FALSE(OpenEnvelope(other, env, EnvelopeKind::kDataKey, kContext).ok());
}

TEST_F(KmsdEnvelopeTest, OpenFailsAsTheOtherKind) {
  std::vector<uint8_t> env = SealDek();
  EXPECT_FALSE(OpenEnvelope(material_, env, EnvelopeKind::kData, kContext).ok());
}

TEST_F(KmsdEnvelopeTest, InspectRejectsTruncatedAndExtendedEnvelopes) {
  std::vector<uint8_t> env = SealDek();
  for (size_t n : {size_t{0}, size_t{4}, size_t{124}, env.size() - 1}) {
    std::vector<uint8_t> cut(env.begin(), env.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(InspectEnvelope(cut, EnvelopeKind::kDataKey).ok()) << n;
  }
  std::vector<uint8_t> longer = env;
  longer.push_back(0);
  EXPECT_FALSE(InspectEnvelope(longer, EnvelopeKind::kDataKey).ok());
}

TEST_F(KmsdEnvelopeTest, InspectRejectsUnknownVersionAndMalformedKeyId) {
  std::vector<uint8_t> env = SealDek();
  std::vector<uint8_t> v3 = env;
  v3[0] = 0x03;
  EXPECT_FALSE(InspectEnvelope(v3, EnvelopeKind::kDataKey).ok());
  std::vector<uint8_t> bad_id = env;
  bad_id[116] = 'X';
  EXPECT_FALSE(InspectEnvelope(bad_id, EnvelopeKind::kDataKey).ok());
}

TEST_F(KmsdEnvelopeTest, SealRejectsEmptyPlaintextAndBadKeyId) {
  EXPECT_FALSE(SealEnvelope(material_, kKeyId, 0, EnvelopeKind::kData, {}, "").ok());
  EXPECT_FALSE(SealEnvelope(material_, "short", 0, EnvelopeKind::kData, AsBytes("x"), "").ok());
}

}  // namespace
}  // namespace kmsfs::kms::server
