// SHA-256, HMAC-SHA256 and constant-time comparison, through libsodium.
//
// libsodium rather than OpenSSL: kmsd hashes and MACs on every data-key call,
// and OpenSSL's EVP_Digest / EVP_Q_mac look the algorithm up by name on each
// call (provider locks and a fetch), which costs more than hashing a 64-byte
// key. Same functions, same results.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_CRYPTO_HASH_H_
#define KMSFS_CRYPTO_HASH_H_

#include <array>
#include <cstdint>
#include <span>

#include "base/secret_bytes.h"

namespace kmsfs::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::span<const uint8_t> data);

// HMAC-SHA256 (RFC 2104) of `data` under `key` (any length).
Sha256Digest HmacSha256(const SecretBytes& key, std::span<const uint8_t> data);
// Whether `mac` is HMAC-SHA256 of `data` under `key`; compared in constant time.
bool HmacSha256Verify(const SecretBytes& key, std::span<const uint8_t> data, std::span<const uint8_t> mac);

// Equality in time independent of the contents; false when the sizes differ
// (sizes are not secret).
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_HASH_H_
