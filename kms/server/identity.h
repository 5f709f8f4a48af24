// Identity: kmsd's emulation of the IAM (Keystone v3) token service.
//
// POST /v3/auth/tokens with a password identity issues a project-scoped token
// (returned in X-Subject-Token) valid for the configured TTL; only its SHA-256
// is stored, so tokens survive restarts but a copied database reveals none.
// The KMS API authenticates each call with Authenticate(X-Auth-Token).
//
// Passwords are checked against Argon2id hashes (PasswordHasher); a login
// name that does not exist costs the same work as a wrong password, and
// repeated failures are slowed down per client address and user
// (LoginThrottle): such attempts are refused with kResourceExhausted and the
// time to wait, without checking the password.
//
// Login errors are Statuses whose code selects the Keystone HTTP status:
// kInvalidArgument -> 400, kUnauthenticated -> 401, kNotFound -> 404,
// kResourceExhausted -> 429. Authenticate's errors are KMS errors (403
// KMS.0301/0302/0303).
//
// Thread-safety: safe for concurrent use (state lives in the Store).
#ifndef KMSFS_KMS_SERVER_IDENTITY_H_
#define KMSFS_KMS_SERVER_IDENTITY_H_

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include <optional>

#include "base/clock.h"
#include "base/mutex.h"
#include "base/status.h"
#include "kms/server/json.h"
#include "kms/server/login_throttle.h"
#include "kms/server/password_hasher.h"
#include "kms/server/store.h"
#include "kms/server/users_file.h"

namespace kmsfs::kms::server {

// Who is calling, as established by the token.
struct Caller {
  std::string user_id;
  std::string user_name;
  std::string domain_id;
  std::string domain_name;
  std::string project_id;
  std::string role = std::string(kRoleAdmin);  // users_file.h kRole*
  std::string project_name{};                  // empty: the project id
  std::string access_key{};                    // the AK of an AK/SK-signed call; empty with a token
};

struct IssuedToken {
  std::string token;  // empty when describing an existing token
  Caller caller;      // project_id is empty for a domain-scoped token
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  std::vector<std::string> methods = {"password"};
};

// Where a token's service catalog points: kmsd itself, as the client reached
// it ("http://127.0.0.1:8765"), in `region`.
struct Catalog {
  std::string base_url;
  std::string region;
};

class Identity {
 public:
  struct Options {
    int64_t token_ttl_sec = 86400;
    PasswordHasher::Options hashing;
    LoginThrottle::Options throttle;
  };

  Identity(Store* store, const Clock* clock, Options options);

  // Keystone v3 authentication (spec §1.2) from the client at `peer`, with
  // the password method or the token method (a token for a token: its id in
  // the body, else `header_token`, the X-Auth-Token header). The scope may
  // name the user's project (by id, or by name with an optional domain) or
  // its domain (a domain-scoped token, for IAM calls only); without a scope
  // the token is scoped to the user's project (password) or as the given
  // token was (token). When refused for repeated failures
  // (kResourceExhausted), *retry_after says how long to wait.
  StatusOr<IssuedToken> Login(const Json& body, std::string_view header_token, std::string_view peer,
                              std::chrono::milliseconds* retry_after);
  // A fresh token for `user` scoped to its project (DATA/admin.token at start-up).
  StatusOr<IssuedToken> IssueToken(const UserRecord& user);
  // The same for `project_id` ("" for the user's domain), obtained by `methods`.
  StatusOr<IssuedToken> IssueToken(const UserRecord& user, std::string_view project_id,
                                   std::vector<std::string> methods);
  // KMS call authentication: 403 KMS.0301 (missing), KMS.0302 (unknown, or
  // its user is gone), KMS.0303 (expired).
  StatusOr<Caller> Authenticate(std::string_view token) const;
  // GET /v3/auth/tokens: details of `subject_token` for a caller holding a
  // valid `auth_token` (401 otherwise; 404 for an unknown or expired subject).
  StatusOr<IssuedToken> Describe(std::string_view auth_token, std::string_view subject_token) const;
  // The caller an AK/SK-signed request of `user_id` acts as (its project);
  // kNotFound when the user is gone.
  StatusOr<Caller> CallerForUser(std::string_view user_id) const;
  // (id, name) of the projects of `domain_id`.
  StatusOr<std::vector<std::pair<std::string, std::string>>> ProjectsOf(std::string_view domain_id) const;

  // {"token":{"expires_at","issued_at","methods","roles","user","project" or
  // "domain","catalog"}}; the catalog lists kmsd as identity service and, for
  // a project-scoped token, as kms service of that project.
  static Json TokenBody(const IssuedToken& token, const Catalog& catalog);
  // A user row for `spec`: its password hashed with Argon2id, or its given hash.
  StatusOr<UserRecord> MakeUserRecord(const UserSpec& spec, bool builtin);
  // Makes unknown login names cost what the most expensive stored hash costs.
  Status MatchUnknownUserCost();

 private:
  StatusOr<IssuedToken> Lookup(std::string_view token, bool* expired) const;
  // The user a password identity names, if the password is right (and the
  // throttle lets the attempt through).
  StatusOr<UserRecord> PasswordUser(const Json& identity, std::string_view peer, std::chrono::milliseconds* retry_after);
  // Checks `password` for `user`; an old PBKDF2 verifier is replaced by an
  // Argon2id hash when it matches.
  StatusOr<bool> CheckPassword(UserRecord& user, std::span<const uint8_t> password);

  Store* store_;
  const Clock* clock_;
  int64_t token_ttl_ms_;
  PasswordHasher hasher_;
  LoginThrottle throttle_;
  // Tokens found in the store, by hash, with their caller: every KMS call
  // authenticates, and users are set at start-up only (bootstrap), so a
  // token's user cannot change or go while kmsd serves. Expiry is checked at
  // every use. Bounded: cleared when full.
  mutable Mutex known_mu_;
  mutable std::unordered_map<std::string, IssuedToken> known_ KMSFS_GUARDED_BY(known_mu_);
};

// "2024-01-02T03:04:05.000000Z"
std::string Iso8601Utc(int64_t epoch_ms);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_IDENTITY_H_
