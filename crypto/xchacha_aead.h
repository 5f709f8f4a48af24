// XChaCha20Poly1305Aead: XChaCha20-Poly1305 (24-byte nonce, 16-byte tag)
// through libsodium's crypto_aead_xchacha20poly1305_ietf_* (detached form).
// The suite for CPUs without AES-NI; the 192-bit nonce makes random nonces
// safe for any realistic number of blocks under one key.
//
// Internal to crypto/: callers use Aead::New. Thread-safety: Seal/Open are
// safe to call concurrently (no mutable state).
#ifndef KMSFS_CRYPTO_XCHACHA_AEAD_H_
#define KMSFS_CRYPTO_XCHACHA_AEAD_H_

#include <memory>

#include "base/secret_bytes.h"
#include "crypto/aead.h"

namespace kmsfs::crypto {

class XChaCha20Poly1305Aead final : public Aead {
 public:
  static constexpr size_t kNonceSize = 24;
  static constexpr size_t kKeySize = 32;

  static StatusOr<std::unique_ptr<XChaCha20Poly1305Aead>> New(const SecretBytes& key);

  CipherSuite suite() const override { return CipherSuite::kXChaCha20Poly1305; }
  size_t nonce_size() const override { return kNonceSize; }
  Status Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
              std::span<uint8_t> out) const override;

 private:
  Status SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                       std::span<const uint8_t> ad, std::span<uint8_t> out) const override;
  explicit XChaCha20Poly1305Aead(SecretBytes key) : key_(std::move(key)) {}
  const SecretBytes key_;
};

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_XCHACHA_AEAD_H_
