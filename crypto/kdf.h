// Key derivation through OpenSSL: HKDF-SHA256 (RFC 5869), output straight into
// secure memory, and PBKDF2-HMAC-SHA256 for password verifiers.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_CRYPTO_KDF_H_
#define KMSFS_CRYPTO_KDF_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/hash.h"

namespace kmsfs::crypto {

// An empty salt is RFC 5869's "not provided" (HashLen zeros).
StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t out_len);

// PBKDF2-HMAC-SHA256 (RFC 8018) with a 32-byte output, for stored password
// verifiers. Fails (kInternal) for a non-positive iteration count.
StatusOr<Sha256Digest> Pbkdf2Sha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                                    int iterations);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_KDF_H_
