// RequestSigner: the AK/SK signature (SDK-HMAC-SHA256) of the kmsfs client's
// KMS requests, as the Huawei Cloud SDKs sign them, through the one signer
// implementation of fs/crypto/sdk_hmac_signer.h.
//
// Signs Host, Content-Type (application/json, as HttpTransport sends it),
// X-Project-Id, X-Sdk-Date and, for a temporary key, X-Security-Token, plus
// the SHA-256 of the body; the headers it returns are sent with the request
// in place of X-Auth-Token. The secret key and security token stay in
// SecretBytes; the header lines are SecureStrings.
//
// Thread-safety: Headers() may be called from any number of threads at once.
#ifndef KMSFS_KMS_REQUEST_SIGNER_H_
#define KMSFS_KMS_REQUEST_SIGNER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"
#include "kms/connection_config.h"
#include "kms/secure_string.h"

namespace kmsfs::kms {

class RequestSigner {
 public:
  // From the AK/SK fields of `config` (config.uses_access_key() must hold).
  explicit RequestSigner(const ConnectionConfig& config);

  // The header lines ("Name: value") that sign a POST of `body` to `url`
  // (http[s]://host[:port]/path) at `now_sec` (Unix time).
  StatusOr<std::vector<SecureString>> Headers(std::string_view url, std::string_view body, int64_t now_sec) const;

  const std::string& access_key() const { return access_key_; }

 private:
  std::string access_key_;
  SecretBytes secret_key_;
  SecretBytes security_token_;
  std::string project_id_;
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_REQUEST_SIGNER_H_
