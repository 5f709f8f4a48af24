// Request: one KMS action's JSON body, checked in the generic order of
// spec/kms-api.md §1.8 before any action-specific rule runs:
//   1. the body is a JSON object (an empty body counts as {})  -> KMS.0202
//   2. every declared field present has its declared JSON type -> KMS.0202
//      (JSON null counts as absent)
//   3. every required field is present                         -> KMS.0204
//   4. `sequence`, when present, is a 36-character serial       -> KMS.0206
// Undeclared fields are ignored. Top-level string values are wiped when the
// Request dies, since some carry DEKs (encrypt-datakey's plain_text).
//
// Thread-safety: a value; one object per request thread.
#ifndef KMSFS_KMS_SERVER_REQUEST_H_
#define KMSFS_KMS_SERVER_REQUEST_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kms/server/json.h"

#include "base/status.h"

namespace kmsfs::kms::server {

enum class FieldType {
  kString,          // JSON string
  kDecimal,         // numeric string, or a JSON integer (clients differ: the
                    // SDK sends "512", otcextensions 512)
  kStringOrNumber,  // JSON string or number (expiration_time)
  kStringArray,     // JSON array of strings
  kObject,          // JSON object (encryption_context)
};

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required;
};

class Request {
 public:
  // `fields` need not list "sequence"; it is always an optional string.
  static StatusOr<Request> Parse(std::string_view body, std::span<const FieldSpec> fields);

  Request(Request&&) = default;
  Request& operator=(Request&&) = default;
  ~Request();

  // The field's value; nullptr when absent or null.
  const Json* Get(std::string_view name) const;
  // A string field's value; nullopt when absent or null.
  std::optional<std::string_view> String(std::string_view name) const;
  // Like String, but "" also counts as absent (list paging and optional names).
  std::optional<std::string_view> NonEmptyString(std::string_view name) const;

  // A kDecimal field. `present` is false when absent or null (or "" with
  // `empty_is_absent`); `value` is empty when present but not a whole
  // number from 0 to 999999999999999 (the action then answers its range
  // error, as for "-1" or "x").
  struct Decimal {
    bool present = false;
    std::optional<int64_t> value;
  };
  Decimal DecimalField(std::string_view name, bool empty_is_absent = false) const;

 private:
  Request() = default;
  Json body_;
};

// The canonical encryption context (keys sorted by byte order, compact JSON,
// UTF-8) that is bound to ciphertexts; "" when absent or {}. KMS.0208 when a
// value is not a string or the canonical form exceeds 8192 bytes.
StatusOr<std::string> CanonicalEncryptionContext(const Request& request);

// What a ciphertext is bound to besides its key: the canonical encryption
// context, then, when additional_authenticated_data is given and not "", a
// zero byte (never part of canonical JSON), its length as 4 bytes big-endian
// and the bytes themselves. Without AAD this is the canonical context alone,
// as for every ciphertext made before AAD was bound. KMS.0308 for AAD over
// 128 bytes.
StatusOr<std::string> BoundData(const Request& request);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_REQUEST_H_
