// kms::Client: the KMS v1.0 API as typed calls.
//
// The filesystem depends only on this interface; HttpClient talks to kmsd or
// the cloud KMS, tests may substitute a fake. Every failure is a Status whose
// kms::KmsErrorCode()/KmsHttpStatus() (kms/kms_error.h) read the service's "KMS.xxxx" and HTTP code
// when the service answered; transport failures are kUnavailable.
// Status codes: 403 KMS.0306/0307/0326/0330 -> kPermissionDenied,
// 403 KMS.0301/0302/0303/0305/0321 -> kUnauthenticated, 404 -> kNotFound,
// other 4xx -> kInvalidArgument or kFailedPrecondition (key state), 5xx/network -> kUnavailable.
//
// The two calls a mount makes in bulk, encrypt-datakey (new files' DEKs) and
// decrypt-datakey (existing files' DEKs), also come in an asynchronous form
// with a Priority, so that background work (pool refills, key prefetch) has
// many calls in flight without a thread each, and never holds back a call
// somebody waits for.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef KMSFS_KMS_KMS_CLIENT_H_
#define KMSFS_KMS_KMS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/api_types.h"
#include "kms/kms_error.h"

namespace kmsfs::kms {

// How urgent a call is. Waiting calls start in this order, and background
// calls never take all the room (kms/kms_executor.h).
enum class Priority : uint8_t {
  kInteractive = 0,  // somebody waits for it: an open needing its key, a create finding the pool empty, the CLI
  kRefill = 1,       // keeps the pool of pre-wrapped DEKs for new files full
  kPrefetch = 2,     // speculative: the keys of a listed directory's files
};

// A handle on an asynchronous call, for whoever comes to wait for it: Raise
// moves it up while it still waits to be sent; Cancel ends it (its callback
// then runs with kUnavailable, unless the answer was already in). An empty
// handle (a call that is done, a client without a queue) ignores both.
// Handles are cheap values and may outlive the call and the client.
class CallHandle {
 public:
  class Control {
   public:
    virtual ~Control() = default;
    virtual void Raise(Priority priority) = 0;
    virtual void Cancel() = 0;
  };
  CallHandle() = default;
  explicit CallHandle(std::shared_ptr<Control> control) : control_(std::move(control)) {}
  void Raise(Priority priority) const {
    if (control_) control_->Raise(priority);
  }
  void Cancel() const {
    if (control_) control_->Cancel();
  }

 private:
  std::shared_ptr<Control> control_;
};

template <typename T>
using Callback = std::function<void(StatusOr<T>)>;

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
  // Asynchronous forms of the two above: `done` runs exactly once with what
  // the synchronous form would return. The arguments are only used during
  // the call. HttpClient runs `done` on its executor's thread, so it must be
  // quick and must not call the client synchronously. These defaults (for
  // clients without a queue of their own, such as test fakes) make the
  // synchronous call and run `done` before returning.
  virtual CallHandle EncryptDataKeyAsync(std::string_view key_id, const SecretBytes& dek, const EncryptionContext& ctx,
                                         Priority priority, Callback<std::string> done) {
    (void)priority;
    done(EncryptDataKey(key_id, dek, ctx));
    return CallHandle();
  }
  virtual CallHandle DecryptDataKeyAsync(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                         const EncryptionContext& ctx, Priority priority,
                                         Callback<SecretBytes> done) {
    (void)priority;
    done(DecryptDataKey(key_id, cipher_text, dek_length, ctx));
    return CallHandle();
  }
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
