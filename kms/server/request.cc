#include "kms/server/request.h"

#include "base/hex.h"
#include "kms/server/api_error.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kMaxContextBytes = 8192;

bool HasType(const Json& v, FieldType type) {
  switch (type) {
    case FieldType::kString: return v.is_string();
    case FieldType::kDecimal: return v.is_string() || v.is_number_integer();
    case FieldType::kStringOrNumber: return v.is_string() || v.is_number();
    case FieldType::kObject: return v.is_object();
    case FieldType::kStringArray:
      if (!v.is_array()) return false;
      for (const auto& e : v) {
        if (!e.is_string()) return false;
      }
      return true;
  }
  return false;
}

bool IsBlank(std::string_view body) {
  for (char c : body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

StatusOr<Request> Request::Parse(std::string_view body, std::span<const FieldSpec> fields) {
  Request r;
  if (IsBlank(body)) {
    r.body_ = Json::object();
  } else {
    r.body_ = ParseJson(body);  // bounded nesting: the service copies and dumps parts of it
    if (r.body_.is_discarded() || !r.body_.is_object()) return KmsError("KMS.0202");
  }
  for (const FieldSpec& f : fields) {
    const Json* v = r.Get(f.name);
    if (v != nullptr && !HasType(*v, f.type)) return KmsError("KMS.0202");
  }
  const Json* seq = r.Get("sequence");
  if (seq != nullptr && !seq->is_string()) return KmsError("KMS.0202");
  for (const FieldSpec& f : fields) {
    if (f.required && r.Get(f.name) == nullptr) return KmsError("KMS.0204");
  }
  if (seq != nullptr && !IsSequence(seq->get_ref<const Json::string_t&>())) return KmsError("KMS.0206");
  return r;
}

Request::~Request() {
  if (!body_.is_object()) return;
  for (auto& [key, value] : body_.items()) {
    if (value.is_string()) WipeSecure(value.get_ref<Json::string_t&>());
  }
}

const Json* Request::Get(std::string_view name) const {
  if (!body_.is_object()) return nullptr;
  auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string_view> Request::String(std::string_view name) const {
  const Json* v = Get(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_ref<const Json::string_t&>());
}

std::optional<std::string_view> Request::NonEmptyString(std::string_view name) const {
  auto s = String(name);
  if (s && s->empty()) return std::nullopt;
  return s;
}

Request::Decimal Request::DecimalField(std::string_view name, bool empty_is_absent) const {
  Decimal d;
  const Json* v = Get(name);
  if (v == nullptr) return d;
  if (v->is_string()) {
    const std::string_view s = v->get_ref<const Json::string_t&>();
    if (s.empty() && empty_is_absent) return d;
    d.present = true;
    d.value = ParseDecimal(s);
    return d;
  }
  d.present = true;
  constexpr int64_t kMax = 999'999'999'999'999;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u <= static_cast<uint64_t>(kMax)) d.value = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    const int64_t i = v->get<int64_t>();
    if (i >= 0 && i <= kMax) d.value = i;
  }
  return d;
}

StatusOr<std::string> CanonicalEncryptionContext(const Request& request) {
  const Json* ctx = request.Get("encryption_context");
  if (ctx == nullptr) return std::string();
  if (!ctx->is_object()) return KmsError("KMS.0202");
  if (ctx->empty()) return std::string();
  for (const auto& [key, value] : ctx->items()) {
    if (!value.is_string()) return KmsError("KMS.0208");
  }
  // nlohmann's object is an ordered std::map, so dump() is key-sorted and compact.
  std::string canonical(DumpJson(*ctx));
  if (canonical.size() > kMaxContextBytes) return KmsError("KMS.0208");
  return canonical;
}

StatusOr<std::string> BoundData(const Request& request) {
  constexpr size_t kMaxAadBytes = 128;
  KMSFS_ASSIGN_OR_RETURN(std::string bound, CanonicalEncryptionContext(request));
  const auto aad = request.String("additional_authenticated_data");
  if (!aad || aad->empty()) return bound;
  if (aad->size() > kMaxAadBytes) return KmsError("KMS.0308");
  const uint32_t n = static_cast<uint32_t>(aad->size());
  bound.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) bound.push_back(static_cast<char>((n >> shift) & 0xFF));
  bound.append(aad->data(), aad->size());
  return bound;
}

}  // namespace kmsfs::kms::server
