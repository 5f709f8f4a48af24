// kmsd's cryptographic building blocks, all through OpenSSL 3 EVP: random
// bytes, SHA-256, HMAC-SHA256, HKDF-SHA256, AES-256-GCM, PBKDF2, Base64, and
// the RSA-2048 wrapping keys of BYOK import (spec/kms-api.md §7).
//
// Nothing here is a hand-made primitive; these are thin, checked wrappers that
// keep keys in SecretBytes and report failures as Status.
//
// Thread-safety: all functions are safe to call concurrently.
#ifndef KMSFS_KMS_SERVER_CRYPTO_UTIL_H_
#define KMSFS_KMS_SERVER_CRYPTO_UTIL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/secure_string.h"

namespace kmsfs::kms::server {

inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;
inline constexpr size_t kAes256KeySize = 32;

using Digest = std::array<uint8_t, 32>;

// Cryptographically secure random bytes (OpenSSL RAND_bytes); aborts if the
// generator fails, since continuing would hand out predictable keys.
void RandomBytes(std::span<uint8_t> out);
std::vector<uint8_t> RandomVector(size_t n);

Digest Sha256(std::span<const uint8_t> data);
Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
// Constant-time equality; false when sizes differ (sizes are not secret).
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

// HKDF-SHA256 (RFC 5869) with an empty salt.
StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::string_view info, size_t out_len);

// PBKDF2-HMAC-SHA256, for stored password verifiers.
StatusOr<Digest> Pbkdf2Sha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                              int iterations);

// AES-256-GCM. Seal writes ciphertext (same length as `plaintext`) to
// `ciphertext` and the 16-byte tag to `tag`. Open verifies the tag before it
// reports success; on failure `plaintext` holds nothing meaningful.
Status AesGcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                  std::span<uint8_t> ciphertext, std::span<uint8_t> tag);
Status AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> ciphertext, std::span<const uint8_t> aad,
                  std::span<const uint8_t> tag, std::span<uint8_t> plaintext);

// Standard Base64 with '=' padding, no line breaks.
std::string Base64Encode(std::span<const uint8_t> bytes);
// The same, and upper-case hex, into wiping memory (for plaintexts in answers).
kms::SecureString Base64EncodeSecret(std::span<const uint8_t> bytes);
kms::SecureString HexEncodeUpperSecret(std::span<const uint8_t> bytes);
// Strict decoder: standard alphabet, length a multiple of 4, padding only at
// the end; anything else is kInvalidArgument.
StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

// BYOK wrapping algorithms (get-parameters-for-import `wrapping_algorithm`).
enum class WrappingAlgorithm : uint8_t { kOaepSha256 = 1, kOaepSha1 = 2, kPkcs1V15 = 3 };
std::optional<WrappingAlgorithm> ParseWrappingAlgorithm(std::string_view name);
std::string_view WrappingAlgorithmName(WrappingAlgorithm alg);

// A fresh RSA-2048 key pair: the private key as DER (secure memory) and the
// public key as DER SubjectPublicKeyInfo.
struct RsaKeyPair {
  SecretBytes private_der;
  std::vector<uint8_t> public_spki_der;
};
StatusOr<RsaKeyPair> GenerateRsa2048();
// Decrypts `ciphertext` with the DER private key under `alg` (OAEP uses the
// same hash for the label digest and MGF1). Any failure is kInvalidArgument.
StatusOr<SecretBytes> RsaDecrypt(const SecretBytes& private_der, WrappingAlgorithm alg,
                                 std::span<const uint8_t> ciphertext);
// Unwraps imported key material of exactly `material_size` bytes. Every
// failure (wrong padding, wrong length, wrong key, a ciphertext of the wrong
// size or out of range) is the same kInvalidArgument status, and for
// RSAES-PKCS1-v1_5 the padding and the length are checked together without a
// branch on the decrypted bytes, so neither the answer nor its timing tells a
// caller which check failed (no Bleichenbacher padding oracle).
StatusOr<SecretBytes> UnwrapKeyMaterial(const SecretBytes& private_der, WrappingAlgorithm alg,
                                        std::span<const uint8_t> ciphertext, size_t material_size);

// Bytes of a string, for hashing labels and ASCII fields.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_CRYPTO_UTIL_H_
