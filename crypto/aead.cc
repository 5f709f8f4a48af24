#include "crypto/aead.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <string>

#include "crypto/aes_gcm_aead.h"
#include "crypto/aes_gcm_backend.h"
#include "crypto/nonce_source.h"
#include "crypto/xchacha_aead.h"

namespace kmsfs::crypto {
namespace {

constexpr std::string_view kAesGcmName = "AES-256-GCM";
constexpr std::string_view kXChaChaName = "XChaCha20-Poly1305";

}  // namespace

std::string_view CipherSuiteName(CipherSuite suite) {
  switch (suite) {
    case CipherSuite::kAes256Gcm:
      return kAesGcmName;
    case CipherSuite::kXChaCha20Poly1305:
      return kXChaChaName;
  }
  return "unknown";
}

StatusOr<CipherSuite> CipherSuiteFromName(std::string_view name) {
  if (name == kAesGcmName) return CipherSuite::kAes256Gcm;
  if (name == kXChaChaName) return CipherSuite::kXChaCha20Poly1305;
  return Status::InvalidArgument("unknown cipher suite \"" + std::string(name.substr(0, 64)) +
                                 "\" (known: AES-256-GCM, XChaCha20-Poly1305)");
}

StatusOr<CipherSuite> CipherSuiteFromId(uint8_t id) {
  switch (id) {
    case static_cast<uint8_t>(CipherSuite::kAes256Gcm):
      return CipherSuite::kAes256Gcm;
    case static_cast<uint8_t>(CipherSuite::kXChaCha20Poly1305):
      return CipherSuite::kXChaCha20Poly1305;
    default:
      return Status::InvalidArgument("unknown cipher suite id " + std::to_string(id));
  }
}

size_t NonceSize(CipherSuite suite) {
  return suite == CipherSuite::kAes256Gcm ? AesGcmAead::kNonceSize
                                          : XChaCha20Poly1305Aead::kNonceSize;
}

CpuAeadFeatures DetectCpuAeadFeatures() {
  CpuAeadFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0) {
    f.aes = (ecx & bit_AES) != 0;
    f.clmul = (ecx & bit_PCLMUL) != 0;
  }
#elif defined(__aarch64__)
  const unsigned long caps = getauxval(AT_HWCAP);  // NOLINT(runtime/int)
  f.aes = (caps & HWCAP_AES) != 0;
  f.clmul = (caps & HWCAP_PMULL) != 0;
#endif
  return f;
}

CipherSuite PreferredCipherSuiteFor(const CpuAeadFeatures& features) {
  return features.aes && features.clmul ? CipherSuite::kAes256Gcm : CipherSuite::kXChaCha20Poly1305;
}

CipherSuite PreferredCipherSuite() {
  static const CipherSuite suite = PreferredCipherSuiteFor(DetectCpuAeadFeatures());
  return suite;
}

Status Aead::Seal(std::span<const uint8_t> plain, std::span<const uint8_t> ad, std::span<uint8_t> out) const {
  if (out.size() != plain.size() + overhead()) {
    return Status::InvalidArgument(std::string(CipherSuiteName(suite())) + " seal: output size must be input + " +
                                   std::to_string(overhead()));
  }
  uint8_t nonce[kMaxNonceSize];
  const std::span<uint8_t> fresh(nonce, nonce_size());
  KMSFS_RETURN_IF_ERROR(FillNonce(fresh, *nonce_random_));
  return SealWithNonce(fresh, plain, ad, out);
}

StatusOr<std::unique_ptr<Aead>> Aead::New(CipherSuite suite, const SecretBytes& key, RandomSource& nonce_random) {
  std::unique_ptr<Aead> aead;
  switch (suite) {
    case CipherSuite::kAes256Gcm: {
      KMSFS_ASSIGN_OR_RETURN(aead, NewAesGcmAead(PreferredAesGcmBackend(), key));
      break;
    }
    case CipherSuite::kXChaCha20Poly1305: {
      KMSFS_ASSIGN_OR_RETURN(auto xchacha, XChaCha20Poly1305Aead::New(key));
      aead = std::move(xchacha);
      break;
    }
    default:
      return Status::InvalidArgument("unknown cipher suite id " + std::to_string(static_cast<unsigned>(suite)));
  }
  aead->nonce_random_ = &nonce_random;
  return aead;
}

}  // namespace kmsfs::crypto
