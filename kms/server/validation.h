// Field syntax of the KMS v1.0 API (spec/kms-api.md §1.4), checked without
// std::regex so that hostile input of any length costs linear time and no
// stack. Each predicate states the documented pattern it implements.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_VALIDATION_H_
#define KMSFS_KMS_SERVER_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kmsfs::kms::server {

// ^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$
bool IsKeyId(std::string_view s);
// ^[a-zA-Z0-9:/_-]{1,255}$ (key_alias and grant name)
bool IsAliasSyntax(std::string_view s);
// ^[A-Fa-f0-9]{64}$
bool IsGrantId(std::string_view s);
// ^[a-zA-Z0-9]{1,64}$ (grantee/retiring/issuing principal, user ids)
bool IsPrincipal(std::string_view s);
// 36 characters of [0-9a-zA-Z-] (request serial number, e.g. a UUID).
bool IsSequence(std::string_view s);
// ^[0-9a-zA-Z+/=]{min,max}$
bool IsBase64Text(std::string_view s, size_t min_len, size_t max_len);
// ^[a-zA-Z0-9_-]{1,64}$ (realm, project ids)
bool IsSimpleName(std::string_view s);

// Unsigned decimal without sign, spaces or leading '+'; at most 15 digits.
std::optional<int64_t> ParseDecimal(std::string_view s);
// Number of code points in valid UTF-8 (input is known valid: it came from JSON).
size_t Utf8Length(std::string_view s);
bool EndsWith(std::string_view s, std::string_view suffix);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_VALIDATION_H_
