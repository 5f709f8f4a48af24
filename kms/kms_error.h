// What a KMS said when it refused a call: its error code ("KMS.0306",
// "APIGW.0301") and HTTP status, attached to the Status the client returns.
//
// Callers branch on the code (a default master key cannot be granted:
// KMS.0211) and print it; the Status code stays the generic category.
//
// Thread-safety: values and pure functions.
#ifndef KMSFS_KMS_KMS_ERROR_H_
#define KMSFS_KMS_KMS_ERROR_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace kmsfs::kms {

class KmsErrorDetail final : public StatusDetail {
 public:
  KmsErrorDetail(std::string code, int http_status) : code_(std::move(code)), http_status_(http_status) {}

  // Empty when the answer named no code (a gateway's bare 401, say).
  const std::string& code() const { return code_; }
  int http_status() const { return http_status_; }

  // "KMS.0306, HTTP 403"
  std::string ToString() const override;

 private:
  std::string code_;
  int http_status_;
};

// `status` carrying the KMS's answer. OK stays OK.
Status WithKmsError(const Status& status, std::string code, int http_status);
// The KMS's error code in `status`, or "" when the KMS did not answer with one.
std::string_view KmsErrorCode(const Status& status);
// The KMS's HTTP status in `status`, or 0.
int KmsHttpStatus(const Status& status);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_KMS_ERROR_H_
