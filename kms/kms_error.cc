#include "kms/kms_error.h"

#include <memory>
#include <utility>

namespace kmsfs::kms {

std::string KmsErrorDetail::ToString() const {
  std::string out = code_.empty() ? "no KMS code" : code_;
  if (http_status_ != 0) out += ", HTTP " + std::to_string(http_status_);
  return out;
}

Status WithKmsError(const Status& status, std::string code, int http_status) {
  return status.WithDetail(std::make_shared<KmsErrorDetail>(std::move(code), http_status));
}

std::string_view KmsErrorCode(const Status& status) {
  const auto* detail = status.detail<KmsErrorDetail>();
  return detail != nullptr ? std::string_view(detail->code()) : std::string_view();
}

int KmsHttpStatus(const Status& status) {
  const auto* detail = status.detail<KmsErrorDetail>();
  return detail != nullptr ? detail->http_status() : 0;
}

}  // namespace kmsfs::kms
