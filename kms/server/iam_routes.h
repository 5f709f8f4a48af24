// The IAM routes kmsd serves, as Keystone v3 and the Huawei Cloud IAM answer
// them (see docs/KMSD.md "The API it serves"):
//   GET  /v3                                    version document
//   POST /v3/auth/tokens                        password or token login (201, X-Subject-Token)
//   GET  /v3/auth/tokens                        token introspection
//   GET  /v3/projects[?name=N], /v3/auth/projects   the caller's domain's projects
//   POST /v3.0/OS-CREDENTIAL/credentials        a permanent AK/SK for the caller
//   GET  /v3.0/OS-CREDENTIAL/credentials[?user_id=]   the caller's permanent keys
//   GET|PUT|DELETE /v3.0/OS-CREDENTIAL/credentials/{access}
//   POST /v3.0/OS-CREDENTIAL/securitytokens     a temporary AK/SK and security token from a token
// Every route but the version document and login authenticates the caller
// by X-Auth-Token or an AK/SK signature; a caller manages its own access keys
// only (403 otherwise). Errors are Keystone errors
// ({"error":{"code","title","message"}}), AK/SK failures the gateway's 401
// APIGW.0301.
//
// Thread-safety: the handlers are safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_IAM_ROUTES_H_
#define KMSFS_KMS_SERVER_IAM_ROUTES_H_

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>

#include "kms/server/access_keys.h"
#include "kms/server/http_common.h"
#include "kms/server/identity.h"

namespace kmsfs::kms::server {

struct IamContext {
  Identity* identity = nullptr;
  AccessKeys* access_keys = nullptr;
  const Authenticator* authenticator = nullptr;
  size_t max_body_bytes = 1 << 20;
  bool tls = false;
  std::string region;  // of the catalog's endpoints
};

class IamRoutes {
 public:
  explicit IamRoutes(IamContext context) : ctx_(std::move(context)) {}
  IamRoutes(const IamRoutes&) = delete;
  IamRoutes& operator=(const IamRoutes&) = delete;

  // Adds the routes to `server`; they refer to this object, which must
  // outlive the server's use of them.
  void Install(httplib::Server& server);

 private:
  using Request = httplib::Request;
  using Response = httplib::Response;
  using Reader = httplib::ContentReader;

  // Sends a failure of Identity/AccessKeys/Authenticator.
  void SendError(Response& res, const Status& st, const std::string& request_id) const;
  // The access key named by the route's first match, if it is the caller's
  // own; otherwise answers 404 (as for a key that does not exist).
  std::optional<AccessKeyRecord> OwnAccessKey(const Request& req, const Caller& caller, Response& res,
                                              const std::string& request_id);
  // The caller of an IAM call; on failure the answer is sent already.
  std::optional<Caller> CallerOf(const Request& req, std::string_view body, Response& res,
                                 const std::string& request_id) const;
  // Reads a JSON object body; on failure the answer is sent already.
  std::optional<Json> ObjectBody(const Request& req, const Reader& reader, Response& res,
                                 const std::string& request_id, SecureString* raw) const;
  Catalog CatalogFor(const Request& req) const { return Catalog{BaseUrl(req, ctx_.tls), ctx_.region}; }

  void Login(const Request& req, Response& res, const Reader& reader);
  void Introspect(const Request& req, Response& res);
  void Version(const Request& req, Response& res);
  void Projects(const Request& req, Response& res);
  void CreateCredential(const Request& req, Response& res, const Reader& reader);
  void ListCredentials(const Request& req, Response& res);
  void ShowCredential(const Request& req, Response& res);
  void UpdateCredential(const Request& req, Response& res, const Reader& reader);
  void DeleteCredential(const Request& req, Response& res);
  void CreateSecurityToken(const Request& req, Response& res, const Reader& reader);

  IamContext ctx_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_IAM_ROUTES_H_
