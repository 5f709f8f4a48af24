#include "kms/server/iam_routes.h"

#include <chrono>
#include <memory>

#include "base/hex.h"
#include "base/logging.h"
#include "kms/server/api_error.h"
#include "kms/server/connection_gate.h"

namespace kmsfs::kms::server {
namespace {

constexpr const char* kNotAuthorized = "You are not authorized to perform the requested action.";

// Wipes every string in `doc` (a login body held a password).
void WipeStrings(Json& doc) {
  std::vector<Json*> stack = {&doc};
  while (!stack.empty()) {
    Json* j = stack.back();
    stack.pop_back();
    if (j->is_string()) WipeSecure(j->get_ref<Json::string_t&>());
    if (j->is_structured()) {
      for (auto& child : *j) stack.push_back(&child);
    }
  }
}

}  // namespace

void IamRoutes::SendError(Response& res, const Status& st, const std::string& request_id) const {
  if (ErrorCodeFor(st).rfind("APIGW.", 0) == 0) return SendKmsError(res, st, request_id);
  const int http = KeystoneStatus(st);
  if (http >= 500) {
    KMSFS_LOG(kError) << "iam: " << st.ToString();
    return SendKeystoneError(res, 500, "An unexpected error occurred.", request_id);
  }
  SendKeystoneError(res, http, st.message(), request_id);
}

std::optional<Caller> IamRoutes::CallerOf(const Request& req, std::string_view body, Response& res,
                                          const std::string& request_id) const {
  auto caller = ctx_.authenticator->Authenticate(req, body);
  if (caller.ok()) return *std::move(caller);
  if (ErrorCodeFor(caller.status()).rfind("APIGW.", 0) == 0) {
    SendKmsError(res, caller.status(), request_id);
  } else {
    SendKeystoneError(res, 401, "The request you have made requires authentication.", request_id);
  }
  return std::nullopt;
}

std::optional<Json> IamRoutes::ObjectBody(const Request& req, const Reader& reader, Response& res,
                                          const std::string& request_id, SecureString* raw) const {
  bool too_large = false;
  const bool read_ok = ReadBody(req, reader, ctx_.max_body_bytes, raw, &too_large);
  if (too_large) {
    SendKeystoneError(res, 400, "Request body too large.", request_id);
    return std::nullopt;
  }
  Json doc = ParseJson(std::string_view(raw->data(), raw->size()));
  if (!read_ok || doc.is_discarded() || !doc.is_object()) {
    SendKeystoneError(res, 400, "The request body is not a JSON object.", request_id);
    return std::nullopt;
  }
  return doc;
}

void IamRoutes::Login(const Request& req, Response& res, const Reader& reader) {
  const std::string request_id = NewRequestId();
  SecureString raw;
  std::optional<Json> doc = ObjectBody(req, reader, res, request_id, &raw);
  if (!doc) return;
  std::chrono::milliseconds retry_after(0);
  auto token = ctx_.identity->Login(*doc, req.get_header_value("X-Auth-Token"),
                                     PeerBucket(req.remote_addr), &retry_after);
  WipeStrings(*doc);
  if (!token.ok()) {
    if (KeystoneStatus(token.status()) == 429) {
      const auto seconds = std::max<int64_t>(1, (retry_after.count() + 999) / 1000);
      res.set_header("Retry-After", std::to_string(seconds));
    }
    return SendError(res, token.status(), request_id);
  }
  res.set_header("X-Subject-Token", token->token);
  SendJson(res, 201, Identity::TokenBody(*token, CatalogFor(req)), request_id);
  WipeString(token->token);
}

void IamRoutes::Introspect(const Request& req, Response& res) {
  const std::string request_id = NewRequestId();
  auto token = ctx_.identity->Describe(req.get_header_value("X-Auth-Token"), req.get_header_value("X-Subject-Token"));
  if (!token.ok()) return SendError(res, token.status(), request_id);
  res.set_header("X-Subject-Token", req.get_header_value("X-Subject-Token"));
  SendJson(res, 200, Identity::TokenBody(*token, CatalogFor(req)), request_id);
}

void IamRoutes::Version(const Request& req, Response& res) {
  const std::string base = BaseUrl(req, ctx_.tls);
  SendJson(res, 200,
           {{"version",
             {{"id", "v3.0"},
              {"status", "stable"},
              {"updated", "2018-02-28T00:00:00Z"},
              {"links", Json::array({{{"rel", "self"}, {"href", base + "/v3/"}}})},
              {"media-types",
               Json::array({{{"base", "application/json"}, {"type", "application/vnd.openstack.identity-v3+json"}}})}}}},
           NewRequestId());
}

void IamRoutes::Projects(const Request& req, Response& res) {
  const std::string request_id = NewRequestId();
  std::optional<Caller> caller = CallerOf(req, "", res, request_id);
  if (!caller) return;
  auto projects = ctx_.identity->ProjectsOf(caller->domain_id);
  if (!projects.ok()) return SendError(res, projects.status(), request_id);
  const std::string name = req.get_param_value("name");
  Json list = Json::array();
  for (const auto& [id, project_name] : *projects) {
    if (!name.empty() && name != project_name) continue;
    list.push_back({{"id", id},
                    {"name", project_name},
                    {"domain_id", caller->domain_id},
                    {"parent_id", caller->domain_id},
                    {"is_domain", false},
                    {"enabled", true},
                    {"description", ""}});
  }
  const std::string self = BaseUrl(req, ctx_.tls) + req.path;
  SendJson(res, 200, {{"projects", list}, {"links", {{"self", self}, {"previous", nullptr}, {"next", nullptr}}}},
           request_id);
}

void IamRoutes::CreateCredential(const Request& req, Response& res, const Reader& reader) {
  const std::string request_id = NewRequestId();
  SecureString raw;
  std::optional<Json> doc = ObjectBody(req, reader, res, request_id, &raw);
  if (!doc) return;
  std::optional<Caller> caller = CallerOf(req, std::string_view(raw.data(), raw.size()), res, request_id);
  if (!caller) return;
  const Json* credential = doc->contains("credential") ? &(*doc)["credential"] : nullptr;
  if (credential == nullptr || !credential->is_object() || !credential->contains("user_id") ||
      !(*credential)["user_id"].is_string()) {
    return SendKeystoneError(res, 400, "Expecting to find credential.user_id in the request body.", request_id);
  }
  const std::string user_id((*credential)["user_id"].get_ref<const Json::string_t&>());
  std::string description;
  if (credential->contains("description")) {
    const Json& d = (*credential)["description"];
    if (!d.is_string() || d.get_ref<const Json::string_t&>().size() > 255) {
      return SendKeystoneError(res, 400, "credential.description must be a string of at most 255 characters.",
                               request_id);
    }
    description = std::string(d.get_ref<const Json::string_t&>());
  }
  if (user_id != caller->user_id) return SendKeystoneError(res, 403, kNotAuthorized, request_id);
  auto created = ctx_.access_keys->CreatePermanent(user_id, description);
  if (!created.ok()) return SendError(res, created.status(), request_id);
  Json out = AccessKeys::CredentialJson(created->record);
  out["secret"] = created->secret;
  SendJson(res, 201, {{"credential", std::move(out)}}, request_id);
}

void IamRoutes::ListCredentials(const Request& req, Response& res) {
  const std::string request_id = NewRequestId();
  std::optional<Caller> caller = CallerOf(req, "", res, request_id);
  if (!caller) return;
  const std::string user_id = req.has_param("user_id") ? req.get_param_value("user_id") : caller->user_id;
  if (user_id != caller->user_id) return SendKeystoneError(res, 403, kNotAuthorized, request_id);
  auto keys = ctx_.access_keys->List(user_id);
  if (!keys.ok()) return SendError(res, keys.status(), request_id);
  Json list = Json::array();
  for (const AccessKeyRecord& k : *keys) list.push_back(AccessKeys::CredentialJson(k));
  SendJson(res, 200, {{"credentials", list}}, request_id);
}

std::optional<AccessKeyRecord> IamRoutes::OwnAccessKey(const Request& req, const Caller& caller, Response& res,
                                                       const std::string& request_id) {
  auto key = ctx_.access_keys->Get(std::string(req.matches[1]));
  // Another user's key is answered like one that does not exist.
  if (!key.ok() || key->user_id != caller.user_id) {
    SendKeystoneError(res, 404, "Could not find the access key.", request_id);
    return std::nullopt;
  }
  return std::move(key).value();
}

void IamRoutes::ShowCredential(const Request& req, Response& res) {
  const std::string request_id = NewRequestId();
  std::optional<Caller> caller = CallerOf(req, "", res, request_id);
  if (!caller) return;
  std::optional<AccessKeyRecord> key = OwnAccessKey(req, *caller, res, request_id);
  if (!key) return;
  SendJson(res, 200, {{"credential", AccessKeys::CredentialJson(*key)}}, request_id);
}

void IamRoutes::UpdateCredential(const Request& req, Response& res, const Reader& reader) {
  const std::string request_id = NewRequestId();
  SecureString raw;
  std::optional<Json> doc = ObjectBody(req, reader, res, request_id, &raw);
  if (!doc) return;
  std::optional<Caller> caller = CallerOf(req, std::string_view(raw.data(), raw.size()), res, request_id);
  if (!caller) return;
  std::optional<AccessKeyRecord> key = OwnAccessKey(req, *caller, res, request_id);
  if (!key) return;
  const Json* credential = doc->contains("credential") ? &(*doc)["credential"] : nullptr;
  if (credential == nullptr || !credential->is_object()) {
    return SendKeystoneError(res, 400, "Expecting to find credential in the request body.", request_id);
  }
  if (credential->contains("status")) {
    const Json& st = (*credential)["status"];
    if (!st.is_string() || (st != "active" && st != "inactive")) {
      return SendKeystoneError(res, 400, "credential.status must be active or inactive.", request_id);
    }
    key->status = std::string(st.get_ref<const Json::string_t&>());
  }
  if (credential->contains("description")) {
    const Json& d = (*credential)["description"];
    if (!d.is_string() || d.get_ref<const Json::string_t&>().size() > 255) {
      return SendKeystoneError(res, 400, "credential.description must be a string of at most 255 characters.",
                               request_id);
    }
    key->description = std::string(d.get_ref<const Json::string_t&>());
  }
  if (Status st = ctx_.access_keys->Put(*key); !st.ok()) return SendError(res, st, request_id);
  SendJson(res, 200, {{"credential", AccessKeys::CredentialJson(*key)}}, request_id);
}

void IamRoutes::DeleteCredential(const Request& req, Response& res) {
  const std::string request_id = NewRequestId();
  std::optional<Caller> caller = CallerOf(req, "", res, request_id);
  if (!caller) return;
  std::optional<AccessKeyRecord> key = OwnAccessKey(req, *caller, res, request_id);
  if (!key) return;
  if (Status st = ctx_.access_keys->Delete(key->access); !st.ok()) return SendError(res, st, request_id);
  res.status = 204;
  res.set_header("X-Request-Id", request_id);
}

void IamRoutes::CreateSecurityToken(const Request& req, Response& res, const Reader& reader) {
  const std::string request_id = NewRequestId();
  SecureString raw;
  std::optional<Json> doc = ObjectBody(req, reader, res, request_id, &raw);
  if (!doc) return;
  const Json& auth = doc->contains("auth") ? (*doc)["auth"] : *doc;
  const Json identity = auth.is_object() && auth.contains("identity") ? auth["identity"] : Json();
  const Json methods = identity.is_object() && identity.contains("methods") ? identity["methods"] : Json();
  if (!methods.is_array() || methods.size() != 1 || methods[0] != "token") {
    return SendKeystoneError(res, 400, "kmsd issues temporary access keys for the token method only.", request_id);
  }
  const Json token = identity.contains("token") ? identity["token"] : Json::object();
  if (!token.is_object()) return SendKeystoneError(res, 400, "identity.token must be an object.", request_id);
  // The token in the body, else X-Auth-Token.
  std::string presented = req.get_header_value("X-Auth-Token");
  if (token.contains("id")) {
    if (!token["id"].is_string()) return SendKeystoneError(res, 400, "identity.token.id must be a string.", request_id);
    presented = std::string(token["id"].get_ref<const Json::string_t&>());
  }
  int64_t duration = 900;
  if (token.contains("duration_seconds")) {
    const Json& d = token["duration_seconds"];
    const bool integral = d.is_number_integer() || d.is_number_unsigned();
    if (!integral || d.get<int64_t>() < AccessKeys::kMinTemporarySec || d.get<int64_t>() > AccessKeys::kMaxTemporarySec) {
      return SendKeystoneError(res, 400, "duration_seconds must be a whole number from 900 to 86400.", request_id);
    }
    duration = d.get<int64_t>();
  }
  auto caller = ctx_.identity->Authenticate(presented);
  if (!caller.ok()) return SendKeystoneError(res, 401, "The request you have made requires authentication.", request_id);
  auto created = ctx_.access_keys->CreateTemporary(caller->user_id, duration);
  if (!created.ok()) return SendError(res, created.status(), request_id);
  SendJson(res, 201,
           {{"credential",
             {{"access", created->record.access},
              {"secret", created->secret},
              {"securitytoken", created->security_token},
              {"expires_at", Iso8601Utc(created->record.expires_ms)}}}},
           request_id);
}

void IamRoutes::Install(httplib::Server& s) {
  s.Post("/v3/auth/tokens", [this](const Request& req, Response& res, const Reader& r) { Login(req, res, r); });
  s.Get("/v3/auth/tokens", [this](const Request& req, Response& res) { Introspect(req, res); });
  auto wrong_method = [](const Request&, Response& res) {
    SendKeystoneError(res, 405, "Method not allowed.", NewRequestId());
  };
  s.Put("/v3/auth/tokens", wrong_method);
  s.Delete("/v3/auth/tokens", wrong_method);
  s.Patch("/v3/auth/tokens", wrong_method);
  s.Get("/v3/?", [this](const Request& req, Response& res) { Version(req, res); });
  s.Get("/v3/projects", [this](const Request& req, Response& res) { Projects(req, res); });
  s.Get("/v3/auth/projects", [this](const Request& req, Response& res) { Projects(req, res); });
  const std::string credentials = "/v3\\.0/OS-CREDENTIAL/credentials";
  const std::string one = credentials + "/([A-Za-z0-9]{1,128})";
  s.Post(credentials, [this](const Request& req, Response& res, const Reader& r) { CreateCredential(req, res, r); });
  s.Get(credentials, [this](const Request& req, Response& res) { ListCredentials(req, res); });
  s.Get(one, [this](const Request& req, Response& res) { ShowCredential(req, res); });
  s.Put(one, [this](const Request& req, Response& res, const Reader& r) { UpdateCredential(req, res, r); });
  s.Delete(one, [this](const Request& req, Response& res) { DeleteCredential(req, res); });
  s.Post("/v3\\.0/OS-CREDENTIAL/securitytokens",
         [this](const Request& req, Response& res, const Reader& r) { CreateSecurityToken(req, res, r); });
}

}  // namespace kmsfs::kms::server
