#include "kms/server/crypto_util.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "base/hex.h"

namespace kmsfs::kms::server {
namespace {


TEST(KmsdCryptoUtilTest, Sha256OfSixtyFourZerosMatchesDocumentedDigest) {
  std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(HexEncodeUpper(Sha256(zeros)), "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B");
}

TEST(KmsdCryptoUtilTest, HmacSha256MatchesRfc4231Case2) {
  Digest mac = HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"));
  EXPECT_EQ(HexEncode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// A key longer than SHA-256's block is hashed first (RFC 4231 case 6).
TEST(KmsdCryptoUtilTest, HmacSha256MatchesRfc4231Case6) {
  std::vector<uint8_t> key(131, 0xaa);
  Digest mac = HmacSha256(key, AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"));
  EXPECT_EQ(HexEncode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(KmsdCryptoUtilTest, HkdfMatchesRfc5869Case3) {
  std::vector<uint8_t> ikm(22, 0x0b);
  auto okm = HkdfSha256(ikm, "", 42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(okm->span()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(KmsdCryptoUtilTest, AesGcmMatchesKnownAnswerAndRoundTrips) {
  std::vector<uint8_t> key(32, 0), nonce(12, 0), pt(16, 0), ct(16), tag(16);
  ASSERT_TRUE(AesGcmSeal(key, nonce, pt, {}, ct, tag).ok());
  EXPECT_EQ(HexEncode(ct), "cea7403d4d606b6e074ec5d3baf39d18");
  EXPECT_EQ(HexEncode(tag), "d0d1c8a799996bf0265b98b5d48ab919");
  std::vector<uint8_t> back(16, 0xff);
  ASSERT_TRUE(AesGcmOpen(key, nonce, ct, {}, tag, back).ok());
  EXPECT_EQ(back, pt);
}

TEST(KmsdCryptoUtilTest, AesGcmOpenFailsOnWrongAadOrTag) {
  std::vector<uint8_t> key(32, 7), nonce(12, 1), pt = {1, 2, 3}, ct(3), tag(16), out(3);
  std::vector<uint8_t> aad = {9, 9};
  ASSERT_TRUE(AesGcmSeal(key, nonce, pt, aad, ct, tag).ok());
  std::vector<uint8_t> other_aad = {9, 8};
  EXPECT_FALSE(AesGcmOpen(key, nonce, ct, other_aad, tag, out).ok());
  tag[0] ^= 1;
  EXPECT_FALSE(AesGcmOpen(key, nonce, ct, aad, tag, out).ok());
}

TEST(KmsdCryptoUtilTest, Base64MatchesRfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), enc);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(std::string(dec->begin(), dec->end()), plain);
  }
}

TEST(KmsdCryptoUtilTest, Base64DecodeIsStrict) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zg==Zg==", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9", "Zm-_"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << bad;
  }
}

TEST(KmsdCryptoUtilTest, WrappingAlgorithmNamesRoundTrip) {
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    EXPECT_EQ(ParseWrappingAlgorithm(WrappingAlgorithmName(alg)), alg);
  }
  EXPECT_FALSE(ParseWrappingAlgorithm("SM2_ENCRYPT"));
}

// Wraps `material` with the DER public key, as a BYOK client would.
std::vector<uint8_t> Wrap(const std::vector<uint8_t>& spki, WrappingAlgorithm alg, const std::vector<uint8_t>& m) {
  const unsigned char* p = spki.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())),
                                                          EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY_encrypt_init(ctx.get());
  if (alg == WrappingAlgorithm::kPkcs1V15) {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
  } else {
    const EVP_MD* md = alg == WrappingAlgorithm::kOaepSha256 ? EVP_sha256() : EVP_sha1();
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md);
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md);
  }
  size_t len = 0;
  EVP_PKEY_encrypt(ctx.get(), nullptr, &len, m.data(), m.size());
  std::vector<uint8_t> out(len);
  EVP_PKEY_encrypt(ctx.get(), out.data(), &len, m.data(), m.size());
  out.resize(len);
  return out;
}

TEST(KmsdCryptoUtilTest, RsaUnwrapsMaterialForEveryWrappingAlgorithm) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  std::vector<uint8_t> material = RandomVector(32);
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    std::vector<uint8_t> wrapped = Wrap(pair->public_spki_der, alg, material);
    ASSERT_EQ(wrapped.size(), 256u);
    auto out = RsaDecrypt(pair->private_der, alg, wrapped);
    ASSERT_TRUE(out.ok()) << WrappingAlgorithmName(alg);
    EXPECT_TRUE(out->Equals(material));
  }
}

TEST(KmsdCryptoUtilTest, RsaUnwrapFailsUnderAnotherAlgorithm) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  std::vector<uint8_t> wrapped = Wrap(pair->public_spki_der, WrappingAlgorithm::kOaepSha256, RandomVector(32));
  EXPECT_FALSE(RsaDecrypt(pair->private_der, WrappingAlgorithm::kOaepSha1, wrapped).ok());
  std::vector<uint8_t> garbage = RandomVector(256);
  EXPECT_FALSE(RsaDecrypt(pair->private_der, WrappingAlgorithm::kOaepSha256, garbage).ok());
}

// Encrypts the raw 256-byte block `em` with the public key (no padding), to
// build RSAES-PKCS1-v1_5 ciphertexts a normal encoder would not make.
std::vector<uint8_t> RawEncrypt(const std::vector<uint8_t>& spki, const std::vector<uint8_t>& em) {
  const unsigned char* p = spki.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())),
                                                          EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY_encrypt_init(ctx.get());
  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING);
  size_t len = 256;
  std::vector<uint8_t> out(len);
  EXPECT_EQ(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, em.data(), em.size()), 1);
  return out;
}

// 00 02, 221 non-zero padding bytes, 00, then 32 bytes of material.
std::vector<uint8_t> Pkcs1Block(const std::vector<uint8_t>& material) {
  std::vector<uint8_t> em(256, 0x5A);
  em[0] = 0x00;
  em[1] = 0x02;
  em[256 - 33] = 0x00;
  std::copy(material.begin(), material.end(), em.end() - 32);
  return em;
}

TEST(KmsdCryptoUtilTest, UnwrapKeyMaterialAcceptsExactlyWellFormedMaterial) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  const std::vector<uint8_t> material = RandomVector(32);
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    auto out = UnwrapKeyMaterial(pair->private_der, alg, Wrap(pair->public_spki_der, alg, material), 32);
    ASSERT_TRUE(out.ok()) << WrappingAlgorithmName(alg);
    EXPECT_TRUE(out->Equals(material));
  }
  auto hand_made = UnwrapKeyMaterial(pair->private_der, WrappingAlgorithm::kPkcs1V15,
                                     RawEncrypt(pair->public_spki_der, Pkcs1Block(material)), 32);
  ASSERT_TRUE(hand_made.ok());
  EXPECT_TRUE(hand_made->Equals(material));
}

TEST(KmsdCryptoUtilTest, EveryUnwrapFailureIsTheSameStatus) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  const std::vector<uint8_t>& spki = pair->public_spki_der;
  const std::vector<uint8_t> material = RandomVector(32);
  std::vector<std::pair<std::string, Status>> failures;
  auto unwrap = [&](const std::string& what, WrappingAlgorithm alg, const std::vector<uint8_t>& ct) {
    failures.emplace_back(what, UnwrapKeyMaterial(pair->private_der, alg, ct, 32).status());
  };
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    const std::string name(WrappingAlgorithmName(alg));
    for (size_t length : {0u, 1u, 31u, 33u, 100u}) {
      unwrap(name + " length " + std::to_string(length), alg, Wrap(spki, alg, RandomVector(length)));
    }
    unwrap(name + " random block", alg, RandomVector(256));
    unwrap(name + " short ciphertext", alg, RandomVector(255));
    unwrap(name + " long ciphertext", alg, RandomVector(257));
    unwrap(name + " not below the modulus", alg, std::vector<uint8_t>(256, 0xFF));
    const auto other = alg == WrappingAlgorithm::kPkcs1V15 ? WrappingAlgorithm::kOaepSha256 : WrappingAlgorithm::kPkcs1V15;
    unwrap(name + " other algorithm", alg, Wrap(spki, other, material));
  }
  // RSAES-PKCS1-v1_5 blocks that are right but for one detail.
  std::vector<uint8_t> em = Pkcs1Block(material);
  em[0] = 0x01;
  unwrap("PKCS1 first byte", WrappingAlgorithm::kPkcs1V15, RawEncrypt(spki, em));
  em = Pkcs1Block(material);
  em[1] = 0x01;
  unwrap("PKCS1 block type 1", WrappingAlgorithm::kPkcs1V15, RawEncrypt(spki, em));
  em = Pkcs1Block(material);
  em[100] = 0x00;  // a zero inside the padding: a standard decoder sees a 155-byte message
  unwrap("PKCS1 zero in padding", WrappingAlgorithm::kPkcs1V15, RawEncrypt(spki, em));
  em = Pkcs1Block(material);
  em[256 - 33] = 0x01;  // no separator where 32 bytes of material would start
  unwrap("PKCS1 no separator", WrappingAlgorithm::kPkcs1V15, RawEncrypt(spki, em));

  for (const auto& [what, st] : failures) {
    SCOPED_TRACE(what);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), failures.front().second.message());
  }
}

}  // namespace
}  // namespace kmsfs::kms::server
