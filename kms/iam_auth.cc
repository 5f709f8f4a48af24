#include "kms/iam_auth.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "fs/base/logging.h"
#include "kms/api_json.h"
#include "kms/retry.h"

namespace kmsfs::kms {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMaxRefreshMargin{300};

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
  return Status(code, msg).WithKmsError(err.code, r.status);
}

}  // namespace

StatusOr<double> ParseIamTime(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &consumed) !=
          6 ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return Status::InvalidArgument("not an ISO 8601 time: " + s);
  }
  std::string_view rest = std::string_view(s).substr(static_cast<size_t>(consumed));
  double fraction = 0;
  if (!rest.empty() && rest.front() == '.') {
    double scale = 0.1;
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      fraction += scale * (rest.front() - '0');
      scale /= 10;
      rest.remove_prefix(1);
    }
  }
  int offset_seconds = 0;
  if (rest == "Z" || rest.empty()) {
    offset_seconds = 0;
  } else if ((rest.front() == '+' || rest.front() == '-') && rest.size() == 6 && rest[3] == ':') {
    const int hh = (rest[1] - '0') * 10 + (rest[2] - '0');
    const int mm = (rest[4] - '0') * 10 + (rest[5] - '0');
    offset_seconds = (rest.front() == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  } else {
    return Status::InvalidArgument("not an ISO 8601 time: " + s);
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t t = timegm(&tm);
  return static_cast<double>(t) - offset_seconds + fraction;
}

IamAuth::IamAuth(HttpTransport& transport, const ConnectionConfig& config)
    : transport_(transport),
      endpoint_(StripTrailingSlashes(config.endpoint)),
      auth_url_(StripTrailingSlashes(config.auth_url)),
      project_id_(config.project_id),
      static_token_(config.token),
      username_(config.username),
      domain_(config.domain),
      password_(config.password.Clone()),
      retry_(config.retry) {}

std::string IamAuth::TokensUrl() const { return (auth_url_.empty() ? endpoint_ + "/v3" : auth_url_) + "/auth/tokens"; }

StatusOr<HttpResponse> IamAuth::SendWithRetry(const HttpRequest& request) {
  Backoff backoff(retry_);
  for (int attempt = 1;; ++attempt) {
    StatusOr<HttpResponse> r = transport_.Send(request);
    const bool retryable = !r.ok() || IsRetryableHttpStatus(r->status);
    if (!retryable || attempt >= retry_.max_attempts) {
      if (!r.ok() && attempt > 1) {
        return Status::Unavailable(r.status().message() + " (after " + std::to_string(attempt) + " attempts)");
      }
      return r;
    }
    backoff.Sleep(backoff.Next(r.ok() ? r->retry_after_seconds : -1));
  }
}

StatusOr<std::string> IamAuth::Token() {
  if (!static_token_.empty()) return static_token_;
  std::string stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && Clock::now() < refresh_at_) return token_;
    stale = token_;
  }
  std::lock_guard<std::mutex> refresh_lock(refresh_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && token_ != stale && Clock::now() < refresh_at_) return token_;  // another thread renewed it
  }
  KMSFS_ASSIGN_OR_RETURN(LoginResult login, Login());
  if (logins_.fetch_add(1) > 0) refreshes_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  token_ = login.token;
  refresh_at_ = login.refresh_at;
  if (!login.user_id.empty()) user_id_ = login.user_id;
  if (!login.user_name.empty()) user_name_ = login.user_name;
  return token_;
}

bool IamAuth::Rejected(const std::string& token) {
  if (!static_token_.empty()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ == token) token_.clear();
  return true;
}

StatusOr<IamAuth::LoginResult> IamAuth::Login() {
  const std::string who = "IAM login as " + username_ + " (domain " + domain_ + ") at " + UrlHostPort(TokensUrl());
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

  HttpRequest request;
  request.url = TokensUrl();
  request.body = std::string_view(body.data(), body.size());
  const auto sent_at = Clock::now();
  StatusOr<HttpResponse> r = SendWithRetry(request);
  if (!r.ok()) return Status::Unavailable(who + ": " + r.status().message());
  if (r->status != 200 && r->status != 201) return IamError(who + " failed", *r);
  if (r->subject_token.empty()) {
    return Status::Unauthenticated(who + ": the answer carries no X-Subject-Token header").WithKmsError("", r->status);
  }
  LoginResult out;
  out.token = r->subject_token;
  out.refresh_at = Clock::time_point::max();
  std::optional<json> parsed = ParseObject(r->body);
  if (parsed) {
    const json& token = Member(*parsed, "token");
    const json& user_obj = Member(token, "user");
    out.user_id = GetText(user_obj, "id");
    out.user_name = GetText(user_obj, "name");
    const std::string expires = GetText(token, "expires_at");
    if (!expires.empty()) {
      StatusOr<double> expires_at = ParseIamTime(expires);
      StatusOr<double> issued_at = ParseIamTime(GetText(token, "issued_at"));
      if (expires_at.ok()) {
        // Lifetime by the server's own clock when it tells us when it issued
        // the token; otherwise against ours.
        const double now_wall = static_cast<double>(std::time(nullptr));
        const double lifetime = *expires_at - (issued_at.ok() ? *issued_at : now_wall);
        const auto life = std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, lifetime) * 1000.0));
        const auto margin = std::min<std::chrono::milliseconds>(kMaxRefreshMargin, life / 4);
        out.refresh_at = sent_at + life - margin;
      } else {
        KMSFS_LOG(kWarning) << who << ": cannot read token expiry \"" << expires << "\"; renewing only when rejected";
      }
    }
  }
  KMSFS_LOG(kDebug) << who << ": got a token";
  return out;
}

StatusOr<std::string> IamAuth::LookUpTokenUser() {
  const std::string who = "looking up the user of the given token at " + UrlHostPort(TokensUrl());
  HttpRequest request;
  request.method = "GET";
  request.url = TokensUrl();
  request.headers = {"X-Auth-Token: " + static_token_, "X-Subject-Token: " + static_token_};
  StatusOr<HttpResponse> r = SendWithRetry(request);
  if (!r.ok()) return Status::Unavailable(who + ": " + r.status().message());
  if (r->status != 200 && r->status != 201) return IamError(who, *r);
  std::optional<json> parsed = ParseObject(r->body);
  const json& user_obj = parsed ? Member(Member(*parsed, "token"), "user") : Member(json(), "x");
  const std::string id = GetText(user_obj, "id");
  if (id.empty()) return Status::Internal(who + ": the answer names no token.user.id");
  std::lock_guard<std::mutex> lock(mu_);
  user_id_ = id;
  user_name_ = GetText(user_obj, "name");
  return id;
}

StatusOr<std::string> IamAuth::UserId() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!user_id_.empty()) return user_id_;
  }
  if (!static_token_.empty()) return LookUpTokenUser();
  KMSFS_RETURN_IF_ERROR(Token().status());
  std::lock_guard<std::mutex> lock(mu_);
  if (user_id_.empty()) return Status::Internal("IAM login answer names no token.user.id");
  return user_id_;
}

std::string IamAuth::Description() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_token_.empty()) {
    std::string out = username_ + " (";
    if (!user_id_.empty()) out += "user id " + user_id_ + ", ";
    return out + "domain " + domain_ + ")";
  }
  if (!user_name_.empty()) return user_name_ + " (user id " + user_id_ + ", from token)";
  if (!user_id_.empty()) return "token user " + user_id_;
  return "the user of the given token";
}

}  // namespace kmsfs::kms
