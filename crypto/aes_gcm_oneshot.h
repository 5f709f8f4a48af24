// One-shot AES-256-GCM with a caller-chosen 12-byte nonce and a detached
// 16-byte tag, for formats that store nonce, ciphertext and tag separately
// (kmsd's sealed rows). File data goes through Aead instead, which chooses its
// own nonces and keeps a pool of keyed contexts.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_CRYPTO_AES_GCM_ONESHOT_H_
#define KMSFS_CRYPTO_AES_GCM_ONESHOT_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::crypto {

inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;
inline constexpr size_t kAes256KeySize = 32;

// Writes the ciphertext (as long as `plaintext`) to `ciphertext` and the tag
// to `tag`. Wrong buffer sizes are kInvalidArgument.
Status AesGcmSeal(const SecretBytes& key, std::span<const uint8_t> nonce, std::span<const uint8_t> plaintext,
                  std::span<const uint8_t> aad, std::span<uint8_t> ciphertext, std::span<uint8_t> tag);
// Verifies the tag before it reports success; a wrong key, nonce, aad, tag or
// ciphertext is kDataLoss and leaves `plaintext` wiped.
Status AesGcmOpen(const SecretBytes& key, std::span<const uint8_t> nonce, std::span<const uint8_t> ciphertext,
                  std::span<const uint8_t> aad, std::span<const uint8_t> tag, std::span<uint8_t> plaintext);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AES_GCM_ONESHOT_H_
