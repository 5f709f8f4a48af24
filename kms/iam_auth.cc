#include "kms/iam_auth.h"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "base/logging.h"
#include "kms/api_json.h"
#include "kms/kms_error.h"

namespace kmsfs::kms {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kMaxRefreshMargin = std::chrono::minutes(5);

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

const json& Member(const json& o, const char* key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

// Maps a failed IAM answer to a Status.
Status IamError(const std::string& what, const HttpResponse& r) {
  const ErrorBody err = ParseErrorBody(r.body);
  std::string msg = what + ": ";
  if (!err.code.empty()) msg += err.code + " ";
  msg += err.message.empty() ? "no reason given" : err.message;
  msg += " (HTTP " + std::to_string(r.status) + ")";
  StatusCode code = StatusCode::kInvalidArgument;
  if (r.status == 401 || r.status == 403) {
    code = StatusCode::kUnauthenticated;
  } else if (r.status == 404) {
    code = StatusCode::kNotFound;
    msg += "; is the IAM URL right (it ends in /v3)?";
  } else if (r.status == 429) {
    code = StatusCode::kResourceExhausted;
  } else if (r.status >= 500) {
    code = StatusCode::kUnavailable;
  }
  return WithKmsError(Status(code, msg), err.code, r.status);
}

// Reads exactly `width` decimal digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t width, int& out) {
  if (pos + width > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm).
int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

StatusOr<int64_t> ParseIamTime(std::string_view s) {
  auto bad = [&] {
    std::string shown(s.substr(0, 64));
    for (char& c : shown) {
      if (c < ' ' || c > '~') c = '?';
    }
    return Status::InvalidArgument("not an ISO 8601 time: \"" + shown + "\"");
  };
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, month) || s[7] != '-' ||
      !Digits(s, 8, 2, day) || s[10] != 'T' || !Digits(s, 11, 2, hour) || s[13] != ':' ||
      !Digits(s, 14, 2, minute) || s[16] != ':' || !Digits(s, 17, 2, second)) {
    return bad();
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return bad();
  }
  std::string_view rest = s.substr(19);
  int64_t millis = 0;
  if (!rest.empty() && rest.front() == '.') {
    size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    const size_t digits = n - 1;
    if (digits == 0 || digits > 9) return bad();
    for (size_t i = 1; i <= 3; ++i) millis = millis * 10 + (i <= digits ? rest[i] - '0' : 0);
    rest.remove_prefix(n);
  }
  int64_t offset_seconds = 0;
  if (rest == "Z" || rest.empty()) {
    offset_seconds = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hh, mm;
    if (!Digits(rest, 1, 2, hh) || !Digits(rest, 4, 2, mm) || hh > 23 || mm > 59) return bad();
    offset_seconds = (rest[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  } else {
    return bad();
  }
  const int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return (seconds - offset_seconds) * 1000 + millis;
}

StatusOr<TokenAnswer> ParseTokenAnswer(std::string_view body, int64_t now_ms) {
  TokenAnswer out;
  std::optional<json> parsed = ParseObject(body);
  if (!parsed) return out;
  const json& token = Member(*parsed, "token");
  const json& user = Member(token, "user");
  out.user_id = GetText(user, "id");
  out.user_name = GetText(user, "name");
  StatusOr<int64_t> expires = ParseIamTime(GetText(token, "expires_at"));
  if (!expires.ok()) return out;
  StatusOr<int64_t> issued = ParseIamTime(GetText(token, "issued_at"));
  // Both times are years 1970-9999 in milliseconds: their difference fits easily.
  const int64_t life_ms = *expires - (issued.ok() ? *issued : now_ms);
  if (life_ms <= 0) {
    return Status::Unauthenticated(issued.ok() ? "the token expires before it was issued (expires_at " +
                                                     GetText(token, "expires_at") + ", issued_at " +
                                                     GetText(token, "issued_at") + ")"
                                               : "the token has already expired (expires_at " +
                                                     GetText(token, "expires_at") +
                                                     "; is this machine's clock right?)");
  }
  out.lifetime = std::min(std::chrono::milliseconds(life_ms), kMaxTokenLifetime);
  return out;
}

IamAuth::IamAuth(const ConnectionConfig& config)
    : endpoint_(StripTrailingSlashes(config.endpoint)),
      auth_url_(StripTrailingSlashes(config.auth_url)),
      project_id_(config.project_id),
      static_token_(config.token.empty() ? nullptr : std::make_shared<const SecretBytes>(config.token.Clone())),
      username_(config.username),
      domain_(config.domain),
      password_(config.password.Clone()) {}

std::string IamAuth::TokensUrl() const { return (auth_url_.empty() ? endpoint_ + "/v3" : auth_url_) + "/auth/tokens"; }

TokenRef IamAuth::CurrentToken() const {
  if (static_token_) return static_token_;
  MutexLock lock(&mu_);
  if (token_ && Clock::now() < refresh_at_) return token_;
  return nullptr;
}

bool IamAuth::Rejected(const TokenRef& token) {
  if (static_token_) return false;
  MutexLock lock(&mu_);
  if (token_ == token) token_.reset();
  return true;
}

std::string IamAuth::LoginDescription() const {
  return "IAM login as " + username_ + " (domain " + domain_ + ") at " + UrlHostPort(TokensUrl());
}

SecureString IamAuth::LoginBody() const {
  // The body carries the password: build it in wiped memory, outside nlohmann.
  SecureString escaped_password;
  AppendJsonEscaped(password_.span(), escaped_password);
  const json user_rest = {{"name", username_}, {"domain", {{"name", domain_}}}};
  const SecureString user = SpliceSecretMember("password", escaped_password, user_rest);
  const json scope = {{"project", {{"id", project_id_}}}};
  SecureString body;
  body.reserve(user.size() + 128 + project_id_.size());
  body += R"({"auth":{"identity":{"methods":["password"],"password":{"user":)";
  body += user;
  body += R"(}},"scope":)";
  body += scope.dump();
  body += "}}";
  return body;
}

StatusOr<TokenRef> IamAuth::AcceptLogin(const StatusOr<HttpResponse>& r, int attempts, Clock::time_point sent_at) {
  const std::string who = LoginDescription();
  if (!r.ok()) {
    return Status::Unavailable(who + ": " + r.status().message() +
                               (attempts > 1 ? " (after " + std::to_string(attempts) + " attempts)" : ""));
  }
  if (r->status != 200 && r->status != 201) return IamError(who + " failed", *r);
  if (r->subject_token.empty()) {
    return WithKmsError(Status::Unauthenticated(who + ": the answer carries no X-Subject-Token header"), "", r->status);
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  StatusOr<TokenAnswer> answer = ParseTokenAnswer(r->body, now_ms);
  if (!answer.ok()) return Status::Unauthenticated(who + ": " + answer.status().message());
  TokenRef token = std::make_shared<const SecretBytes>(
      SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(r->subject_token.data()), r->subject_token.size()}));
  std::chrono::milliseconds life = kUnknownTokenLifetime;
  if (answer->lifetime) {
    life = *answer->lifetime;
  } else {
    KMSFS_LOG(kWarning) << who << ": the answer names no readable token expiry; logging in again after "
                        << std::chrono::duration_cast<std::chrono::minutes>(life).count() << " minutes";
  }
  if (logins_.fetch_add(1) > 0) refreshes_.fetch_add(1);
  KMSFS_LOG(kDebug) << who << ": got a token";
  MutexLock lock(&mu_);
  token_ = token;
  // Renew a little before the end: a quarter of the lifetime, at most 5 minutes.
  refresh_at_ = sent_at + life - std::min(kMaxRefreshMargin, life / 4);
  if (!answer->user_id.empty()) user_id_ = answer->user_id;
  if (!answer->user_name.empty()) user_name_ = answer->user_name;
  return token;
}

std::string IamAuth::LookupDescription() const {
  return "looking up the user of the given token at " + UrlHostPort(TokensUrl());
}

Status IamAuth::AcceptTokenLookup(const StatusOr<HttpResponse>& r, int attempts) {
  const std::string who = LookupDescription();
  if (!r.ok()) {
    return Status::Unavailable(who + ": " + r.status().message() +
                               (attempts > 1 ? " (after " + std::to_string(attempts) + " attempts)" : ""));
  }
  if (r->status != 200 && r->status != 201) return IamError(who, *r);
  std::optional<json> parsed = ParseObject(r->body);
  const json& user_obj = parsed ? Member(Member(*parsed, "token"), "user") : Member(json(), "x");
  const std::string id = GetText(user_obj, "id");
  if (id.empty()) return Status::Internal(who + ": the answer names no token.user.id");
  MutexLock lock(&mu_);
  user_id_ = id;
  user_name_ = GetText(user_obj, "name");
  return Status::Ok();
}

std::string IamAuth::CachedUserId() const {
  MutexLock lock(&mu_);
  return user_id_;
}

std::string IamAuth::Description() const {
  MutexLock lock(&mu_);
  if (!static_token_) {
    std::string out = username_ + " (";
    if (!user_id_.empty()) out += "user id " + user_id_ + ", ";
    return out + "domain " + domain_ + ")";
  }
  if (!user_name_.empty()) return user_name_ + " (user id " + user_id_ + ", from token)";
  if (!user_id_.empty()) return "token user " + user_id_;
  return "the user of the given token";
}

}  // namespace kmsfs::kms
