// The KMS v1.0 wire format: JSON bodies to and from the typed values of
// api_types.h (spec/kms-api.md).
//
// Requests send every scalar as a JSON string ("datakey_length":"512"), as the
// API wants (§1.3). Responses are read tolerantly: unknown fields are ignored,
// scalars may come as strings or numbers, `total` as an integer, `truncated`
// as "true"/"false" or a boolean, `key_info` as an object.
//
// Secret fields never pass through nlohmann::json (whose parser keeps
// unwiped copies): outgoing ones are spliced into a SecureString next to the
// JSON of the other fields, incoming ones are cut out of the raw body
// (decoded into SecretBytes and overwritten with '0') before the body is
// parsed.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_API_JSON_H_
#define KMSFS_KMS_API_JSON_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/api_types.h"
#include "base/secure_string.h"

namespace kmsfs::kms {

// --- reading
// Parses a body; an empty body reads as {}. Returns nullopt unless the body is a JSON object.
std::optional<nlohmann::json> ParseObject(std::string_view body);
// Field as text: strings as they are, numbers in decimal, booleans "true"/"false"; "" if absent/null.
std::string GetText(const nlohmann::json& object, std::string_view key);
// Field as integer: a JSON integer or a decimal string; nullopt otherwise.
std::optional<int64_t> GetInt(const nlohmann::json& object, std::string_view key);
// "true"/true -> true; anything else false.
bool GetBool(const nlohmann::json& object, std::string_view key);

KeyInfo ParseKeyInfo(const nlohmann::json& object);
Grant ParseGrant(const nlohmann::json& object);
KeyList ParseKeyList(const nlohmann::json& object);
GrantList ParseGrantList(const nlohmann::json& object);

// The error body {"error":{"error_code":"KMS.0207","error_msg":"..."}}; also
// understands the Keystone shape {"error":{"code":401,"message":"...","title":"..."}}.
struct ErrorBody {
  std::string code;     // "KMS.0207"; empty when the body had none
  std::string message;  // the service's message; empty when none
};
ErrorBody ParseErrorBody(std::string_view body);

// Finds the string field `"name": "<hex>"` in a raw JSON body, decodes the hex
// into secure memory and overwrites the hex digits in `body` with '0', so the
// body can then be parsed without copying the secret. Fails if the field is
// missing, not a string or not hex.
StatusOr<SecretBytes> TakeHexSecretField(SecureString& body, std::string_view name);
// After parsing a body that went through TakeHexSecretField: true when the
// parsed object's `name` is the overwritten field (a string of `secret_size`*2
// zeros), i.e. the bytes taken really were that top-level member.
bool IsTakenSecretField(const nlohmann::json& object, std::string_view name, size_t secret_size);

// --- whole answers: what HttpClient reads out of a 2xx body (fuzzed by
// tests/fuzz/fuzz_kms_answer). Failures carry the code HttpClient reports:
// kInternal for a malformed answer, kDataLoss for a key that does not match
// what was asked or its digest. The messages never contain key material.
//
// create-datakey: the DEK (`plain_text`, exactly `length_bytes` bytes) and
// `cipher_text`. The DEK's hex digits in `body` are overwritten with '0'.
StatusOr<DataKey> ParseCreateDataKeyAnswer(SecureString& body, size_t length_bytes);
// decrypt-datakey: the DEK (`data_key`, exactly `dek_length` bytes), which
// must match `datakey_dgst` (hex SHA-256, compared in constant time). The
// DEK's hex digits in `body` are overwritten with '0'.
StatusOr<SecretBytes> ParseDecryptDataKeyAnswer(SecureString& body, size_t dek_length);
// encrypt-datakey, create-datakey-without-plaintext, encrypt-data: a non-empty `cipher_text`.
StatusOr<std::string> ParseCipherTextAnswer(std::string_view body);

// --- writing
// The encryption_context object, or null when the context is empty (then it is left out).
nlohmann::json ContextJson(const EncryptionContext& ctx);
// Appends upper-case hex of `bytes` in constant time (no table lookups).
void AppendHexUpper(std::span<const uint8_t> bytes, SecureString& out);
// Appends `bytes` JSON-escaped (quotes, backslashes, control characters), without quotes.
void AppendJsonEscaped(std::span<const uint8_t> bytes, SecureString& out);
// `{"<name>":"<raw_value>",<the members of rest>}`: adds one string member whose
// already-escaped value is secret to a non-empty JSON object.
SecureString SpliceSecretMember(std::string_view name, const SecureString& raw_value, const nlohmann::json& rest);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_API_JSON_H_
