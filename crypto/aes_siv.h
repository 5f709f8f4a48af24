// AesSiv: deterministic authenticated encryption (AES-256-SIV, RFC 5297)
// through OpenSSL 3, for file names: the same name in the same directory
// always encrypts to the same bytes, so a lookup can find it, and any change
// to the bytes (or to the associated data) fails to authenticate.
//
// Sealed layout: synthetic IV (16, the tag) || ciphertext (as long as the
// plaintext). One associated-data string (the directory's value).
//
// Thread-safety: Seal/Open are safe to call concurrently on one object.
#ifndef KMSFS_CRYPTO_AES_SIV_H_
#define KMSFS_CRYPTO_AES_SIV_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::crypto {

class AesSiv {
 public:
  static constexpr size_t kKeySize = 64;  // two AES-256 keys: S2V's and CTR's
  static constexpr size_t kTagSize = 16;

  // A 64-byte key gives AES-256-SIV (what kmsfs uses); 32 and 48 bytes give
  // AES-128-SIV and AES-192-SIV, so RFC 5297's vectors can check this code.
  // Other sizes: kInvalidArgument. The key is copied into secure memory.
  static StatusOr<std::unique_ptr<AesSiv>> New(const SecretBytes& key);
  ~AesSiv();
  AesSiv(const AesSiv&) = delete;
  AesSiv& operator=(const AesSiv&) = delete;

  // tag || ciphertext, plain.size() + 16 bytes.
  StatusOr<std::vector<uint8_t>> Seal(std::span<const uint8_t> plain, std::span<const uint8_t> ad) const;
  // The plaintext, or kDataLoss when the bytes or `ad` were changed.
  StatusOr<std::vector<uint8_t>> Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad) const;

 private:
  explicit AesSiv(SecretBytes key);
  SecretBytes key_;
  struct CipherHolder;
  std::unique_ptr<CipherHolder> cipher_;
};

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AES_SIV_H_
