// Aead: authenticated encryption of one buffer with associated data.
//
// Sealed layout: nonce || ciphertext || tag. The nonce is made inside from the
// system CSPRNG on every Seal; callers never choose it. Open fails with
// kDataLoss and writes no plaintext the caller may use when the tag does not
// verify.
//
// Thread-safety: Seal/Open are safe to call concurrently on one object.
#ifndef KMSFS_CRYPTO_AEAD_H_
#define KMSFS_CRYPTO_AEAD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/nonce_source.h"

namespace kmsfs::crypto {

enum class CipherSuite : uint8_t {
  kAes256Gcm = 1,          // OpenSSL or intel-ipsec-mb (aes_gcm_backend.h); 12-byte nonce, 16-byte tag
  kXChaCha20Poly1305 = 2,  // libsodium; 24-byte nonce, 16-byte tag
};

// "AES-256-GCM" / "XChaCha20-Poly1305" and back (names used in .kmsfs.json).
// CipherSuiteFromName is exact (case-sensitive); unknown names are kInvalidArgument.
std::string_view CipherSuiteName(CipherSuite suite);
StatusOr<CipherSuite> CipherSuiteFromName(std::string_view name);
// The on-disk id (1 or 2, the enum's value) back to a suite; others kInvalidArgument.
StatusOr<CipherSuite> CipherSuiteFromId(uint8_t id);
// Nonce bytes at the front of every sealed buffer: 12 (GCM) or 24 (XChaCha).
size_t NonceSize(CipherSuite suite);

// What the CPU offers for AES-GCM: AES round instructions and carry-less
// multiply (x86 AES-NI + PCLMULQDQ from cpuid; arm64 AES + PMULL from hwcaps).
struct CpuAeadFeatures {
  bool aes = false;
  bool clmul = false;
};
CpuAeadFeatures DetectCpuAeadFeatures();
// AES-256-GCM when both are present, XChaCha20-Poly1305 otherwise.
CipherSuite PreferredCipherSuiteFor(const CpuAeadFeatures& features);
// PreferredCipherSuiteFor(DetectCpuAeadFeatures()), computed once.
CipherSuite PreferredCipherSuite();

class Aead {
 public:
  virtual ~Aead() = default;
  // `key` must be 32 bytes (kInvalidArgument otherwise); it is copied into
  // secure memory, the caller keeps its own. Seal draws its nonces from
  // `nonce_random`, which must outlive the Aead (tests inject one; everyone
  // else keeps the system CSPRNG).
  static StatusOr<std::unique_ptr<Aead>> New(CipherSuite suite, const SecretBytes& key,
                                             RandomSource& nonce_random = SystemRandom());

  virtual CipherSuite suite() const = 0;
  virtual size_t nonce_size() const = 0;
  static constexpr size_t kTagSize = 16;
  size_t overhead() const { return nonce_size() + kTagSize; }

  // out.size() must be plain.size() + overhead(); out must not overlap plain.
  // Draws a fresh nonce (FillNonce from the source given to New) and seals with it.
  Status Seal(std::span<const uint8_t> plain, std::span<const uint8_t> ad, std::span<uint8_t> out) const;
  // out.size() must be sealed.size() - overhead(); sealed.size() >= overhead();
  // out must not overlap sealed. On kDataLoss `out` is all zeros.
  virtual Status Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
                      std::span<uint8_t> out) const = 0;

 protected:
  // Seal with `nonce` (nonce_size() bytes): out = nonce || ct || tag. Each
  // suite checks the sizes itself, as known-answer tests call it directly
  // (aead_testing.h); a repeated nonce under one key breaks both suites.
  virtual Status SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                               std::span<const uint8_t> ad, std::span<uint8_t> out) const = 0;

 private:
  RandomSource* nonce_random_ = &SystemRandom();

  // The known-answer tests' way in (aead_testing.h).
  friend Status SealWithNonceOf(const Aead& aead, std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                                std::span<const uint8_t> ad, std::span<uint8_t> out);
};

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AEAD_H_
