#include "kms/server/identity.h"

#include <ctime>

#include "fs/base/hex.h"
#include "kms/server/api_error.h"
#include "kms/server/crypto_util.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kTokenRandomBytes = 48;

const nlohmann::json* Child(const nlohmann::json* obj, const char* key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) return nullptr;
  return &*it;
}

const std::string* StringChild(const nlohmann::json* obj, const char* key) {
  const nlohmann::json* v = Child(obj, key);
  if (v == nullptr || !v->is_string()) return nullptr;
  return &v->get_ref<const std::string&>();
}

constexpr size_t kMaxKnownTokens = 10000;

std::string TokenHash(std::string_view token) { return HexEncode(Sha256(AsBytes(token))); }

std::string NewTokenString() {
  std::string t = Base64Encode(RandomVector(kTokenRandomBytes));
  for (char& c : t) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return t;  // 64 characters, no padding (48 bytes)
}

Status BadRequest(std::string msg) { return Status::InvalidArgument(std::move(msg)); }
Status Unauthorized() { return Status::Unauthenticated("The request you have made requires authentication."); }

}  // namespace

std::string Iso8601Utc(int64_t epoch_ms) {
  time_t secs = static_cast<time_t>(epoch_ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03d000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(epoch_ms % 1000));
  return buf;
}

StatusOr<UserRecord> Identity::MakeUserRecord(const UserSpec& spec, bool builtin) {
  UserRecord u;
  u.id = spec.id;
  u.name = spec.name;
  u.domain = spec.domain;
  u.domain_id = spec.domain_id;
  u.project_id = spec.project_id;
  u.salt = RandomVector(16);
  u.iterations = kPasswordIterations;
  KMSFS_ASSIGN_OR_RETURN(Digest v, Pbkdf2Sha256(spec.password.span(), u.salt, u.iterations));
  u.verifier.assign(v.begin(), v.end());
  u.builtin = builtin;
  u.active = true;
  return u;
}

bool Identity::VerifyPassword(const UserRecord& user, std::span<const uint8_t> password) {
  if (user.iterations <= 0) return false;
  auto v = Pbkdf2Sha256(password, user.salt, user.iterations);
  if (!v.ok()) return false;
  return ConstantTimeEquals(*v, user.verifier);
}

StatusOr<IssuedToken> Identity::IssueToken(const UserRecord& user) {
  IssuedToken t;
  t.token = NewTokenString();
  t.caller = Caller{user.id, user.name, user.domain_id, user.domain, user.project_id};
  t.issued_ms = clock_->NowMs();
  t.expires_ms = t.issued_ms + token_ttl_ms_;
  KMSFS_RETURN_IF_ERROR(store_->PutToken(TokenHash(t.token),
                                         TokenRecord{user.id, user.project_id, t.issued_ms, t.expires_ms}));
  // Forget tokens that expired more than a day ago, so the table stays small.
  (void)store_->PurgeTokensExpiredBefore(t.issued_ms - 86'400'000);
  return t;
}

StatusOr<IssuedToken> Identity::Login(const nlohmann::json& body) {
  const nlohmann::json* auth = Child(&body, "auth");
  if (auth == nullptr || !auth->is_object()) return BadRequest("Expecting to find auth in request body.");
  const nlohmann::json* identity = Child(auth, "identity");
  if (identity == nullptr || !identity->is_object()) {
    return BadRequest("Expecting to find identity in auth.");
  }
  const nlohmann::json* methods = Child(identity, "methods");
  if (methods == nullptr || !methods->is_array()) return BadRequest("Expecting to find methods in identity.");
  bool has_password = false;
  for (const auto& m : *methods) {
    if (m.is_string() && m.get_ref<const std::string&>() == "password") has_password = true;
  }
  if (!has_password) return Status::Unauthenticated("Only the password method is supported.");
  const nlohmann::json* user = Child(Child(identity, "password"), "user");
  if (user == nullptr || !user->is_object()) return BadRequest("Expecting to find user in password.");
  const std::string* password = StringChild(user, "password");
  if (password == nullptr) return BadRequest("Expecting to find password in user.");

  std::optional<UserRecord> record;
  if (const std::string* id = StringChild(user, "id")) {
    KMSFS_ASSIGN_OR_RETURN(record, store_->FindUserById(*id));
    if (record && !record->active) record.reset();
  } else {
    const std::string* name = StringChild(user, "name");
    const nlohmann::json* domain = Child(user, "domain");
    if (name == nullptr || domain == nullptr || !domain->is_object()) {
      return BadRequest("Expecting to find user name and domain in user.");
    }
    const std::string* domain_name = StringChild(domain, "name");
    const std::string* domain_id = StringChild(domain, "id");
    if (domain_name == nullptr && domain_id == nullptr) {
      return BadRequest("Expecting to find domain name or id in user.");
    }
    KMSFS_ASSIGN_OR_RETURN(record, store_->FindActiveUser(*name, domain_name ? *domain_name : std::string(),
                                                          domain_id ? *domain_id : std::string()));
  }
  if (!record || !VerifyPassword(*record, AsBytes(*password))) return Unauthorized();

  if (const nlohmann::json* scope = Child(auth, "scope")) {
    const nlohmann::json* project = Child(scope, "project");
    if (project == nullptr || !project->is_object()) {
      return Status::Unauthenticated("kmsd issues project-scoped tokens only; scope a project.");
    }
    const std::string* pid = StringChild(project, "id");
    const std::string* pname = StringChild(project, "name");
    if (pid == nullptr && pname == nullptr) return BadRequest("Expecting to find project id or name in scope.");
    const std::string& wanted = pid ? *pid : *pname;
    if (wanted != record->project_id) return Status::Unauthenticated("User has no access to project.");
  }
  return IssueToken(*record);
}

StatusOr<IssuedToken> Identity::Lookup(std::string_view token, bool* expired) const {
  *expired = false;
  if (token.empty() || token.size() > 4096) return Status::NotFound("unknown token");
  const std::string hash = TokenHash(token);
  {
    std::lock_guard<std::mutex> lock(known_mu_);
    if (auto it = known_.find(hash); it != known_.end()) {
      *expired = it->second.expires_ms <= clock_->NowMs();
      return it->second;
    }
  }
  KMSFS_ASSIGN_OR_RETURN(std::optional<TokenRecord> rec, store_->FindToken(hash));
  if (!rec) return Status::NotFound("unknown token");
  KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> user, store_->FindUserById(rec->user_id));
  if (!user || !user->active) return Status::NotFound("token of an unknown user");
  if (rec->expires_ms <= clock_->NowMs()) *expired = true;
  IssuedToken t;
  t.caller = Caller{user->id, user->name, user->domain_id, user->domain, rec->project_id};
  t.issued_ms = rec->issued_ms;
  t.expires_ms = rec->expires_ms;
  std::lock_guard<std::mutex> lock(known_mu_);
  if (known_.size() >= kMaxKnownTokens) known_.clear();
  known_.emplace(hash, t);
  return t;
}

StatusOr<Caller> Identity::Authenticate(std::string_view token) const {
  while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return KmsError("KMS.0301");
  bool expired = false;
  auto t = Lookup(token, &expired);
  if (!t.ok()) {
    if (t.status().code() == StatusCode::kNotFound) return KmsError("KMS.0302");
    return t.status();
  }
  if (expired) return KmsError("KMS.0303");
  return t->caller;
}

StatusOr<IssuedToken> Identity::Describe(std::string_view auth_token, std::string_view subject_token) const {
  bool expired = false;
  auto auth = Lookup(auth_token, &expired);
  if (!auth.ok() || expired) return Unauthorized();
  auto subject = Lookup(subject_token, &expired);
  if (!subject.ok() || expired) return Status::NotFound("Could not find token.");
  return subject;
}

nlohmann::json Identity::TokenBody(const IssuedToken& t) {
  const Caller& c = t.caller;
  nlohmann::json domain = {{"id", c.domain_id}, {"name", c.domain_name}};
  return {{"token",
           {{"expires_at", Iso8601Utc(t.expires_ms)},
            {"issued_at", Iso8601Utc(t.issued_ms)},
            {"methods", nlohmann::json::array({"password"})},
            {"project", {{"id", c.project_id}, {"name", c.project_id}, {"domain", domain}}},
            {"user", {{"id", c.user_id}, {"name", c.user_name}, {"domain", domain}}}}}};
}

}  // namespace kmsfs::kms::server
