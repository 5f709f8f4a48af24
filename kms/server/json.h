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

#include <cstddef>
#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "base/secure_string.h"

namespace kmsfs::kms::server {

using Json = nlohmann::basic_json<std::map, std::vector, SecureString, bool, std::int64_t, std::uint64_t, double,
                                  ::kmsfs::WipingAllocator>;

// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
inline SecureString DumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Overwrites the characters of `s` with zeros (for strings short enough to
// live inside the string object, which the allocator does not see).
inline void WipeSecure(SecureString& s) { sodium_memzero(s.data(), s.size()); }

// The deepest nesting of arrays and objects ParseJson accepts. nlohmann
// parses iteratively, but copying, comparing and serializing a value recurse
// once per level: a hostile body nested 100 000 deep would overflow a
// worker's stack in any of them. No body of the API nests deeper than 3.
inline constexpr size_t kMaxJsonDepth = 64;

// True when no array or object in `text` opens more than `max_depth` levels
// deep (brackets inside strings do not count). Linear, no recursion, no
// allocation; it does not check that `text` is JSON.
inline bool JsonNestsAtMost(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Parses `text`; a discarded value when it is not JSON or nests deeper than
// kMaxJsonDepth.
inline Json ParseJson(std::string_view text) {
  if (!JsonNestsAtMost(text, kMaxJsonDepth)) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_JSON_H_
