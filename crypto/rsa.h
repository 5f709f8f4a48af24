// RSA key wrapping for BYOK import (spec/kms-api.md §7): kmsd generates an
// RSA-2048 wrapping key pair and unwraps imported material with it; the CLI
// wraps material under the public key it is given.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_CRYPTO_RSA_H_
#define KMSFS_CRYPTO_RSA_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::crypto {

// The API's wrapping algorithms (get-parameters-for-import `wrapping_algorithm`).
// OAEP uses the same hash for the label digest and MGF1.
enum class WrappingAlgorithm : uint8_t { kOaepSha256 = 1, kOaepSha1 = 2, kPkcs1V15 = 3 };
// "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"; nullopt otherwise.
std::optional<WrappingAlgorithm> ParseWrappingAlgorithm(std::string_view name);
std::string_view WrappingAlgorithmName(WrappingAlgorithm alg);

// A fresh RSA-2048 key pair: the private key as DER (secure memory) and the
// public key as DER SubjectPublicKeyInfo.
struct RsaKeyPair {
  SecretBytes private_der;
  std::vector<uint8_t> public_spki_der;
};
StatusOr<RsaKeyPair> GenerateRsa2048();

// Encrypts `plaintext` under the DER SubjectPublicKeyInfo key. A key that does
// not parse is kInvalidArgument; a plaintext too long for the key is kInternal.
StatusOr<std::vector<uint8_t>> RsaEncrypt(std::span<const uint8_t> public_spki_der, WrappingAlgorithm alg,
                                          std::span<const uint8_t> plaintext);
// Decrypts `ciphertext` with the DER private key under `alg`. Any failure of
// the ciphertext is kInvalidArgument.
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

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_RSA_H_
