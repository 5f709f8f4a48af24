// The import token of BYOK (get-parameters-for-import -> import-key-material).
//
// Binary layout before Base64 (150 bytes -> exactly 200 Base64 characters,
// the documented minimum of the import_token pattern):
//   0    1   format version (1)
//   1    1   wrapping algorithm (WrappingAlgorithm value)
//   2    36  key id, ASCII
//   38   8   issued at, epoch seconds, big-endian
//   46   8   expires at, epoch seconds, big-endian
//   54   32  token id (random; names the stored RSA private key)
//   86   32  SHA-256 of the public key's DER SubjectPublicKeyInfo
//   118  32  HMAC-SHA256 over bytes [0,118) under a root-derived key
// The private key itself never leaves kmsd: it is stored sealed, keyed by the
// token id.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_IMPORT_TOKEN_H_
#define KMSFS_KMS_SERVER_IMPORT_TOKEN_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"

namespace kmsfs::kms::server {

struct ImportToken {
  crypto::WrappingAlgorithm algorithm = crypto::WrappingAlgorithm::kOaepSha256;
  std::string key_id;
  int64_t issued_s = 0;
  int64_t expires_s = 0;
  std::array<uint8_t, 32> token_id{};
  crypto::Sha256Digest public_key_digest{};
};

inline constexpr size_t kImportTokenBytes = 150;

std::string EncodeImportToken(const ImportToken& token, const SecretBytes& mac_key);
// kInvalidArgument when the text is not a token this server issued (bad
// Base64, size, version, algorithm or MAC). Expiry is the caller's check.
StatusOr<ImportToken> DecodeImportToken(std::string_view text, const SecretBytes& mac_key);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_IMPORT_TOKEN_H_
