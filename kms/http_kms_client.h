// HttpClient: kms::Client over HTTP(S) against kmsd or the cloud KMS
// (spec/kms-api.md), with IAM token handling, retries and error mapping.
//
// Every call is POST $endpoint/v1.0/$project_id/kms/<action> with a JSON body
// and the token in X-Auth-Token, or, with an access key (AK/SK), signed with
// SDK-HMAC-SHA256 (kms/request_signer.h), afresh for each attempt. Network
// failures, 429 and 5xx are retried with backoff (RetryPolicy); a 401 or 403 KMS.0302/KMS.0303 makes a
// password-login client log in again and retry the call once. Every failure
// is a Status carrying a KmsErrorDetail (kms/kms_error.h) when the KMS answered,
// and a message naming the action, the key, the endpoint and the KMS's
// reason, e.g.
//   "decrypt-datakey on key 0d04…a37f at 127.0.0.1:8765: KMS.0306 No access permissions. (HTTP 403)"
// Status codes follow kms_client.h, plus: KMS.1104 -> kAlreadyExists;
// KMS.1105/2404/2405 and an exhausted 429 -> kResourceExhausted;
// KMS.2201/2203/2204 from decrypt-datakey and decrypt-data (tampered or
// misplaced ciphertext, wrong encryption context) -> kDataLoss; a data key
// that does not match its datakey_dgst -> kDataLoss.
//
// Every call goes through one KmsExecutor (kms/kms_executor.h): the
// synchronous calls are submit-and-wait at kInteractive priority (the calling
// thread blocks, nothing else does), EncryptDataKeyAsync and
// DecryptDataKeyAsync queue at the priority given and answer on the
// executor's thread. Calls in flight share one thread and keep-alive
// connections.
//
// DEKs travel only in SecureString bodies and SecretBytes; bodies are never
// logged.
//
// Thread-safety: safe for concurrent use.
#ifndef KMSFS_KMS_HTTP_KMS_CLIENT_H_
#define KMSFS_KMS_HTTP_KMS_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kms/connection_config.h"
#include "kms/iam_auth.h"
#include "kms/kms_client.h"
#include "kms/kms_executor.h"
#include "kms/request_signer.h"

namespace kmsfs::kms {

// Counters since the client was made (for `kmsfs status`).
struct ClientStats {
  uint64_t calls = 0;           // KMS API calls made (each counted once, however many tries)
  uint64_t errors = 0;          // calls that ended in an error
  uint64_t retries = 0;         // extra tries after network errors, 429 or 5xx
  uint64_t auth_refreshes = 0;  // IAM logins that replaced an earlier token
};

class HttpClient : public Client {
 public:
  // Validates `config` (see ConnectionConfig::Validate) and starts the
  // executor. Does not contact the KMS: the first call (or UserId) logs in.
  static StatusOr<std::unique_ptr<HttpClient>> New(ConnectionConfig config, KmsExecutorOptions executor = {});
  // Ends the calls still running (their callbacks run with kUnavailable).
  ~HttpClient() override;

  ClientStats stats() const;
  KmsExecutorStats executor_stats() const { return executor_->stats(); }
  // The endpoint as configured, without trailing slashes.
  const std::string& endpoint() const { return endpoint_; }

  std::string PrincipalDescription() const override;
  StatusOr<std::string> UserId() override;

  StatusOr<KeyInfo> CreateKey(const CreateKeyRequest& req) override;
  StatusOr<KeyInfo> DescribeKey(std::string_view key_id) override;
  StatusOr<KeyList> ListKeys(const ListKeysRequest& req) override;
  StatusOr<KeyInfo> EnableKey(std::string_view key_id) override;
  StatusOr<KeyInfo> DisableKey(std::string_view key_id) override;
  StatusOr<KeyInfo> ScheduleKeyDeletion(std::string_view key_id, int pending_days) override;
  StatusOr<KeyInfo> CancelKeyDeletion(std::string_view key_id) override;
  Status EnableKeyRotation(std::string_view key_id) override;
  StatusOr<std::vector<uint8_t>> GenRandom(int bits) override;

  StatusOr<DataKey> CreateDataKey(std::string_view key_id, size_t length_bytes,
                                  const EncryptionContext& ctx) override;
  StatusOr<std::string> CreateDataKeyWithoutPlaintext(std::string_view key_id, size_t length_bytes,
                                                      const EncryptionContext& ctx) override;
  StatusOr<std::string> EncryptDataKey(std::string_view key_id, const SecretBytes& dek,
                                       const EncryptionContext& ctx) override;
  StatusOr<SecretBytes> DecryptDataKey(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                       const EncryptionContext& ctx) override;
  CallHandle EncryptDataKeyAsync(std::string_view key_id, const SecretBytes& dek, const EncryptionContext& ctx,
                                 Priority priority, Callback<std::string> done) override;
  CallHandle DecryptDataKeyAsync(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                 const EncryptionContext& ctx, Priority priority, Callback<SecretBytes> done) override;
  StatusOr<std::string> EncryptData(std::string_view key_id, std::string_view plain_text,
                                    const EncryptionContext& ctx) override;
  StatusOr<std::string> DecryptData(std::string_view cipher_text, const EncryptionContext& ctx) override;

  StatusOr<std::string> CreateGrant(const CreateGrantRequest& req) override;
  StatusOr<GrantList> ListGrants(const ListGrantsRequest& req) override;
  Status RevokeGrant(std::string_view key_id, std::string_view grant_id) override;
  Status RetireGrant(std::string_view key_id, std::string_view grant_id) override;
  StatusOr<GrantList> ListRetirableGrants(const ListGrantsRequest& req) override;

  StatusOr<ImportParameters> GetParametersForImport(std::string_view key_id,
                                                    std::string_view wrapping_algorithm) override;
  Status ImportKeyMaterial(const ImportKeyMaterialRequest& req) override;
  Status DeleteImportedKeyMaterial(std::string_view key_id) override;

 private:
  explicit HttpClient(const ConnectionConfig& config);

  // The executor's call for `action` on `key_id` with `body`.
  KmsCall MakeCall(std::string_view action, std::string_view key_id, SecureString body, Priority priority) const;
  // The 2xx answer of a finished call, or its error mapped to a Status
  // (counted as an error).
  StatusOr<HttpResponse> Result(std::string_view action, std::string_view key_id, KmsOutcome outcome);
  // One interactive API call, waited for. Returns the 2xx answer.
  StatusOr<HttpResponse> Call(std::string_view action, std::string_view key_id, SecureString body);
  // Call with a non-secret JSON body; returns the parsed answer object.
  StatusOr<nlohmann::json> CallJson(std::string_view action, std::string_view key_id, const nlohmann::json& body);
  static SecureString EncryptDataKeyBody(std::string_view key_id, const SecretBytes& dek,
                                         const EncryptionContext& ctx);
  static SecureString DecryptDataKeyBody(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                         const EncryptionContext& ctx);
  StatusOr<std::string> EncryptDataKeyResult(std::string_view key_id, KmsOutcome outcome);
  StatusOr<SecretBytes> DecryptDataKeyResult(std::string_view key_id, size_t dek_length, KmsOutcome outcome);
  // Counts and returns a failure found after the KMS answered (bad answer, digest mismatch).
  Status Fail(StatusCode code, std::string_view action, std::string_view key_id, std::string_view what);
  // "decrypt-datakey on key K at host"
  std::string Context(std::string_view action, std::string_view key_id) const;

  const std::string endpoint_;
  const std::string project_id_;
  const std::string host_;
  IamAuth auth_;
  // Set when requests are signed with AK/SK instead of carrying a token.
  const std::unique_ptr<RequestSigner> signer_;
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> errors_{0};
  std::unique_ptr<KmsExecutor> executor_;  // last: its calls use everything above
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_HTTP_KMS_CLIENT_H_
