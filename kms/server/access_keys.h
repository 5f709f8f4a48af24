// AccessKeys: the IAM access keys (AK/SK) of kmsd's users, and the check of
// requests signed with them (SDK-HMAC-SHA256, crypto/sdk_hmac_signer.h).
//
// Permanent keys come from the users file ("access_keys") or are created
// with POST /v3.0/OS-CREDENTIAL/credentials (at most two per user, as in the
// cloud); temporary keys, with a security token and an expiry, come from
// POST /v3.0/OS-CREDENTIAL/securitytokens. A secret key is stored sealed
// under the root key (it must be read back to check signatures) and a
// security token only as its SHA-256.
//
// Authenticate() checks a signed request as the cloud's API gateway does:
// the Authorization header's form, X-Sdk-Date within 15 minutes of kmsd's
// clock, an active key of an active user, for a temporary key its expiry and
// X-Security-Token, and the signature over the method, path, query, signed
// headers and body (compared in constant time). Deliberately stricter than
// the gateway: a body must be covered by the signature (X-Sdk-Content-Sha256:
// UNSIGNED-PAYLOAD is refused, since bodies carry keys), and a signed header
// sent twice is refused. Every failure is 401 APIGW.0301 "Incorrect IAM
// authentication information: …".
//
// Thread-safety: safe for concurrent use (state lives in the Store).
#ifndef KMSFS_KMS_SERVER_ACCESS_KEYS_H_
#define KMSFS_KMS_SERVER_ACCESS_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "crypto/sdk_hmac_signer.h"
#include "kms/server/json.h"
#include "kms/server/root_key.h"
#include "kms/server/store.h"
#include "kms/server/users_file.h"

namespace kmsfs::kms::server {

class AccessKeys {
 public:
  static constexpr int kMaxPermanentPerUser = 2;
  static constexpr int64_t kMaxClockSkewSec = 15 * 60;
  static constexpr int64_t kMinTemporarySec = 900;
  static constexpr int64_t kMaxTemporarySec = 86400;

  AccessKeys(Store* store, const RootKeyring* keyring, const Clock* clock)
      : store_(store), keyring_(keyring), clock_(clock) {}

  // A stored record for a key the users file lists for `user_id`.
  AccessKeyRecord FileKey(const std::string& user_id, const AccessKeySpec& spec) const;

  // A new key and what the caller sees once: the secret (and for a temporary
  // key its security token).
  struct Created {
    AccessKeyRecord record;
    SecureString secret;
    SecureString security_token;
  };
  // kFailedPrecondition when the user has its two permanent keys already.
  StatusOr<Created> CreatePermanent(const std::string& user_id, std::string_view description);
  StatusOr<Created> CreateTemporary(const std::string& user_id, int64_t duration_sec);
  // Permanent keys of `user_id` (temporary ones are not listed, as in the cloud).
  StatusOr<std::vector<AccessKeyRecord>> List(const std::string& user_id);
  // kNotFound for an unknown key.
  StatusOr<AccessKeyRecord> Get(std::string_view access);
  Status Put(const AccessKeyRecord& record);
  Status Delete(std::string_view access);

  // Who signed `request`: the key's record (its user is checked by the
  // caller). `authorization` is the Authorization header's value.
  StatusOr<AccessKeyRecord> Authenticate(const crypto::sdk_hmac::Request& request,
                                         std::string_view authorization) const;

  // The credential object of the IAM API: {access, status, user_id,
  // create_time, description} (no secret).
  static Json CredentialJson(const AccessKeyRecord& record);

 private:
  std::vector<uint8_t> SealSecret(std::string_view access, std::span<const uint8_t> secret) const;

  Store* store_;
  const RootKeyring* keyring_;
  const Clock* clock_;
};

// The status of a failed AK/SK check: 401 APIGW.0301 with `detail`.
Status GatewayAuthError(std::string_view detail);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_ACCESS_KEYS_H_
