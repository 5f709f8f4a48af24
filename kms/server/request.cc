#include "kms/server/request.h"

#include "fs/base/hex.h"
#include "kms/server/api_error.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kMaxContextBytes = 8192;

bool HasType(const Json& v, FieldType type) {
  switch (type) {
    case FieldType::kString: return v.is_string();
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
    r.body_ = Json::parse(body, nullptr, /*allow_exceptions=*/false);
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

}  // namespace kmsfs::kms::server
