// Pieces the HTTP handlers of kmsd share (http_server.cc for the KMS API,
// iam_routes.cc for the IAM API): answers in the API's JSON shapes, reading
// bodies into wiping memory, and who sent a request (token or AK/SK).
//
// Thread-safety: free functions; the Authenticator is immutable and safe for
// concurrent use.
#ifndef KMSFS_KMS_SERVER_HTTP_COMMON_H_
#define KMSFS_KMS_SERVER_HTTP_COMMON_H_

#include <httplib.h>

#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/sdk_hmac_signer.h"
#include "kms/server/access_keys.h"
#include "kms/server/identity.h"
#include "kms/server/json.h"

namespace kmsfs::kms::server {

// 32 random lower-case hex digits for X-Request-Id.
std::string NewRequestId();

// `body` as the answer, with X-Request-Id: `request_id`. The body reaches
// httplib through a content provider over a wiping buffer, so httplib keeps
// no copy of what it carries.
void SendJson(httplib::Response& res, int status, const Json& body, const std::string& request_id);
// A KMS API error: {"error":{"error_code","error_msg"}}, or for the API
// gateway's codes (APIGW.*) {"error_code","error_msg","request_id"}.
void SendKmsError(httplib::Response& res, const Status& st, const std::string& request_id);
// A Keystone error: {"error":{"code","title","message"}}.
void SendKeystoneError(httplib::Response& res, int http, const std::string& message, const std::string& request_id);
// The Keystone HTTP status for a Status of Identity/AccessKeys.
int KeystoneStatus(const Status& st);

// Reads the request body into `body` (at most `max` bytes). Returns false
// when it could not; `too_large` tells whether the limit was the reason.
// httplib hands the body over in its own stack buffer: each piece is wiped
// there once copied.
bool ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, size_t max, SecureString* body,
              bool* too_large);

// The request as the SDK-HMAC-SHA256 signature covers it.
crypto::sdk_hmac::Request SignedView(const httplib::Request& req, std::string_view body);

class Authenticator {
 public:
  Authenticator(const Identity* identity, const AccessKeys* access_keys)
      : identity_(identity), access_keys_(access_keys) {}

  // An AK/SK-signed request (Authorization: SDK-HMAC-SHA256 …) acts as the
  // key's user in its project (errors: 401 APIGW.0301); any other acts as
  // its X-Auth-Token's caller (errors: 403 KMS.0301/0302/0303).
  StatusOr<Caller> Authenticate(const httplib::Request& req, std::string_view body) const;

 private:
  const Identity* identity_;
  const AccessKeys* access_keys_;
};

// Whether `req` carries an SDK-HMAC-SHA256 Authorization header.
bool IsSigned(const httplib::Request& req);

// kmsd's own base URL as the client reached it ("https://host:port"), from
// the Host header (the listening address when it is missing or odd).
std::string BaseUrl(const httplib::Request& req, bool tls);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_HTTP_COMMON_H_
