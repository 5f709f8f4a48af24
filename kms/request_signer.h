// RequestSigner: the AK/SK signature (SDK-HMAC-SHA256) of the kmsfs client's
// KMS requests, as the Huawei Cloud SDKs sign them, through the one signer
// implementation of crypto/sdk_hmac_signer.h.
//
// Sign() sees the final request (kms/request_headers.cc calls it last, for
// every attempt): it adds Host, X-Project-Id, X-Sdk-Date and, for a temporary
// key, X-Security-Token, then signs the method, the path, the query, every
// header line the request carries by then and the SHA-256 of the body into
// Authorization, sent in place of X-Auth-Token. Host is sent as signed, so
// the signature covers exactly what goes on the wire. The secret key and the
// security token stay in SecretBytes; the header lines are SecureStrings.
//
// Thread-safety: Sign() may be called from any number of threads at once.
#ifndef KMSFS_KMS_REQUEST_SIGNER_H_
#define KMSFS_KMS_REQUEST_SIGNER_H_

#include <cstdint>
#include <string>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/connection_config.h"
#include "kms/http_exchange.h"

namespace kmsfs::kms {

class RequestSigner {
 public:
  // From the AK/SK fields of `config` (config.uses_access_key() must hold).
  explicit RequestSigner(const ConnectionConfig& config);

  // Adds the signing header lines to `request` (method, url, body and the
  // header lines it has are final) for a signature made at `now_sec` (Unix
  // time). kInvalidArgument for a URL without scheme or a malformed header
  // line; `request` is unchanged then.
  [[nodiscard]] Status Sign(HttpRequest& request, int64_t now_sec) const;

  const std::string& access_key() const { return access_key_; }

 private:
  std::string access_key_;
  SecretBytes secret_key_;
  SecretBytes security_token_;
  std::string project_id_;
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_REQUEST_SIGNER_H_
