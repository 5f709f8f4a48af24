// Json: the JSON value type of kmsd, nlohmann::basic_json whose strings and
// containers live in wiping memory.
//
// Request and answer bodies carry DEKs (encrypt-datakey's plain_text,
// create-datakey's and decrypt-datakey's answers), passwords and secret
// access keys. With this type every buffer the parser, the values and the
// serializer allocate is cleared when it is freed, including the buffers a
// growing string leaves behind, so a freed body keeps no copy of a key.
//
// Thread-safety: a value type, like nlohmann::json.
#ifndef KMSFS_KMS_SERVER_JSON_H_
#define KMSFS_KMS_SERVER_JSON_H_

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "kms/secure_string.h"

namespace kmsfs::kms::server {

using SecureString = kms::SecureString;

using Json = nlohmann::basic_json<std::map, std::vector, SecureString, bool, std::int64_t, std::uint64_t, double,
                                  kms::WipingAllocator>;

// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
inline SecureString DumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Overwrites the characters of `s` with zeros (for strings short enough to
// live inside the string object, which the allocator does not see).
inline void WipeSecure(SecureString& s) { sodium_memzero(s.data(), s.size()); }

// Parses `text`; a discarded value when it is not JSON.
inline Json ParseJson(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_JSON_H_
