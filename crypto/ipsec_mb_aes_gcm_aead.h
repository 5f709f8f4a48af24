// IpsecMbAesGcmAead: AES-256-GCM (12-byte nonce, 16-byte tag) through
// intel-ipsec-mb's direct GCM API, which has VAES/AVX-512 code that OpenSSL
// 3.0 lacks (aes_gcm_backend.h says when it is used).
//
// The expanded key and the GHASH key powers are the library's gcm_key_data,
// kept in SecretBytes (locked, wiped); the raw key is not kept. Each call's
// gcm_context_data (GHASH state, counters) is on the stack and wiped after use.
//
// Internal to crypto/: callers use Aead::New. Thread-safety: Seal/Open are
// safe to call concurrently (the key data is only read; the library's
// manager, shared by all objects, holds only function pointers once set up).
#ifndef KMSFS_CRYPTO_IPSEC_MB_AES_GCM_AEAD_H_
#define KMSFS_CRYPTO_IPSEC_MB_AES_GCM_AEAD_H_

#include <memory>
#include <string>

#include "base/secret_bytes.h"
#include "crypto/aead.h"

namespace kmsfs::crypto {

class IpsecMbAesGcmAead final : public Aead {
 public:
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kKeySize = 32;

  // Whether the library runs here with its AVX2 or AVX-512 code.
  static bool Usable();
  // "intel-ipsec-mb 1.3.0 (AVX-512)".
  static std::string Description();

  // kUnimplemented when !Usable().
  static StatusOr<std::unique_ptr<IpsecMbAesGcmAead>> New(const SecretBytes& key);

  CipherSuite suite() const override { return CipherSuite::kAes256Gcm; }
  size_t nonce_size() const override { return kNonceSize; }
  Status Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
              std::span<uint8_t> out) const override;

 private:
  Status SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                       std::span<const uint8_t> ad, std::span<uint8_t> out) const override;
  explicit IpsecMbAesGcmAead(SecretBytes key_data) : key_data_(std::move(key_data)) {}
  const SecretBytes key_data_;  // the library's struct gcm_key_data
};

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_IPSEC_MB_AES_GCM_AEAD_H_
