#include "kms/api_json.h"

#include <sodium.h>

#include <array>
#include <charconv>

#include "base/hex.h"

namespace kmsfs::kms {
namespace {

using nlohmann::json;

const json* Find(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<std::string> GetStringArray(const json& object, std::string_view key) {
  std::vector<std::string> out;
  const json* v = Find(object, key);
  if (v == nullptr || !v->is_array()) return out;
  for (const json& e : *v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace

std::optional<json> ParseObject(std::string_view body) {
  size_t i = 0;
  while (i < body.size() && IsSpace(body[i])) ++i;
  if (i == body.size()) return json::object();
  json parsed = json::parse(body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

std::string GetText(const json& object, std::string_view key) {
  const json* v = Find(object, key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  if (v->is_number()) return v->dump();
  return "";
}

std::optional<int64_t> GetInt(const json& object, std::string_view key) {
  const json* v = Find(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) return out;
  }
  return std::nullopt;
}

bool GetBool(const json& object, std::string_view key) {
  const json* v = Find(object, key);
  if (v == nullptr) return false;
  if (v->is_boolean()) return v->get<bool>();
  return v->is_string() && v->get_ref<const std::string&>() == "true";
}

KeyInfo ParseKeyInfo(const json& o) {
  KeyInfo k;
  k.key_id = GetText(o, "key_id");
  k.domain_id = GetText(o, "domain_id");
  k.key_alias = GetText(o, "key_alias");
  k.realm = GetText(o, "realm");
  k.key_description = GetText(o, "key_description");
  k.key_spec = GetText(o, "key_spec");
  k.key_usage = GetText(o, "key_usage");
  k.creation_date = GetText(o, "creation_date");
  k.scheduled_deletion_date = GetText(o, "scheduled_deletion_date");
  k.key_state = GetText(o, "key_state");
  k.default_key_flag = GetText(o, "default_key_flag");
  k.key_type = GetText(o, "key_type");
  k.expiration_time = GetText(o, "expiration_time");
  k.origin = GetText(o, "origin");
  return k;
}

Grant ParseGrant(const json& o) {
  Grant g;
  g.key_id = GetText(o, "key_id");
  g.grant_id = GetText(o, "grant_id");
  g.grantee_principal = GetText(o, "grantee_principal");
  g.grantee_principal_type = GetText(o, "grantee_principal_type");
  g.operations = GetStringArray(o, "operations");
  g.issuing_principal = GetText(o, "issuing_principal");
  g.creation_date = GetText(o, "creation_date");
  g.name = GetText(o, "name");
  g.retiring_principal = GetText(o, "retiring_principal");
  return g;
}

KeyList ParseKeyList(const json& o) {
  KeyList list;
  list.keys = GetStringArray(o, "keys");
  if (const json* details = Find(o, "key_details"); details != nullptr && details->is_array()) {
    for (const json& d : *details) {
      if (d.is_object()) list.key_details.push_back(ParseKeyInfo(d));
    }
  }
  list.next_marker = GetText(o, "next_marker");
  list.truncated = GetBool(o, "truncated");
  list.total = GetInt(o, "total").value_or(static_cast<int64_t>(list.keys.size()));
  return list;
}

GrantList ParseGrantList(const json& o) {
  GrantList list;
  if (const json* grants = Find(o, "grants"); grants != nullptr && grants->is_array()) {
    for (const json& g : *grants) {
      if (g.is_object()) list.grants.push_back(ParseGrant(g));
    }
  }
  list.next_marker = GetText(o, "next_marker");
  list.truncated = GetBool(o, "truncated");
  list.total = GetInt(o, "total").value_or(static_cast<int64_t>(list.grants.size()));
  return list;
}

ErrorBody ParseErrorBody(std::string_view body) {
  ErrorBody out;
  std::optional<json> parsed = ParseObject(body);
  if (!parsed) return out;
  const json* err = Find(*parsed, "error");
  if (err == nullptr || !err->is_object()) {
    // Some gateways answer flat: {"error_code":"…","error_msg":"…"}.
    err = &*parsed;
  }
  out.code = GetText(*err, "error_code");
  out.message = GetText(*err, "error_msg");
  if (out.message.empty()) out.message = GetText(*err, "message");
  if (out.message.empty()) out.message = GetText(*err, "title");
  return out;
}

StatusOr<SecretBytes> TakeHexSecretField(SecureString& body, std::string_view name) {
  // Built by append: g++ 12 at -O3 raises a false -Wrestrict on
  // "literal" + std::string (GCC bug 105329).
  std::string needle;
  needle.reserve(name.size() + 2);
  needle.append(1, '"').append(name).append(1, '"');
  size_t from = 0;
  while (true) {
    const size_t at = body.find(needle.data(), from, needle.size());
    if (at == SecureString::npos) break;
    size_t i = at + needle.size();
    from = at + 1;
    while (i < body.size() && IsSpace(body[i])) ++i;
    if (i == body.size() || body[i] != ':') continue;  // a value, not a key
    ++i;
    while (i < body.size() && IsSpace(body[i])) ++i;
    if (i == body.size() || body[i] != '"') {
      return Status::InvalidArgument(std::string(name) + " is not a string");
    }
    const size_t begin = i + 1;
    const size_t end = body.find('"', begin);
    if (end == SecureString::npos) return Status::InvalidArgument("unterminated " + std::string(name));
    StatusOr<SecretBytes> decoded = HexDecodeSecret(std::string_view(body.data() + begin, end - begin));
    for (size_t j = begin; j < end; ++j) body[j] = '0';
    if (!decoded.ok()) return Status::InvalidArgument(std::string(name) + " is not hex");
    return decoded;
  }
  return Status::InvalidArgument("no " + std::string(name) + " in the answer");
}

bool IsTakenSecretField(const json& object, std::string_view name, size_t secret_size) {
  const json* v = Find(object, name);
  if (v == nullptr || !v->is_string()) return false;
  const std::string& s = v->get_ref<const std::string&>();
  return s.size() == 2 * secret_size && s.find_first_not_of('0') == std::string::npos;
}

StatusOr<DataKey> ParseCreateDataKeyAnswer(SecureString& body, size_t length_bytes) {
  // The DEK is cut out of the raw body before the rest goes through the JSON parser.
  StatusOr<SecretBytes> plain = TakeHexSecretField(body, "plain_text");
  if (!plain.ok()) return Status::Internal("bad answer: " + plain.status().message());
  std::optional<json> answer = ParseObject(body);
  if (!answer || !IsTakenSecretField(*answer, "plain_text", plain->size())) {
    return Status::Internal("the KMS answer is not well formed");
  }
  if (plain->size() != length_bytes) {
    return Status::Internal("got a " + std::to_string(plain->size()) + "-byte data key, asked for " +
                            std::to_string(length_bytes));
  }
  DataKey out;
  out.key_id = GetText(*answer, "key_id");
  out.cipher_text = GetText(*answer, "cipher_text");
  out.plain = std::move(plain).value();
  if (out.cipher_text.empty()) return Status::Internal("the answer has no cipher_text");
  return out;
}

StatusOr<SecretBytes> ParseDecryptDataKeyAnswer(SecureString& body, size_t dek_length) {
  StatusOr<SecretBytes> dek = TakeHexSecretField(body, "data_key");
  if (!dek.ok()) return Status::Internal("bad answer: " + dek.status().message());
  std::optional<json> answer = ParseObject(body);
  if (!answer || !IsTakenSecretField(*answer, "data_key", dek->size())) {
    return Status::Internal("the KMS answer is not well formed");
  }
  if (dek->size() != dek_length) {
    return Status::DataLoss("got a " + std::to_string(dek->size()) + "-byte data key, expected " +
                            std::to_string(dek_length));
  }
  StatusOr<std::vector<uint8_t>> dgst = HexDecode(GetText(*answer, "datakey_dgst"));
  if (!dgst.ok() || dgst->size() != crypto_hash_sha256_BYTES) {
    return Status::DataLoss("the answer has no valid datakey_dgst");
  }
  std::array<uint8_t, crypto_hash_sha256_BYTES> actual{};
  crypto_hash_sha256(actual.data(), dek->data(), dek->size());
  const bool match = sodium_memcmp(actual.data(), dgst->data(), actual.size()) == 0;
  sodium_memzero(actual.data(), actual.size());
  if (!match) return Status::DataLoss("the returned data key does not match its datakey_dgst");
  return dek;
}

StatusOr<std::string> ParseCipherTextAnswer(std::string_view body) {
  std::optional<json> answer = ParseObject(body);
  if (!answer) return Status::Internal("the KMS answer is not a JSON object");
  std::string cipher = GetText(*answer, "cipher_text");
  if (cipher.empty()) return Status::Internal("the answer has no cipher_text");
  return cipher;
}

json ContextJson(const EncryptionContext& ctx) {
  if (ctx.empty()) return nullptr;
  json out = json::object();
  for (const auto& [k, v] : ctx) out[k] = v;
  return out;
}

void AppendHexUpper(std::span<const uint8_t> bytes, SecureString& out) {
  out.reserve(out.size() + 2 * bytes.size());
  for (uint8_t b : bytes) {
    for (int nibble : {b >> 4, b & 0xf}) {
      // '0'+n for n <= 9, 'A'+n-10 for n >= 10, selected by a mask instead of a branch.
      const int above9 = ((9 - nibble) >> 8) & 7;
      out.push_back(static_cast<char>('0' + nibble + above9));
    }
  }
}

void AppendJsonEscaped(std::span<const uint8_t> bytes, SecureString& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + bytes.size() + 8);
  for (uint8_t c : bytes) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

SecureString SpliceSecretMember(std::string_view name, const SecureString& raw_value, const json& rest) {
  const std::string rest_text = rest.dump();  // "{...}" with at least one member
  SecureString out;
  out.reserve(name.size() + raw_value.size() + rest_text.size() + 8);
  out += "{\"";
  out.append(name.data(), name.size());
  out += "\":\"";
  out += raw_value;
  out += '"';
  if (rest_text.size() > 2) {
    out += ',';
    out.append(rest_text, 1, std::string::npos);
  } else {
    out += '}';
  }
  return out;
}

}  // namespace kmsfs::kms
