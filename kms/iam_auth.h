// IamAuth: the token every KMS request carries (X-Auth-Token), and who it
// belongs to.
//
// Two modes:
//  * static token: the configured token is used as is; it cannot be renewed,
//    so a KMS "token expired" answer is final.
//  * password login: POST $auth_url/auth/tokens with the Keystone v3 password
//    body (user name, password, user domain name; scoped to the project id).
//    The token (X-Subject-Token) is kept until shortly before it expires
//    (expires_at - issued_at of the answer, measured on our own monotonic
//    clock so clock skew does not matter), renewed proactively then, and
//    renewed on demand when the KMS rejects it (401, 403 KMS.0302/0303).
//    Whatever the answer claims, a token is used for at most
//    kMaxTokenLifetime, and for kUnknownTokenLifetime when it names no
//    readable expiry; an answer whose token expires before it was issued is
//    refused. So a hostile IAM can neither make us keep a token forever nor
//    overflow the clock arithmetic.
//
// This class holds the state and speaks the IAM's format; it sends nothing.
// The KMS executor (kms/kms_executor.h) sends the login, one at a time, and
// holds back the calls that need a token until it is in.
//
// Tokens are bearer credentials: they live only in SecretBytes, handed out
// as shared, immutable objects so that no call copies them into ordinary memory.
//
// The user id comes from the login answer (token.user.id); with a static
// token it is looked up with GET $auth_url/auth/tokens (or
// $endpoint/v3/auth/tokens when no auth URL is set), passing the token as both
// X-Auth-Token and X-Subject-Token.
//
// Thread-safety: all methods may be called concurrently; mu_ guards the
// cached state.
#ifndef KMSFS_KMS_IAM_AUTH_H_
#define KMSFS_KMS_IAM_AUTH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/mutex.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/connection_config.h"
#include "kms/http_exchange.h"

namespace kmsfs::kms {

// A token, shared by the calls that use it; never modified once made.
using TokenRef = std::shared_ptr<const SecretBytes>;

// The longest a token from a login is used before logging in again.
inline constexpr std::chrono::milliseconds kMaxTokenLifetime = std::chrono::hours(24);
// How long a token whose answer names no readable expiry is used.
inline constexpr std::chrono::milliseconds kUnknownTokenLifetime = std::chrono::hours(1);

class IamAuth {
 public:
  // Copies what it needs from `config`.
  explicit IamAuth(const ConnectionConfig& config);
  IamAuth(const IamAuth&) = delete;
  IamAuth& operator=(const IamAuth&) = delete;

  bool can_refresh() const { return static_token_ == nullptr; }
  // The configured token; null in password mode.
  const TokenRef& static_token() const { return static_token_; }

  // A token to send now: the static one, or the last login's until shortly
  // before it expires. Null when a login is needed first.
  TokenRef CurrentToken() const;
  // The KMS rejected `token` (expired or unknown). Returns true when a new
  // one can be had (password mode); the current token is then dropped,
  // unless a login has already replaced `token`.
  bool Rejected(const TokenRef& token);

  // --- password login
  // $auth_url/auth/tokens (or $endpoint/v3/auth/tokens).
  std::string TokensUrl() const;
  // The Keystone v3 password body, built in wiped memory.
  SecureString LoginBody() const;
  // "IAM login as alice (domain d) at host:port"
  std::string LoginDescription() const;
  // Takes the outcome of a login sent at `sent_at` after `attempts` tries:
  // on success its token becomes the current one and is returned (for the
  // calls that waited for it, even if it is short-lived enough to be due for
  // renewal already); otherwise the error says what failed (kUnauthenticated
  // for a refused password, kUnavailable for an unreachable IAM, ...).
  StatusOr<TokenRef> AcceptLogin(const StatusOr<HttpResponse>& response, int attempts,
                     std::chrono::steady_clock::time_point sent_at);

  // --- static token: whose it is
  // "looking up the user of the given token at host:port"
  std::string LookupDescription() const;
  Status AcceptTokenLookup(const StatusOr<HttpResponse>& response, int attempts);

  // The IAM user id of the caller once a login or lookup named it; empty before.
  std::string CachedUserId() const;
  // "alice (user id 0123…, domain d)", "token user 0123…", never a secret.
  std::string Description() const;

  // Logins that replaced an earlier token (proactive or after a rejection).
  uint64_t refreshes() const { return refreshes_.load(); }
  uint64_t logins() const { return logins_.load(); }

 private:
  const std::string endpoint_;
  const std::string auth_url_;
  const std::string project_id_;
  const TokenRef static_token_;  // null in password mode
  const std::string username_;
  const std::string domain_;
  const SecretBytes password_;

  mutable Mutex mu_;
  TokenRef token_ KMSFS_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point refresh_at_ KMSFS_GUARDED_BY(mu_){};
  std::string user_id_ KMSFS_GUARDED_BY(mu_);
  std::string user_name_ KMSFS_GUARDED_BY(mu_);
  std::atomic<uint64_t> logins_{0};
  std::atomic<uint64_t> refreshes_{0};
};

// Parses an ISO 8601 UTC timestamp as IAM writes it
// ("2024-05-01T12:00:00.000000Z", "...+01:00", or without a zone, read as
// UTC) into milliseconds since the epoch. Strict: digits where digits belong,
// years 1970-9999, real calendar dates, at most 9 fraction digits, offsets
// up to ±23:59. Anything else is kInvalidArgument.
StatusOr<int64_t> ParseIamTime(std::string_view text);

// What a login answer (the JSON body) says about its token.
struct TokenAnswer {
  std::string user_id;    // token.user.id; empty when absent
  std::string user_name;  // token.user.name
  // How long to use the token, in [1 ms, kMaxTokenLifetime]; nullopt when the
  // answer names no readable expires_at (then kUnknownTokenLifetime applies).
  std::optional<std::chrono::milliseconds> lifetime;
};
// Reads a login answer. The lifetime is expires_at - issued_at when both are
// readable, else expires_at - `now_ms` (wall clock, ms since the epoch); a
// token that is expired by that measure is refused (kUnauthenticated). A
// body that is not a JSON object gives an empty answer with no lifetime.
StatusOr<TokenAnswer> ParseTokenAnswer(std::string_view body, int64_t now_ms);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_IAM_AUTH_H_
