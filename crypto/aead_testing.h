// Test-only AEAD entry points with a caller-chosen nonce, for known-answer
// vectors (NIST GCM, draft-irtf-cfrg-xchacha) and the worked example in
// docs/FORMAT.md. Production code must never call these: sealing twice with
// one nonce under one key breaks both suites. The names say so on purpose.
//
// Thread-safety: free functions without shared state.
#ifndef KMSFS_CRYPTO_AEAD_TESTING_H_
#define KMSFS_CRYPTO_AEAD_TESTING_H_

#include <cstdint>
#include <span>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/aead.h"
#include "crypto/aes_gcm_backend.h"

namespace kmsfs::crypto {

// out = nonce || ciphertext || tag; out.size() = plain.size() + NonceSize(suite) + 16.
Status SealWithNonceForTesting(CipherSuite suite, const SecretBytes& key,
                               std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                               std::span<const uint8_t> ad, std::span<uint8_t> out);

// `aead`'s sealing with a caller-chosen nonce.
Status SealWithNonceOf(const Aead& aead, std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                       std::span<const uint8_t> ad, std::span<uint8_t> out);

// The same for AES-256-GCM from one backend (aes_gcm_backend.h).
Status SealWithNonceForTesting(AesGcmBackend backend, const SecretBytes& key, std::span<const uint8_t> nonce,
                               std::span<const uint8_t> plain, std::span<const uint8_t> ad,
                               std::span<uint8_t> out);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AEAD_TESTING_H_
