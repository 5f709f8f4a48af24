// The AES-256-GCM backends give the same bytes: published vectors through
// each, and each one's output opened by the other. AeadSuiteTest (aead_test.cc)
// runs the behavioural tests (tampering, sizes, threads) on every backend.
#include "crypto/aes_gcm_backend.h"

#include <gtest/gtest.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#ifdef KMSFS_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#endif

#include <algorithm>
#include <random>
#include <vector>

#include "base/hex.h"
#include "crypto/aead_testing.h"
#include "tests/testutil/bytes.h"
#include "tests/vectors/aead_kat.h"

namespace kmsfs::crypto {
namespace {

using testing::Hex;

class AesGcmBackendTest : public ::testing::TestWithParam<AesGcmBackend> {
 protected:
  void SetUp() override {
    if (!AesGcmBackendAvailable(GetParam())) {
      GTEST_SKIP() << AesGcmBackendDescription(GetParam()) << " is not available here";
    }
  }
};

TEST_P(AesGcmBackendTest, PublishedVectorsSealAndOpen) {
  int checked = 0;
  for (const auto& v : vectors::kAeadVectors) {
    if (v.suite != CipherSuite::kAes256Gcm) continue;
    SCOPED_TRACE(v.name);
    SecretBytes key = SecretBytes::CopyFrom(Hex(v.key));
    const auto nonce = Hex(v.nonce), ad = Hex(v.ad), plain = Hex(v.plain);
    std::vector<uint8_t> sealed(plain.size() + nonce.size() + Aead::kTagSize);
    ASSERT_TRUE(SealWithNonceForTesting(GetParam(), key, nonce, plain, ad, sealed).ok());
    EXPECT_EQ(HexEncode(sealed), std::string(v.nonce) + v.ciphertext + v.tag);

    auto aead = NewAesGcmAead(GetParam(), key);
    ASSERT_TRUE(aead.ok()) << aead.status().ToString();
    std::vector<uint8_t> opened(plain.size());
    ASSERT_TRUE((*aead)->Open(sealed, ad, opened).ok());
    EXPECT_EQ(opened, plain);
    sealed.back() ^= 0x01;
    EXPECT_EQ((*aead)->Open(sealed, ad, opened).code(), StatusCode::kDataLoss);
    EXPECT_EQ(opened, std::vector<uint8_t>(plain.size(), 0));
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

INSTANTIATE_TEST_SUITE_P(Each, AesGcmBackendTest,
                         ::testing::Values(AesGcmBackend::kOpenSsl, AesGcmBackend::kIpsecMb),
                         [](const auto& info) {
                           return info.param == AesGcmBackend::kOpenSsl ? std::string("OpenSsl")
                                                                        : std::string("IpsecMb");
                         });

TEST(AesGcmBackendsTest, EachOpensWhatTheOtherSealed) {
  if (!AesGcmBackendAvailable(AesGcmBackend::kIpsecMb)) GTEST_SKIP() << "intel-ipsec-mb is not available here";
  SecretBytes key = SecretBytes::Random(32);
  auto openssl = NewAesGcmAead(AesGcmBackend::kOpenSsl, key);
  auto ipsec_mb = NewAesGcmAead(AesGcmBackend::kIpsecMb, key);
  ASSERT_TRUE(openssl.ok() && ipsec_mb.ok());
  std::mt19937_64 rng(7);
  for (size_t size : {0, 1, 15, 16, 17, 255, 256, 257, 4095, 4096, 4097, 65536 + 5}) {
    std::vector<uint8_t> plain(size), ad(rng() % 40);
    std::generate(plain.begin(), plain.end(), [&] { return static_cast<uint8_t>(rng()); });
    std::generate(ad.begin(), ad.end(), [&] { return static_cast<uint8_t>(rng()); });
    for (const auto& [sealer, opener] : {std::pair{openssl->get(), ipsec_mb->get()}, {ipsec_mb->get(), openssl->get()}}) {
      std::vector<uint8_t> sealed(size + sealer->overhead());
      ASSERT_TRUE(sealer->Seal(plain, ad, sealed).ok());
      std::vector<uint8_t> opened(size);
      ASSERT_TRUE(opener->Open(sealed, ad, opened).ok()) << size;
      EXPECT_EQ(opened, plain) << size;
    }
  }
}

#if defined(KMSFS_HAVE_IPSEC_MB) && defined(__x86_64__)
// AVX-512 (with the OS's support, which the builtin checks) and, from CPUID
// leaf 7, VAES (ECX bit 9) and VPCLMULQDQ (ECX bit 10): clang 14's
// __builtin_cpu_supports knows neither of the last two.
bool CpuHasAvx512VaesAndVpclmulqdq() {
  if (!__builtin_cpu_supports("avx512f")) return false;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & (1u << 9)) != 0 && (ecx & (1u << 10)) != 0;
}
#endif

TEST(AesGcmBackendsTest, TheFasterBackendIsPreferredWhereItRuns) {
  EXPECT_TRUE(AesGcmBackendAvailable(AesGcmBackend::kOpenSsl));
  const AesGcmBackend expected =
      AesGcmBackendAvailable(AesGcmBackend::kIpsecMb) ? AesGcmBackend::kIpsecMb : AesGcmBackend::kOpenSsl;
  EXPECT_EQ(PreferredAesGcmBackend(), expected);
  EXPECT_NE(AesGcmBackendDescription(AesGcmBackend::kOpenSsl).find("OpenSSL"), std::string::npos);
  EXPECT_NE(AesGcmBackendDescription(AesGcmBackend::kIpsecMb).find("intel-ipsec-mb"), std::string::npos);
#if defined(KMSFS_HAVE_IPSEC_MB) && defined(__x86_64__)
  // Where the library has its AVX-512 code (VAES and VPCLMULQDQ), it must be in use.
  if (CpuHasAvx512VaesAndVpclmulqdq()) {
    EXPECT_EQ(PreferredAesGcmBackend(), AesGcmBackend::kIpsecMb);
    EXPECT_NE(AesGcmBackendDescription(AesGcmBackend::kIpsecMb).find("AVX-512"), std::string::npos);
  }
#endif
}

#ifdef KMSFS_HAVE_IPSEC_MB
// The library's expanded key and GHASH powers are key material: they are
// wiped when the Aead goes.
int g_key_data_freed = 0;
bool g_key_data_was_zero = true;

TEST(AesGcmBackendsTest, IpsecMbKeyDataIsWipedWhenTheAeadGoes) {
  if (!AesGcmBackendAvailable(AesGcmBackend::kIpsecMb)) GTEST_SKIP() << "intel-ipsec-mb is not available here";
  auto aead = NewAesGcmAead(AesGcmBackend::kIpsecMb, SecretBytes::Random(32));
  ASSERT_TRUE(aead.ok());
  std::vector<uint8_t> sealed(16 + (*aead)->overhead());
  ASSERT_TRUE((*aead)->Seal(std::vector<uint8_t>(16, 1), {}, sealed).ok());
  g_key_data_freed = 0;
  g_key_data_was_zero = true;
  SetSecretFreeHookForTesting(+[](const uint8_t* data, size_t size) {
    if (size != sizeof(gcm_key_data)) return;
    ++g_key_data_freed;
    g_key_data_was_zero = g_key_data_was_zero && std::all_of(data, data + size, [](uint8_t b) { return b == 0; });
  });
  aead->reset();
  SetSecretFreeHookForTesting(nullptr);
  EXPECT_EQ(g_key_data_freed, 1);
  EXPECT_TRUE(g_key_data_was_zero);
}
#endif

}  // namespace
}  // namespace kmsfs::crypto
