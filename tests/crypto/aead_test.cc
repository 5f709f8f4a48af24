#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "crypto/aead_testing.h"
#include "crypto/aes_gcm_backend.h"
#include "tests/testutil/bytes.h"
#include "tests/vectors/aead_kat.h"

namespace kmsfs::crypto {

void PrintTo(CipherSuite suite, std::ostream* os) { *os << CipherSuiteName(suite); }

namespace {

using testing::Hex;

std::unique_ptr<Aead> MakeAead(CipherSuite suite, const SecretBytes& key) {
  auto aead = Aead::New(suite, key);
  EXPECT_TRUE(aead.ok()) << aead.status().ToString();
  return std::move(aead).value();
}

std::vector<uint8_t> SeededBytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

class AeadKatTest : public ::testing::TestWithParam<vectors::AeadVector> {};

TEST_P(AeadKatTest, SealWithFixedNonceMatchesPublishedVector) {
  const auto& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(Hex(v.key));
  const auto nonce = Hex(v.nonce), ad = Hex(v.ad), plain = Hex(v.plain);
  std::vector<uint8_t> out(plain.size() + nonce.size() + Aead::kTagSize);
  ASSERT_TRUE(SealWithNonceForTesting(v.suite, key, nonce, plain, ad, out).ok());
  EXPECT_EQ(HexEncode(out), std::string(v.nonce) + v.ciphertext + v.tag);
}

TEST_P(AeadKatTest, OpenOfPublishedVectorYieldsPlaintext) {
  const auto& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(Hex(v.key));
  auto aead = MakeAead(v.suite, key);
  const auto sealed = Hex((std::string(v.nonce) + v.ciphertext + v.tag).c_str());
  std::vector<uint8_t> out(sealed.size() - aead->overhead());
  ASSERT_TRUE(aead->Open(sealed, Hex(v.ad), out).ok());
  EXPECT_EQ(HexEncode(out), v.plain);
}

TEST_P(AeadKatTest, OpenFailsWhenPublishedTagIsAltered) {
  const auto& v = GetParam();
  SecretBytes key = SecretBytes::CopyFrom(Hex(v.key));
  auto aead = MakeAead(v.suite, key);
  auto sealed = Hex((std::string(v.nonce) + v.ciphertext + v.tag).c_str());
  sealed.back() ^= 0x01;
  std::vector<uint8_t> out(sealed.size() - aead->overhead());
  EXPECT_EQ(aead->Open(sealed, Hex(v.ad), out).code(), StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Published, AeadKatTest, ::testing::ValuesIn(vectors::kAeadVectors),
                         [](const auto& info) { return std::string(info.param.name); });

// A suite, and for AES-256-GCM the library that computes it: every backend
// must pass the same tests.
struct Implementation {
  CipherSuite suite;
  AesGcmBackend backend;  // ignored for XChaCha
  const char* name;
};

void PrintTo(const Implementation& impl, std::ostream* os) { *os << impl.name; }

StatusOr<std::unique_ptr<Aead>> NewAeadOf(const Implementation& impl, const SecretBytes& key) {
  if (impl.suite == CipherSuite::kAes256Gcm) return NewAesGcmAead(impl.backend, key);
  return Aead::New(impl.suite, key);
}

class AeadSuiteTest : public ::testing::TestWithParam<Implementation> {
 protected:
  void SetUp() override {
    if (GetParam().suite == CipherSuite::kAes256Gcm && !AesGcmBackendAvailable(GetParam().backend)) {
      GTEST_SKIP() << AesGcmBackendDescription(GetParam().backend) << " is not available here";
    }
  }
  std::unique_ptr<Aead> MakeAead(const SecretBytes& key) {
    auto aead = NewAeadOf(GetParam(), key);
    EXPECT_TRUE(aead.ok()) << aead.status().ToString();
    return aead.ok() ? std::move(aead).value() : nullptr;
  }
  SecretBytes key_ = SecretBytes::Random(32);
};

TEST_P(AeadSuiteTest, ReportsSuiteAndSizes) {
  auto aead = MakeAead(key_);
  EXPECT_EQ(aead->suite(), GetParam().suite);
  EXPECT_EQ(aead->nonce_size(), GetParam().suite == CipherSuite::kAes256Gcm ? 12u : 24u);
  EXPECT_EQ(aead->nonce_size(), NonceSize(GetParam().suite));
  EXPECT_EQ(aead->overhead(), aead->nonce_size() + 16);
}

TEST_P(AeadSuiteTest, RoundTripsRandomSizes) {
  auto aead = MakeAead(key_);
  std::mt19937_64 rng(42);
  for (size_t size : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{4096},
                      size_t{65536 + 3}}) {
    for (int i = 0; i < 3; ++i) {
      const size_t n = i == 0 ? size : rng() % 10000;
      const auto plain = SeededBytes(rng, n);
      const auto ad = SeededBytes(rng, rng() % 64);
      std::vector<uint8_t> sealed(n + aead->overhead());
      ASSERT_TRUE(aead->Seal(plain, ad, sealed).ok());
      std::vector<uint8_t> opened(n);
      ASSERT_TRUE(aead->Open(sealed, ad, opened).ok()) << n;
      EXPECT_EQ(opened, plain);
    }
  }
}

TEST_P(AeadSuiteTest, EverySealUsesAFreshNonzeroNonce) {
  auto aead = MakeAead(key_);
  const std::vector<uint8_t> plain(32, 0x5a);
  std::set<std::vector<uint8_t>> nonces;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> sealed(plain.size() + aead->overhead());
    ASSERT_TRUE(aead->Seal(plain, {}, sealed).ok());
    std::vector<uint8_t> nonce(sealed.begin(), sealed.begin() + aead->nonce_size());
    EXPECT_NE(nonce, std::vector<uint8_t>(aead->nonce_size(), 0));
    nonces.insert(nonce);
  }
  EXPECT_EQ(nonces.size(), 2000u);
}

TEST_P(AeadSuiteTest, OpenFailsWhenAnyByteIsFlipped) {
  auto aead = MakeAead(key_);
  const std::vector<uint8_t> plain = {'s', 'e', 'c', 'r', 'e', 't', ' ', 'd', 'a', 't', 'a'};
  const std::vector<uint8_t> ad = {1, 2, 3};
  std::vector<uint8_t> sealed(plain.size() + aead->overhead());
  ASSERT_TRUE(aead->Seal(plain, ad, sealed).ok());
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto bad = sealed;
      bad[i] ^= bit;
      std::vector<uint8_t> out(plain.size(), 0xaa);
      EXPECT_EQ(aead->Open(bad, ad, out).code(), StatusCode::kDataLoss) << "byte " << i;
      EXPECT_EQ(out, std::vector<uint8_t>(plain.size(), 0)) << "plaintext left behind, byte " << i;
    }
  }
}

TEST_P(AeadSuiteTest, OpenFailsWhenAssociatedDataDiffers) {
  auto aead = MakeAead(key_);
  const std::vector<uint8_t> plain(100, 7);
  std::vector<uint8_t> sealed(plain.size() + aead->overhead());
  ASSERT_TRUE(aead->Seal(plain, std::vector<uint8_t>{1, 2, 3}, sealed).ok());
  std::vector<uint8_t> out(plain.size());
  EXPECT_EQ(aead->Open(sealed, std::vector<uint8_t>{1, 2, 4}, out).code(), StatusCode::kDataLoss);
  EXPECT_EQ(aead->Open(sealed, {}, out).code(), StatusCode::kDataLoss);
}

TEST_P(AeadSuiteTest, OpenFailsUnderAnotherKey) {
  auto aead = MakeAead(key_);
  auto other = MakeAead(SecretBytes::Random(32));
  const std::vector<uint8_t> plain(100, 7);
  std::vector<uint8_t> sealed(plain.size() + aead->overhead());
  ASSERT_TRUE(aead->Seal(plain, {}, sealed).ok());
  std::vector<uint8_t> out(plain.size());
  EXPECT_EQ(other->Open(sealed, {}, out).code(), StatusCode::kDataLoss);
}

TEST_P(AeadSuiteTest, RejectsWrongBufferSizes) {
  auto aead = MakeAead(key_);
  const std::vector<uint8_t> plain(10);
  std::vector<uint8_t> sealed(plain.size() + aead->overhead() - 1);
  EXPECT_EQ(aead->Seal(plain, {}, sealed).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> short_sealed(aead->overhead() - 1);
  std::vector<uint8_t> out;
  EXPECT_EQ(aead->Open(short_sealed, {}, out).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> ok_sealed(plain.size() + aead->overhead());
  ASSERT_TRUE(aead->Seal(plain, {}, ok_sealed).ok());
  std::vector<uint8_t> wrong_out(plain.size() + 1);
  EXPECT_EQ(aead->Open(ok_sealed, {}, wrong_out).code(), StatusCode::kInvalidArgument);
}

TEST_P(AeadSuiteTest, RejectsKeysThatAreNot32Bytes) {
  EXPECT_EQ(NewAeadOf(GetParam(), SecretBytes::Random(16)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NewAeadOf(GetParam(), SecretBytes::Random(64)).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AeadSuiteTest, ConcurrentSealAndOpenOnOneObjectAgree) {
  auto aead = MakeAead(key_);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 200; ++i) {
        const auto plain = SeededBytes(rng, rng() % 5000);
        const std::vector<uint8_t> ad = {static_cast<uint8_t>(t), static_cast<uint8_t>(i)};
        std::vector<uint8_t> sealed(plain.size() + aead->overhead());
        std::vector<uint8_t> out(plain.size());
        if (!aead->Seal(plain, ad, sealed).ok() || !aead->Open(sealed, ad, out).ok() ||
            out != plain) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(EveryImplementation, AeadSuiteTest,
                         ::testing::Values(Implementation{CipherSuite::kAes256Gcm, AesGcmBackend::kOpenSsl,
                                                          "AesGcmOpenSsl"},
                                           Implementation{CipherSuite::kAes256Gcm, AesGcmBackend::kIpsecMb,
                                                          "AesGcmIpsecMb"},
                                           Implementation{CipherSuite::kXChaCha20Poly1305, AesGcmBackend::kOpenSsl,
                                                          "XChaCha"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CipherSuiteTest, NamesRoundTrip) {
  for (CipherSuite s : {CipherSuite::kAes256Gcm, CipherSuite::kXChaCha20Poly1305}) {
    auto back = CipherSuiteFromName(CipherSuiteName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
    auto by_id = CipherSuiteFromId(static_cast<uint8_t>(s));
    ASSERT_TRUE(by_id.ok());
    EXPECT_EQ(*by_id, s);
  }
  EXPECT_EQ(CipherSuiteName(CipherSuite::kAes256Gcm), "AES-256-GCM");
  EXPECT_EQ(CipherSuiteName(CipherSuite::kXChaCha20Poly1305), "XChaCha20-Poly1305");
}

TEST(CipherSuiteTest, UnknownNamesAndIdsAreRejected) {
  EXPECT_FALSE(CipherSuiteFromName("aes-256-gcm").ok());
  EXPECT_FALSE(CipherSuiteFromName("").ok());
  EXPECT_FALSE(CipherSuiteFromName("ChaCha20-Poly1305").ok());
  EXPECT_FALSE(CipherSuiteFromId(0).ok());
  EXPECT_FALSE(CipherSuiteFromId(3).ok());
  EXPECT_FALSE(CipherSuiteFromId(255).ok());
}

TEST(CipherSuiteTest, PreferenceFollowsCpuFeatures) {
  EXPECT_EQ(PreferredCipherSuiteFor({true, true}), CipherSuite::kAes256Gcm);
  EXPECT_EQ(PreferredCipherSuiteFor({true, false}), CipherSuite::kXChaCha20Poly1305);
  EXPECT_EQ(PreferredCipherSuiteFor({false, true}), CipherSuite::kXChaCha20Poly1305);
  EXPECT_EQ(PreferredCipherSuiteFor({false, false}), CipherSuite::kXChaCha20Poly1305);
  EXPECT_EQ(PreferredCipherSuite(), PreferredCipherSuiteFor(DetectCpuAeadFeatures()));
#if defined(__x86_64__)
  const bool has = __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
  EXPECT_EQ(PreferredCipherSuite(),
            has ? CipherSuite::kAes256Gcm : CipherSuite::kXChaCha20Poly1305);
#endif
}

}  // namespace
}  // namespace kmsfs::crypto
