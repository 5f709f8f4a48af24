#include "kms/server/api_error.h"

#include <array>
#include <memory>
#include <utility>

namespace kmsfs::kms::server {
namespace {

struct ErrorDef {
  std::string_view code;
  int http;
  std::string_view message;
};

// spec/kms-api.md §1.7 (documented messages), plus KMS.1102 for create-key's realm.
constexpr std::array kErrors = {
    ErrorDef{"KMS.0201", 400, "Invalid request URL."},
    ErrorDef{"KMS.0202", 400, "Invalid JSON format of the request message."},
    ErrorDef{"KMS.0203", 400, "Request message too long."},
    ErrorDef{"KMS.0204", 400, "Parameters missing in the request message."},
    ErrorDef{"KMS.0205", 400, "Invalid key ID."},
    ErrorDef{"KMS.0206", 400, "Invalid sequence number."},
    ErrorDef{"KMS.0208", 400, "Invalid value of value encryption_context."},
    ErrorDef{"KMS.0209", 400, "The key has been disabled."},
    ErrorDef{"KMS.0210", 400, "The key is in Scheduled deletion state and cannot be used."},
    ErrorDef{"KMS.0211", 400, "Cannot perform this operation on Default Master Keys."},
    ErrorDef{"KMS.0308", 400, "Invalid parameter."},
    ErrorDef{"KMS.0309", 400, "External keys required."},
    ErrorDef{"KMS.0310", 400, "The key is not in Pending import state."},
    ErrorDef{"KMS.0311", 400, "Failed to decrypt data using the RSA private key."},
    ErrorDef{"KMS.0312", 400, "External keys cannot be rotated."},
    ErrorDef{"KMS.0313", 400, "Key rotation is not enabled."},
    ErrorDef{"KMS.0324", 400, "RSA keys cannot be rotated."},
    ErrorDef{"KMS.0325", 400, "The asymmetric key is not support this operation."},
    ErrorDef{"KMS.0335", 400, "The cmk is used to sign and verify."},
    ErrorDef{"KMS.1101", 400, "Invalid key_alias."},
    ErrorDef{"KMS.1102", 400, "Invalid realm."},
    ErrorDef{"KMS.1103", 400, "Invalid key_description."},
    ErrorDef{"KMS.1104", 400, "Duplicate key aliases."},
    ErrorDef{"KMS.1105", 400, "Too many keys."},
    ErrorDef{"KMS.1110", 400, "Invalid alg_type."},
    ErrorDef{"KMS.1114", 400, "EC keys do not support to encrypt/decrypt."},
    ErrorDef{"KMS.1115", 400, "Symmetric keys do not support to sign/verify."},
    ErrorDef{"KMS.1201", 400, "The key is not disabled."},
    ErrorDef{"KMS.1301", 400, "The key is not enabled."},
    ErrorDef{"KMS.1401", 400, "Set the pending deletion period between 7 to 1096 days."},
    ErrorDef{"KMS.1402", 400, "The key is already in Pending deletion state."},
    ErrorDef{"KMS.1501", 400, "The key is not in Pending deletion state."},
    ErrorDef{"KMS.1601", 400, "Invalid limit."},
    ErrorDef{"KMS.1602", 400, "marker must be greater than or equals 0."},
    ErrorDef{"KMS.1801", 400, "random_data_length must be 512 bits."},
    ErrorDef{"KMS.1802", 400, "random_data_length must be a multiple of 8."},
    ErrorDef{"KMS.1901", 400, "datakey_length must be in the range 8 bits to 8,192 bits."},
    ErrorDef{"KMS.1902", 400, "key_spec can only be AES_128 or AES_256."},
    ErrorDef{"KMS.1903", 400, "datakey_length must be a multiple of 8."},
    ErrorDef{"KMS.2001", 400, "datakey_length must be 512 bits."},
    ErrorDef{"KMS.2101", 400, "Invalid plain_text."},
    ErrorDef{"KMS.2102", 400, "datakey_plain_length must be 64 bytes."},
    ErrorDef{"KMS.2103", 400, "Failed to verify the DEK hash."},
    ErrorDef{"KMS.2104", 400, "The length of plain_text does not match datakey_plain_length."},
    ErrorDef{"KMS.2105", 400, "The symmetric key not support this encryption algorithm."},
    ErrorDef{"KMS.2201", 400, "Invalid cipher_text."},
    ErrorDef{"KMS.2202", 400, "datakey_cipher_length must be 64 bytes."},
    ErrorDef{"KMS.2203", 400, "Failed to verify the DEK hash."},
    ErrorDef{"KMS.2204", 400, "The length of cipher_text does not match datakey_cipher_length."},
    ErrorDef{"KMS.2401", 400, "Specify an operation in addition to create-grant."},
    ErrorDef{"KMS.2402", 400, "Invalid user ID."},
    ErrorDef{"KMS.2403", 400, "Failed to create the grant."},
    ErrorDef{"KMS.2404", 400, "Too many CMK grants."},
    ErrorDef{"KMS.2405", 400, "Too many grants."},
    ErrorDef{"KMS.2501", 400, "Invalid grant ID."},
    ErrorDef{"KMS.2502", 400, "grant_id and key_id do not match."},
    ErrorDef{"KMS.2601", 400, "Token expired."},
    ErrorDef{"KMS.2602", 400, "Key expiration time must be later than the current time."},
    ErrorDef{"KMS.2603", 400, "Key IDs in the imported key and token do not match."},
    ErrorDef{"KMS.2604", 400, "The external key plaintext length must be 32 bits."},
    ErrorDef{"KMS.2605", 400, "Token verification failed."},
    ErrorDef{"KMS.2606", 400,
             "You are importing a deleted key again. The imported plaintext must be the same as the "
             "deleted key plaintext."},
    ErrorDef{"KMS.2701", 400, "Key material is not in Enabled or Disabled state and cannot be deleted."},
    ErrorDef{"KMS.2702", 400, "The imported private key material can not be deleted."},
    ErrorDef{"KMS.2901", 400, "Key rotation is not disabled."},
    ErrorDef{"KMS.3001", 400, "Invalid rotation_interval."},
    ErrorDef{"KMS.0301", 403, "Invalid or null X-Auth-Token."},
    ErrorDef{"KMS.0302", 403, "Invalid X-Auth-Token."},
    ErrorDef{"KMS.0303", 403, "X-Auth-Token expired."},
    ErrorDef{"KMS.0305", 403, "Invalid X-Auth-Token project name."},
    ErrorDef{"KMS.0306", 403, "No access permissions."},
    ErrorDef{"KMS.0321", 403, "URIs in URL and X-Auth-Token do not match."},
    ErrorDef{"KMS.0330", 403, "User has no permission."},
    ErrorDef{"KMS.0207", 404, "The key does not exist."},
    ErrorDef{"KMS.0215", 405, "Request method not supported."},
    ErrorDef{"KMS.0101", 500, "KMS error."},
    ErrorDef{"KMS.0102", 500, "Abnormal KMS I/O."},
    ErrorDef{"KMS.0103", 500, "A system exception occurred. Contact technical support."},
    ErrorDef{"KMS.0104", 503, "A system exception occurred. Contact technical support."},
};

StatusCode CodeForHttp(int http) {
  switch (http) {
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 405: return StatusCode::kUnimplemented;
    case 400: return StatusCode::kInvalidArgument;
    default: return StatusCode::kInternal;
  }
}

const ErrorDef* Find(std::string_view code) {
  for (const ErrorDef& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

std::string ApiErrorDetail::ToString() const { return code_ + ", HTTP " + std::to_string(http_status_); }

Status WithApiError(const Status& s, std::string code, int http_status) {
  return s.WithDetail(std::make_shared<ApiErrorDetail>(std::move(code), http_status));
}

std::string_view ApiErrorCode(const Status& s) {
  const auto* detail = s.detail<ApiErrorDetail>();
  return detail != nullptr ? std::string_view(detail->code()) : std::string_view();
}

int ApiHttpStatus(const Status& s) {
  const auto* detail = s.detail<ApiErrorDetail>();
  return detail != nullptr ? detail->http_status() : 0;
}

Status KmsError(std::string_view code) {
  const ErrorDef* def = Find(code);
  if (def == nullptr) def = Find("KMS.0103");
  return WithApiError(Status(CodeForHttp(def->http), std::string(def->message)), std::string(def->code), def->http);
}

int HttpStatusFor(const Status& s) {
  if (ApiErrorCode(s).empty() || ApiHttpStatus(s) == 0) return 500;
  return ApiHttpStatus(s);
}

std::string ErrorCodeFor(const Status& s) {
  if (ApiErrorCode(s).empty()) return "KMS.0103";
  return std::string(ApiErrorCode(s));
}

Json ErrorBody(const Status& s) {
  std::string code = ErrorCodeFor(s);
  std::string msg;
  if (ApiErrorCode(s).empty()) {
    msg = std::string(Find("KMS.0103")->message);
  } else {
    msg = s.message();
  }
  return {{"error", {{"error_code", code}, {"error_msg", msg}}}};
}

}  // namespace kmsfs::kms::server
