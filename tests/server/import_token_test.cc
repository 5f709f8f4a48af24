#include "kms/server/import_token.h"

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

ImportToken SampleToken() {
  ImportToken t;
  t.algorithm = crypto::WrappingAlgorithm::kOaepSha1;
  t.key_id = "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e";
  t.issued_s = 1501492272;
  t.expires_s = 1501578672;
  for (size_t i = 0; i < t.token_id.size(); ++i) t.token_id[i] = static_cast<uint8_t>(i);
  t.public_key_digest = crypto::Sha256(AsBytes("public key"));
  return t;
}

TEST(KmsdImportTokenTest, EncodesToTwoHundredBase64CharactersAndBack) {
  SecretBytes key = SecretBytes::Random(32);
  std::string text = EncodeImportToken(SampleToken(), key);
  EXPECT_EQ(text.size(), 200u);
  EXPECT_TRUE(IsBase64Text(text, 200, 6144));
  auto back = DecodeImportToken(text, key);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key_id, SampleToken().key_id);
  EXPECT_EQ(back->algorithm, crypto::WrappingAlgorithm::kOaepSha1);
  EXPECT_EQ(back->issued_s, 1501492272);
  EXPECT_EQ(back->expires_s, 1501578672);
  EXPECT_EQ(back->token_id, SampleToken().token_id);
  EXPECT_EQ(back->public_key_digest, SampleToken().public_key_digest);
}

TEST(KmsdImportTokenTest, DecodeFailsForAnyAlteredCharacter) {
  SecretBytes key = SecretBytes::Random(32);
  const std::string text = EncodeImportToken(SampleToken(), key);
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    // 150 bytes are exactly 200 characters: every character carries data bits.
    EXPECT_FALSE(DecodeImportToken(bad, key).ok()) << i;
  }
}

TEST(KmsdImportTokenTest, DecodeFailsUnderAnotherKeyOrShape) {
  SecretBytes key = SecretBytes::Random(32);
  std::string text = EncodeImportToken(SampleToken(), key);
  EXPECT_FALSE(DecodeImportToken(text, SecretBytes::Random(32)).ok());
  EXPECT_FALSE(DecodeImportToken(text.substr(0, 196), key).ok());
  EXPECT_FALSE(DecodeImportToken("not base64!", key).ok());
  EXPECT_FALSE(DecodeImportToken("", key).ok());
}

}  // namespace
}  // namespace kmsfs::kms::server
