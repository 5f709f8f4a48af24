// kms::Client: the KMS v1.0 API as typed calls.
//
// The filesystem depends only on this interface; HttpClient talks to kmsd or
// the cloud KMS, tests may substitute a fake. Every failure is a Status whose
// kms_error_code()/http_status() carry the service's "KMS.xxxx" and HTTP code
// when the service answered; transport failures are kUnavailable.
// Status codes: 403 KMS.0306/0307/0326/0330 -> kPermissionDenied,
// 403 KMS.0301/0302/0303/0305/0321 -> kUnauthenticated, 404 -> kNotFound,
// other 4xx -> kInvalidArgument or kFailedPrecondition (key state), 5xx/network -> kUnavailable.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef KMSFS_KMS_KMS_CLIENT_H_
#define KMSFS_KMS_KMS_CLIENT_H_

#include <string>
#include <string_view>

#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"
#include "kms/api_types.h"

namespace kmsfs::kms {

class Client {
 public:
  virtual ~Client() = default;

  // Who this client acts as, for messages ("alice (id 0123…)"); never a secret.
  virtual std::string PrincipalDescription() const = 0;
  // The IAM user id of the caller, when known (after login); empty otherwise.
  virtual StatusOr<std::string> UserId() = 0;

  // --- keys (spec §3)
  virtual StatusOr<KeyInfo> CreateKey(const CreateKeyRequest& req) = 0;
  virtual StatusOr<KeyInfo> DescribeKey(std::string_view key_id) = 0;
  virtual StatusOr<KeyList> ListKeys(const ListKeysRequest& req) = 0;
  virtual StatusOr<KeyInfo> EnableKey(std::string_view key_id) = 0;   // returns key_id, key_state
  virtual StatusOr<KeyInfo> DisableKey(std::string_view key_id) = 0;
  virtual StatusOr<KeyInfo> ScheduleKeyDeletion(std::string_view key_id, int pending_days) = 0;
  virtual StatusOr<KeyInfo> CancelKeyDeletion(std::string_view key_id) = 0;
  virtual Status EnableKeyRotation(std::string_view key_id) = 0;
  virtual StatusOr<std::vector<uint8_t>> GenRandom(int bits) = 0;

  // --- data keys (spec §4)
  // create-datakey with datakey_length = 8 * length_bytes.
  virtual StatusOr<DataKey> CreateDataKey(std::string_view key_id, size_t length_bytes,
                                          const EncryptionContext& ctx) = 0;
  virtual StatusOr<std::string> CreateDataKeyWithoutPlaintext(std::string_view key_id,
                                                              size_t length_bytes,
                                                              const EncryptionContext& ctx) = 0;
  // encrypt-datakey: sends plain_text = hex(dek || SHA-256(dek)), datakey_plain_length = dek.size().
  // Returns the hex cipher_text exactly as the KMS returned it.
  virtual StatusOr<std::string> EncryptDataKey(std::string_view key_id, const SecretBytes& dek,
                                               const EncryptionContext& ctx) = 0;
  // decrypt-datakey with datakey_cipher_length = dek_length; checks datakey_dgst
  // against SHA-256 of the returned key (mismatch -> kDataLoss).
  virtual StatusOr<SecretBytes> DecryptDataKey(std::string_view key_id, std::string_view cipher_text,
                                               size_t dek_length, const EncryptionContext& ctx) = 0;
  // encrypt-data / decrypt-data: text in, Base64 envelope out, and back.
  virtual StatusOr<std::string> EncryptData(std::string_view key_id, std::string_view plain_text,
                                            const EncryptionContext& ctx) = 0;
  virtual StatusOr<std::string> DecryptData(std::string_view cipher_text,
                                            const EncryptionContext& ctx) = 0;

  // --- grants (spec §6)
  virtual StatusOr<std::string> CreateGrant(const CreateGrantRequest& req) = 0;  // grant_id
  virtual StatusOr<GrantList> ListGrants(const ListGrantsRequest& req) = 0;
  virtual Status RevokeGrant(std::string_view key_id, std::string_view grant_id) = 0;
  virtual Status RetireGrant(std::string_view key_id, std::string_view grant_id) = 0;
  virtual StatusOr<GrantList> ListRetirableGrants(const ListGrantsRequest& req) = 0;

  // --- import (spec §7)
  virtual StatusOr<ImportParameters> GetParametersForImport(std::string_view key_id,
                                                            std::string_view wrapping_algorithm) = 0;
  virtual Status ImportKeyMaterial(const ImportKeyMaterialRequest& req) = 0;
  virtual Status DeleteImportedKeyMaterial(std::string_view key_id) = 0;
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_KMS_CLIENT_H_
