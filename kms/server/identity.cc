#include "kms/server/identity.h"

#include <algorithm>
#include <ctime>

#include "base/base64.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"

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

std::string TokenHash(std::string_view token) { return HexEncode(crypto::Sha256(AsBytes(token))); }

std::string NewTokenString() {
  std::string t = Base64Encode(crypto::RandomVector(kTokenRandomBytes));
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

Identity::Identity(Store* store, const Clock* clock, Options options)
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
  KMSFS_ASSIGN_OR_RETURN(crypto::Sha256Digest v, crypto::Pbkdf2Sha256(password, user.salt, user.iterations));
  if (!crypto::ConstantTimeEquals(v, user.verifier)) return false;
  KMSFS_ASSIGN_OR_RETURN(user.password_hash, hasher_.Hash(password));
  user.salt.clear();
  user.verifier.clear();
  user.iterations = 0;
  KMSFS_RETURN_IF_ERROR(store_->PutUser(user));
  return true;
}

namespace {

std::string JoinMethods(const std::vector<std::string>& methods) {
  std::string out;
  for (const std::string& m : methods) out += (out.empty() ? "" : ",") + m;
  return out;
}

std::vector<std::string> SplitMethods(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    if (comma != 0) out.emplace_back(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (out.empty()) out.push_back("password");
  return out;
}

Caller CallerOf(const UserRecord& user, std::string_view project_id) {
  Caller c{user.id, user.name, user.domain_id, user.domain, std::string(project_id), user.role};
  c.project_name = project_id == user.project_id ? user.project_name : std::string(project_id);
  return c;
}

}  // namespace

StatusOr<IssuedToken> Identity::IssueToken(const UserRecord& user) {
  return IssueToken(user, user.project_id, {"password"});
}

StatusOr<IssuedToken> Identity::IssueToken(const UserRecord& user, std::string_view project_id,
                                           std::vector<std::string> methods) {
  IssuedToken t;
  t.token = NewTokenString();
  t.caller = CallerOf(user, project_id);
  t.issued_ms = clock_->WallNowMs();
  t.expires_ms = t.issued_ms + token_ttl_ms_;
  t.methods = std::move(methods);
  KMSFS_RETURN_IF_ERROR(store_->PutToken(
      TokenHash(t.token), TokenRecord{user.id, std::string(project_id), t.issued_ms, t.expires_ms, JoinMethods(t.methods)}));
  // Forget tokens that expired more than a day ago, so the table stays small.
  (void)store_->PurgeTokensExpiredBefore(t.issued_ms - 86'400'000);
  return t;
}

StatusOr<UserRecord> Identity::PasswordUser(const Json& identity, std::string_view peer,
                                            std::chrono::milliseconds* retry_after) {
  const Json* user = Child(Child(&identity, "password"), "user");
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
  return *std::move(record);
}

StatusOr<IssuedToken> Identity::Login(const Json& body, std::string_view header_token, std::string_view peer,
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
  bool by_password = false, by_token = false;
  for (const auto& m : *methods) {
    if (!m.is_string()) continue;
    by_password = by_password || m.get_ref<const Json::string_t&>() == "password";
    by_token = by_token || m.get_ref<const Json::string_t&>() == "token";
  }
  if (by_password == by_token) {
    return Status::Unauthenticated("Give one of the methods kmsd supports: password or token.");
  }

  UserRecord user;
  std::string project_id;  // without a scope: the user's project (password), the token's scope (token)
  std::vector<std::string> issued_methods;
  if (by_password) {
    KMSFS_ASSIGN_OR_RETURN(user, PasswordUser(*identity, peer, retry_after));
    project_id = user.project_id;
    issued_methods = {"password"};
  } else {
    // A token for a token: the id in the body, else the X-Auth-Token header.
    const Json::string_t* id = StringChild(Child(identity, "token"), "id");
    const std::string_view presented = id ? std::string_view(*id) : header_token;
    bool expired = false;
    auto old = Lookup(presented, &expired);
    if (!old.ok() || expired) return Unauthorized();
    KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> found, store_->FindUserById(old->caller.user_id));
    if (!found || !found->active) return Unauthorized();
    user = *std::move(found);
    project_id = old->caller.project_id;
    issued_methods = {"token"};
  }

  if (const Json* scope = Child(auth, "scope")) {
    if (!scope->is_object()) return BadRequest("scope must be an object.");
    if (const Json* project = Child(scope, "project")) {
      if (!project->is_object()) return BadRequest("scope.project must be an object.");
      const Json::string_t* pid = StringChild(project, "id");
      const Json::string_t* pname = StringChild(project, "name");
      if (pid == nullptr && pname == nullptr) return BadRequest("Expecting to find project id or name in scope.");
      // A project given by name may name its domain; it must be the user's.
      if (const Json* domain = Child(project, "domain")) {
        const Json::string_t* did = StringChild(domain, "id");
        const Json::string_t* dname = StringChild(domain, "name");
        if ((did && std::string_view(*did) != user.domain_id) || (dname && std::string_view(*dname) != user.domain)) {
          return Status::Unauthenticated("User has no access to project.");
        }
      }
      const bool by_id = pid != nullptr && std::string_view(*pid) == user.project_id;
      const bool by_name = pid == nullptr && std::string_view(*pname) == user.project_name;
      if (!by_id && !by_name) return Status::Unauthenticated("User has no access to project.");
      project_id = user.project_id;
    } else if (const Json* domain = Child(scope, "domain")) {
      if (!domain->is_object()) return BadRequest("scope.domain must be an object.");
      const Json::string_t* did = StringChild(domain, "id");
      const Json::string_t* dname = StringChild(domain, "name");
      if (did == nullptr && dname == nullptr) return BadRequest("Expecting to find domain id or name in scope.");
      const bool ok = did ? std::string_view(*did) == user.domain_id : std::string_view(*dname) == user.domain;
      if (!ok) return Status::Unauthenticated("User has no access to domain.");
      project_id.clear();
    } else {
      return Status::Unauthenticated("kmsd scopes tokens to a project or a domain.");
    }
  }
  return IssueToken(user, project_id, issued_methods);
}

StatusOr<IssuedToken> Identity::Lookup(std::string_view token, bool* expired) const {
  *expired = false;
  if (token.empty() || token.size() > 4096) return Status::NotFound("unknown token");
  const std::string hash = TokenHash(token);
  {
    MutexLock lock(&known_mu_);
    if (auto it = known_.find(hash); it != known_.end()) {
      *expired = it->second.expires_ms <= clock_->WallNowMs();
      return it->second;
    }
  }
  KMSFS_ASSIGN_OR_RETURN(std::optional<TokenRecord> rec, store_->FindToken(hash));
  if (!rec) return Status::NotFound("unknown token");
  KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> user, store_->FindUserById(rec->user_id));
  if (!user || !user->active) return Status::NotFound("token of an unknown user");
  if (rec->expires_ms <= clock_->WallNowMs()) *expired = true;
  IssuedToken t;
  t.caller = CallerOf(*user, rec->project_id);
  t.issued_ms = rec->issued_ms;
  t.expires_ms = rec->expires_ms;
  t.methods = SplitMethods(rec->methods);
  MutexLock lock(&known_mu_);
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

StatusOr<Caller> Identity::CallerForUser(std::string_view user_id) const {
  KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> user, store_->FindUserById(user_id));
  if (!user || !user->active) return Status::NotFound("no such active user");
  return CallerOf(*user, user->project_id);
}

StatusOr<std::vector<std::pair<std::string, std::string>>> Identity::ProjectsOf(std::string_view domain_id) const {
  KMSFS_ASSIGN_OR_RETURN(std::vector<UserRecord> users, store_->ListActiveUsers());
  std::vector<std::pair<std::string, std::string>> projects;
  for (const UserRecord& u : users) {
    if (u.domain_id != domain_id) continue;
    std::pair<std::string, std::string> p{u.project_id, u.project_name.empty() ? u.project_id : u.project_name};
    if (std::find(projects.begin(), projects.end(), p) == projects.end()) projects.push_back(std::move(p));
  }
  return projects;
}

StatusOr<IssuedToken> Identity::Describe(std::string_view auth_token, std::string_view subject_token) const {
  bool expired = false;
  auto auth = Lookup(auth_token, &expired);
  if (!auth.ok() || expired) return Unauthorized();
  auto subject = Lookup(subject_token, &expired);
  if (!subject.ok() || expired) return Status::NotFound("Could not find token.");
  return subject;
}

Json Identity::TokenBody(const IssuedToken& t, const Catalog& catalog) {
  const Caller& c = t.caller;
  const Json domain = {{"id", c.domain_id}, {"name", c.domain_name}};
  const std::string identity_url = catalog.base_url + "/v3";
  Json services = Json::array();
  auto service = [&](const std::string& type, const std::string& name, const std::string& url) {
    // Stable ids: the same service has the same id in every token.
    const std::string id =
        HexEncode(std::span<const uint8_t>(crypto::Sha256(AsBytes("kmsd-service:" + type)).data(), 16));
    services.push_back({{"type", type},
                        {"name", name},
                        {"id", id},
                        {"endpoints", Json::array({{{"id", id},
                                                    {"interface", "public"},
                                                    {"region", catalog.region},
                                                    {"region_id", catalog.region},
                                                    {"url", url}}})}});
  };
  service("identity", "keystone", identity_url);
  Json token = {{"expires_at", Iso8601Utc(t.expires_ms)},
                {"issued_at", Iso8601Utc(t.issued_ms)},
                {"methods", t.methods},
                {"roles", Json::array({{{"id", HexEncode(std::span<const uint8_t>(
                                                  crypto::Sha256(AsBytes("kmsd-role:" + c.role)).data(), 16))},
                                        {"name", c.role}}})},
                {"user", {{"id", c.user_id}, {"name", c.user_name}, {"domain", domain}}}};
  if (c.project_id.empty()) {
    token["domain"] = domain;
  } else {
    token["project"] = {{"id", c.project_id},
                        {"name", c.project_name.empty() ? c.project_id : c.project_name},
                        {"domain", domain}};
    service("kms", "kms", catalog.base_url + "/v1.0/" + c.project_id);
  }
  token["catalog"] = std::move(services);
  return {{"token", std::move(token)}};
}

}  // namespace kmsfs::kms::server
