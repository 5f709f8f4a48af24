// BYOK: wraps 32 bytes of AES-256 key material with the KMS's one-time RSA
// public key (get-parameters-for-import) and imports it (import-key-material).
#ifndef KMSFS_FS_CLI_KEY_IMPORT_H_
#define KMSFS_FS_CLI_KEY_IMPORT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kms/kms_client.h"

namespace kmsfs::cli {

// `wrapping`: RSAES_OAEP_SHA_256 | RSAES_OAEP_SHA_1 | RSAES_PKCS1_V1_5.
Status ImportKeyMaterialFromFile(kms::Client& kms, const std::string& key_id, const std::string& material_path,
                                 const std::string& wrapping);

// RSA-encrypts `material` under a Base64 DER SubjectPublicKeyInfo with the named padding.
StatusOr<std::vector<uint8_t>> WrapKeyMaterial(std::span<const uint8_t> material,
                                               const std::string& public_key_b64, const std::string& wrapping);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_KEY_IMPORT_H_
