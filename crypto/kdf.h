// HKDF-SHA256 (RFC 5869) through OpenSSL, output straight into secure memory;
// SHA-256 and general-purpose randomness through libsodium.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_CRYPTO_KDF_H_
#define KMSFS_CRYPTO_KDF_H_

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::crypto {

StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t out_len);

// SHA-256 of `data` (used for the DEK digest in encrypt-datakey).
std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);

// HMAC-SHA256 (RFC 2104) of `data` under `key` (any length), via libsodium.
std::array<uint8_t, 32> HmacSha256(const SecretBytes& key, std::span<const uint8_t> data);
// Whether `mac` is HMAC-SHA256 of `data` under `key`; compared in constant time.
bool HmacSha256Verify(const SecretBytes& key, std::span<const uint8_t> data, std::span<const uint8_t> mac);

// Random bytes from libsodium's CSPRNG (not for keys: use SecretBytes::Random).
void RandomBytes(std::span<uint8_t> out);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_KDF_H_
