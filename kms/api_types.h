// Typed request/response values of the KMS v1.0 API (spec/kms-api.md).
//
// Field names follow the wire names. Scalars the API sends as strings are
// kept as the natural C++ type here; the HTTP client converts at the edge.
// Plaintext DEKs are SecretBytes, never std::string.
#ifndef KMSFS_KMS_API_TYPES_H_
#define KMSFS_KMS_API_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/secret_bytes.h"

namespace kmsfs::kms {

// string -> string pairs bound to a ciphertext; empty == absent (spec §4.7).
using EncryptionContext = std::map<std::string, std::string>;

enum class KeyState { kPendingActivation = 1, kEnabled = 2, kDisabled = 3, kScheduledDeletion = 4, kPendingImport = 5 };

struct KeyInfo {
  std::string key_id;
  std::string domain_id;
  std::string key_alias;
  std::string realm;
  std::string key_description;
  std::string key_spec;        // "AES_256"
  std::string key_usage;       // "ENCRYPT_DECRYPT"
  std::string creation_date;   // epoch ms, as sent
  std::string scheduled_deletion_date;
  std::string key_state;       // "1".."5", as sent
  std::string default_key_flag;
  std::string key_type;
  std::string expiration_time;
  std::string origin;          // "kms" | "external"
};

struct CreateKeyRequest {
  std::string key_alias;                // required by the API
  std::string key_description;
  std::string origin = "kms";           // "kms" | "external"
  std::string key_spec;                 // empty: server default (AES_256)
  std::string key_usage;                // empty: server default
};

struct ListKeysRequest {
  std::optional<int> limit;
  std::optional<int> marker;
  std::optional<int> key_state;
};

struct KeyList {
  std::vector<std::string> keys;
  std::vector<KeyInfo> key_details;
  std::string next_marker;
  bool truncated = false;
  int64_t total = 0;
};

// create-datakey: both halves.
struct DataKey {
  std::string key_id;
  SecretBytes plain;        // the DEK
  std::string cipher_text;  // hex envelope, exactly as returned
};

struct Grant {
  std::string key_id;
  std::string grant_id;
  std::string grantee_principal;
  std::string grantee_principal_type;  // may be empty
  std::vector<std::string> operations;
  std::string issuing_principal;
  std::string creation_date;
  std::string name;
  std::string retiring_principal;
};

struct CreateGrantRequest {
  std::string key_id;
  std::string grantee_principal;
  std::vector<std::string> operations;
  std::string name;                    // optional
  std::string retiring_principal;      // optional
  std::string grantee_principal_type;  // optional: "user" | "domain"
};

struct ListGrantsRequest {
  std::string key_id;  // ignored by list-retirable-grants
  std::optional<int> limit;
  std::optional<int> marker;
};

struct GrantList {
  std::vector<Grant> grants;
  std::string next_marker;
  bool truncated = false;
  int64_t total = 0;
};

struct ImportParameters {
  std::string key_id;
  std::string import_token;            // Base64
  int64_t expiration_time = 0;         // epoch seconds
  std::string public_key;              // Base64 DER SubjectPublicKeyInfo (RSA-2048)
};

struct ImportKeyMaterialRequest {
  std::string key_id;
  std::string import_token;
  std::string encrypted_key_material;  // Base64
  std::optional<int64_t> expiration_time;  // epoch seconds
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_API_TYPES_H_
