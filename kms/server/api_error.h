// KMS API errors as Status values.
//
// Every error kmsd answers on the KMS API is a Status built by KmsError(code):
// it carries the documented "KMS.xxxx" code, its HTTP status and its documented
// English message (spec/kms-api.md §1.7), so handlers just return it and the
// HTTP layer renders {"error":{"error_code","error_msg"}} with that status.
// A Status without a KMS code (an internal failure) renders as 500 KMS.0103.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_API_ERROR_H_
#define KMSFS_KMS_SERVER_API_ERROR_H_

#include <string>
#include <string_view>

#include "kms/server/json.h"

#include "base/status.h"

namespace kmsfs::kms::server {

// The Status for documented error `code` ("KMS.0207"). An unknown code is a
// programming error and yields 500 KMS.0103.
Status KmsError(std::string_view code);

// HTTP status to answer for `s` (its http_status(), or 500 when it has none).
int HttpStatusFor(const Status& s);
// The KMS code to answer for `s` ("KMS.0103" when it has none).
std::string ErrorCodeFor(const Status& s);
// {"error":{"error_code":…,"error_msg":…}}; internal failures never leak their message.
Json ErrorBody(const Status& s);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_API_ERROR_H_
