// KMS API errors as Status values.
//
// Every error kmsd answers on the KMS API is a Status built by KmsError(code):
// it carries an ApiErrorDetail (the documented "KMS.xxxx" code and its HTTP
// status) and its documented
// English message (spec/kms-api.md §1.7), so handlers just return it and the
// HTTP layer renders {"error":{"error_code","error_msg"}} with that status.
// A Status without a detail (an internal failure) renders as 500 KMS.0103.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_API_ERROR_H_
#define KMSFS_KMS_SERVER_API_ERROR_H_

#include <string>
#include <utility>
#include <string_view>

#include "kms/server/json.h"

#include "base/status.h"

namespace kmsfs::kms::server {

// The code and HTTP status kmsd answers for an error.
class ApiErrorDetail final : public StatusDetail {
 public:
  ApiErrorDetail(std::string code, int http_status) : code_(std::move(code)), http_status_(http_status) {}
  const std::string& code() const { return code_; }
  int http_status() const { return http_status_; }
  // "KMS.0207, HTTP 404"
  std::string ToString() const override;

 private:
  std::string code_;
  int http_status_;
};

// `s` answered as `code` with `http_status` (gateway errors: "APIGW.0301", 401).
Status WithApiError(const Status& s, std::string code, int http_status);
// The code `s` carries, or "" for an internal failure.
std::string_view ApiErrorCode(const Status& s);

// The Status for documented error `code` ("KMS.0207"). An unknown code is a
// programming error and yields 500 KMS.0103.
Status KmsError(std::string_view code);

// HTTP status to answer for `s` (its detail's, or 500 when it has none).
int HttpStatusFor(const Status& s);
// HTTP status `s` carries, or 0.
int ApiHttpStatus(const Status& s);
// The KMS code to answer for `s` ("KMS.0103" when it has none).
std::string ErrorCodeFor(const Status& s);
// {"error":{"error_code":…,"error_msg":…}}; internal failures never leak their message.
Json ErrorBody(const Status& s);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_API_ERROR_H_
