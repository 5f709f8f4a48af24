// AesGcmAead: AES-256-GCM (12-byte nonce, 16-byte tag) through OpenSSL EVP.
//
// Setting a key on an EVP context costs a key schedule and the GHASH tables,
// a large share of sealing one 4 KiB block, so each object
// keeps a small pool of contexts that already hold its key. A call leases one
// context, sets only the nonce, and gives it back; contexts never hold two
// keys and are freed (OpenSSL cleanses them) with the object. The raw key is
// kept in SecretBytes; the expanded key schedule necessarily lives in
// OpenSSL's context memory (ordinary heap, cleansed when freed).
//
// Internal to crypto/: callers use Aead::New. Thread-safety: Seal/Open are
// safe to call concurrently (each call uses its own leased context).
#ifndef KMSFS_CRYPTO_AES_GCM_AEAD_H_
#define KMSFS_CRYPTO_AES_GCM_AEAD_H_

#include <openssl/evp.h>

#include <memory>
#include <vector>

#include "base/mutex.h"
#include "base/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/openssl_ptr.h"

namespace kmsfs::crypto {

class AesGcmAead final : public Aead {
 public:
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kKeySize = 32;

  static StatusOr<std::unique_ptr<AesGcmAead>> New(const SecretBytes& key);

  CipherSuite suite() const override { return CipherSuite::kAes256Gcm; }
  size_t nonce_size() const override { return kNonceSize; }
  Status Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
              std::span<uint8_t> out) const override;

 private:
  Status SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                       std::span<const uint8_t> ad, std::span<uint8_t> out) const override;
  explicit AesGcmAead(SecretBytes key) : key_(std::move(key)) {}
  StatusOr<CipherCtxPtr> Lease() const;
  void Return(CipherCtxPtr ctx) const;

  const SecretBytes key_;
  mutable Mutex mu_;
  mutable std::vector<CipherCtxPtr> idle_ KMSFS_GUARDED_BY(mu_);
};

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AES_GCM_AEAD_H_
