#include "crypto/rsa.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/random.h"

namespace kmsfs::crypto {
namespace {

TEST(RsaTest, WrappingAlgorithmNamesRoundTrip) {
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

TEST(RsaTest, RsaUnwrapsMaterialForEveryWrappingAlgorithm) {
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

TEST(RsaTest, RsaUnwrapFailsUnderAnotherAlgorithm) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  std::vector<uint8_t> wrapped = Wrap(pair->public_spki_der, WrappingAlgorithm::kOaepSha256, RandomVector(32));
  EXPECT_FALSE(RsaDecrypt(pair->private_der, WrappingAlgorithm::kOaepSha1, wrapped).ok());
  std::vector<uint8_t> garbage = RandomVector(256);
  EXPECT_FALSE(RsaDecrypt(pair->private_der, WrappingAlgorithm::kOaepSha256, garbage).ok());
}

TEST(RsaTest, EncryptThenDecryptRoundTripsForEveryWrappingAlgorithm) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  const std::vector<uint8_t> material = RandomVector(32);
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    SCOPED_TRACE(WrappingAlgorithmName(alg));
    auto wrapped = RsaEncrypt(pair->public_spki_der, alg, material);
    ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    ASSERT_EQ(wrapped->size(), 256u);
    auto back = UnwrapKeyMaterial(pair->private_der, alg, *wrapped, material.size());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(back->Equals(material));
    // And the independent encoder above agrees on the format.
    auto reference = RsaDecrypt(pair->private_der, alg, Wrap(pair->public_spki_der, alg, material));
    ASSERT_TRUE(reference.ok());
    EXPECT_TRUE(reference->Equals(material));
  }
}

TEST(RsaTest, EncryptIsRandomized) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  const std::vector<uint8_t> material(32, 7);
  for (auto alg : {WrappingAlgorithm::kOaepSha256, WrappingAlgorithm::kOaepSha1, WrappingAlgorithm::kPkcs1V15}) {
    EXPECT_NE(RsaEncrypt(pair->public_spki_der, alg, material).value(),
              RsaEncrypt(pair->public_spki_der, alg, material).value());
  }
}

TEST(RsaTest, EncryptRejectsAPublicKeyThatIsNotDer) {
  const std::vector<uint8_t> not_der = {0x30, 0x03, 0x02, 0x01};
  auto out = RsaEncrypt(not_der, WrappingAlgorithm::kOaepSha256, std::vector<uint8_t>(32, 1));
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaEncrypt({}, WrappingAlgorithm::kOaepSha256, std::vector<uint8_t>(32, 1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RsaTest, EncryptRejectsMaterialTooLongForTheKey) {
  auto pair = GenerateRsa2048();
  ASSERT_TRUE(pair.ok());
  // OAEP-SHA-256 under RSA-2048 carries at most 256 - 2*32 - 2 = 190 bytes.
  EXPECT_TRUE(RsaEncrypt(pair->public_spki_der, WrappingAlgorithm::kOaepSha256, RandomVector(190)).ok());
  EXPECT_FALSE(RsaEncrypt(pair->public_spki_der, WrappingAlgorithm::kOaepSha256, RandomVector(191)).ok());
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

TEST(RsaTest, UnwrapKeyMaterialAcceptsExactlyWellFormedMaterial) {
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

TEST(RsaTest, EveryUnwrapFailureIsTheSameStatus) {
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
}  // namespace kmsfs::crypto
