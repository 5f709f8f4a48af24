// Base64 (RFC 4648 §4: standard alphabet, '=' padding, no line breaks). The
// KMS API carries public keys, wrapped key material and ciphertext blobs in it.
//
// Thread-safety: free functions without shared state; safe from any thread.
#ifndef KMSFS_BASE_BASE64_H_
#define KMSFS_BASE_BASE64_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secure_string.h"
#include "base/status.h"

namespace kmsfs {

std::string Base64Encode(std::span<const uint8_t> bytes);
// The same into wiping memory (for key plaintexts in answers).
SecureString Base64EncodeSecret(std::span<const uint8_t> bytes);

// Strict decoder: standard alphabet only, length a multiple of 4, '=' only as
// the last one or two characters; anything else (whitespace, the URL-safe
// alphabet, missing padding) is kInvalidArgument.
StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

}  // namespace kmsfs

#endif  // KMSFS_BASE_BASE64_H_
