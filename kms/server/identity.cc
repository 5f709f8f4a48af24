#include "kms/server/identity.h"

#include <ctime>

#include "fs/base/hex.h"
#include "kms/server/api_error.h"
#include "kms/server/crypto_util.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kTokenRandomBytes = 48;

const Json* Child(const Json* obj, const char* key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) return nullptr;
  return &*it;
}

const Json::string_t* StringChild(const Json* obj, const char* key) {
  const Json* v = Child(obj, key);
  if (v == nullptr || !v->is_string()) return nullptr;
  return &v->get_ref<const Json::string_t&>();
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

Identity::Identity(Store* store, const WallClock* clock, Options options)
    : store_(store),
      clock_(clock),
      token_ttl_ms_(options.token_ttl_sec * 1000),
      hasher_(options.hashing),
      throttle_(options.throttle) {}

StatusOr<UserRecord> Identity::MakeUserRecord(const UserSpec& spec, bool builtin) {
  UserRecord u;
  u.id = spec.id;
  u.name = spec.name;
  u.domain = spec.domain;
  u.domain_id = spec.domain_id;
  u.project_id = spec.project_id;
  u.project_name = spec.project_name.empty() ? spec.project_id : spec.project_name;
  u.role = spec.role;
  if (!spec.password_hash.empty()) {
    u.password_hash = spec.password_hash;
  } else {
    KMSFS_ASSIGN_OR_RETURN(u.password_hash, hasher_.Hash(spec.password.span()));
  }
  u.builtin = builtin;
  u.active = true;
  return u;
}

Status Identity::MatchUnknownUserCost() {
  KMSFS_ASSIGN_OR_RETURN(std::vector<UserRecord> users, store_->ListActiveUsers());
  for (const UserRecord& u : users) hasher_.MatchCostOf(u.password_hash);
  return Status::Ok();
}

StatusOr<bool> Identity::CheckPassword(UserRecord& user, std::span<const uint8_t> password) {
  if (!user.password_hash.empty()) return hasher_.Verify(user.password_hash, password);
  if (user.iterations <= 0) return hasher_.VerifyUnknown(password);
  // A verifier from before Argon2id: check it, and replace it if it matches.
  KMSFS_ASSIGN_OR_RETURN(Digest v, Pbkdf2Sha256(password, user.salt, user.iterations));
  if (!ConstantTimeEquals(v, user.verifier)) return false;
  KMSFS_ASSIGN_OR_RETURN(user.password_hash, hasher_.Hash(password));
  user.salt.clear();
  user.verifier.clear();
  user.iterations = 0;
  KMSFS_RETURN_IF_ERROR(store_->PutUser(user));
  return true;
}

StatusOr<IssuedToken> Identity::IssueToken(const UserRecord& user) {
  IssuedToken t;
  t.token = NewTokenString();
  t.caller = Caller{user.id, user.name, user.domain_id, user.domain, user.project_id, user.role, user.project_name};
  t.issued_ms = clock_->NowMs();
  t.expires_ms = t.issued_ms + token_ttl_ms_;
  KMSFS_RETURN_IF_ERROR(store_->PutToken(TokenHash(t.token),
                                         TokenRecord{user.id, user.project_id, t.issued_ms, t.expires_ms}));
  // Forget tokens that expired more than a day ago, so the table stays small.
  (void)store_->PurgeTokensExpiredBefore(t.issued_ms - 86'400'000);
  return t;
}

StatusOr<IssuedToken> Identity::Login(const Json& body, std::string_view peer,
                                      std::chrono::milliseconds* retry_after) {
  *retry_after = std::chrono::milliseconds(0);
  const Json* auth = Child(&body, "auth");
  if (auth == nullptr || !auth->is_object()) return BadRequest("Expecting to find auth in request body.");
  const Json* identity = Child(auth, "identity");
  if (identity == nullptr || !identity->is_object()) {
    return BadRequest("Expecting to find identity in auth.");
  }
  const Json* methods = Child(identity, "methods");
  if (methods == nullptr || !methods->is_array()) return BadRequest("Expecting to find methods in identity.");
  bool has_password = false;
  for (const auto& m : *methods) {
    if (m.is_string() && m.get_ref<const Json::string_t&>() == "password") has_password = true;
  }
  if (!has_password) return Status::Unauthenticated("Only the password method is supported.");
  const Json* user = Child(Child(identity, "password"), "user");
  if (user == nullptr || !user->is_object()) return BadRequest("Expecting to find user in password.");
  const Json::string_t* password = StringChild(user, "password");
  if (password == nullptr) return BadRequest("Expecting to find password in user.");

  std::optional<UserRecord> record;
  std::string login;  // who the client says it is, for the throttle
  if (const Json::string_t* id = StringChild(user, "id")) {
    login = "id:" + std::string(*id);
    KMSFS_ASSIGN_OR_RETURN(record, store_->FindUserById(*id));
    if (record && !record->active) record.reset();
  } else {
    const Json::string_t* name = StringChild(user, "name");
    const Json* domain = Child(user, "domain");
    if (name == nullptr || domain == nullptr || !domain->is_object()) {
      return BadRequest("Expecting to find user name and domain in user.");
    }
    const Json::string_t* domain_name = StringChild(domain, "name");
    const Json::string_t* domain_id = StringChild(domain, "id");
    if (domain_name == nullptr && domain_id == nullptr) {
      return BadRequest("Expecting to find domain name or id in user.");
    }
    const std::string_view dname = domain_name ? std::string_view(*domain_name) : std::string_view();
    const std::string_view did = domain_id ? std::string_view(*domain_id) : std::string_view();
    login = "name:" + std::string(did) + "/" + std::string(dname) + "/" + std::string(*name);
    KMSFS_ASSIGN_OR_RETURN(record, store_->FindActiveUser(*name, dname, did));
  }
  const auto now = LoginThrottle::Clock::now();
  *retry_after = throttle_.WaitBeforeAttempt(peer, login, now);
  if (retry_after->count() > 0) {
    return Status::ResourceExhausted("Too many failed logins; try again later.");
  }
  // An unknown name costs the same work as a wrong password.
  StatusOr<bool> matched = record ? CheckPassword(*record, AsBytes(*password)) : hasher_.VerifyUnknown(AsBytes(*password));
  if (!matched.ok()) {
    if (matched.status().code() == StatusCode::kResourceExhausted) *retry_after = std::chrono::milliseconds(1000);
    return matched.status();
  }
  if (!*matched) {
    throttle_.RecordFailure(peer, login, now);
    return Unauthorized();
  }
  throttle_.RecordSuccess(peer, login);

  if (const Json* scope = Child(auth, "scope")) {
    const Json* project = Child(scope, "project");
    if (project == nullptr || !project->is_object()) {
      return Status::Unauthenticated("kmsd issues project-scoped tokens only; scope a project.");
    }
    const Json::string_t* pid = StringChild(project, "id");
    const Json::string_t* pname = StringChild(project, "name");
    if (pid == nullptr && pname == nullptr) return BadRequest("Expecting to find project id or name in scope.");
    const bool by_id = pid != nullptr && std::string_view(*pid) == record->project_id;
    const bool by_name = pid == nullptr && std::string_view(*pname) == record->project_name;
    if (!by_id && !by_name) return Status::Unauthenticated("User has no access to project.");
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
  t.caller = Caller{user->id, user->name, user->domain_id, user->domain, rec->project_id, user->role,
                    rec->project_id == user->project_id ? user->project_name : rec->project_id};
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

Json Identity::TokenBody(const IssuedToken& t) {
  const Caller& c = t.caller;
  Json domain = {{"id", c.domain_id}, {"name", c.domain_name}};
  return {{"token",
           {{"expires_at", Iso8601Utc(t.expires_ms)},
            {"issued_at", Iso8601Utc(t.issued_ms)},
            {"methods", Json::array({"password"})},
            {"project", {{"id", c.project_id},
                         {"name", c.project_name.empty() ? c.project_id : c.project_name},
                         {"domain", domain}}},
            {"user", {{"id", c.user_id}, {"name", c.user_name}, {"domain", domain}}}}}};
}

}  // namespace kmsfs::kms::server
