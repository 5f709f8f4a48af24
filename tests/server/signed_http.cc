#include "tests/server/signed_http.h"

#include <httplib.h>

#include <ctime>

#include "crypto/sdk_hmac_signer.h"

namespace kmsfs::testing {

namespace sdk = crypto::sdk_hmac;

HttpReply SendSigned(const std::string& endpoint, const std::string& method, const std::string& path,
                     const std::string& body, const SigningKey& key, const std::string& project_id,
                     const SignOptions& options) {
  sdk::Request r;
  r.method = method;
  const size_t q = path.find('?');
  r.path = path.substr(0, q);
  if (q != std::string::npos) r.query = sdk::ParseQuery(std::string_view(path).substr(q + 1));
  const std::string host = endpoint.substr(endpoint.find("://") + 3);
  r.headers = {{"Host", host}, {"Content-Type", "application/json;charset=UTF-8"}};
  if (!project_id.empty()) r.headers.emplace_back("X-Project-Id", project_id);
  if (!key.security_token.empty()) r.headers.emplace_back(std::string(sdk::kSecurityTokenHeader), key.security_token);
  for (const auto& [k, v] : options.extra_headers) r.headers.emplace_back(k, v);
  r.body = body;
  const SecretBytes sk = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(key.secret.data()), key.secret.size()});
  auto auth = sdk::Sign(r, key.access, sk, options.date_sec.value_or(static_cast<int64_t>(std::time(nullptr))));
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (const auto& [k, v] : r.headers) req.headers.emplace(k, v);
  for (const auto& [k, v] : options.headers_after_signing) {
    if (options.replace_signed_headers) req.headers.erase(k);
    req.headers.emplace(k, v);
  }
  std::string authorization = auth.ok() ? *auth : "signing failed: " + auth.status().ToString();
  if (!options.signed_headers_instead.empty()) {
    const size_t from = authorization.find("SignedHeaders=") + 14;
    authorization.replace(from, authorization.find(',', from) - from, options.signed_headers_instead);
  }
  req.headers.emplace("Authorization", authorization);
  req.body = options.send_body_instead ? options.body_sent_instead : body;
  httplib::Client cli(endpoint);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(30, 0);
  cli.enable_server_certificate_verification(false);
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  HttpReply reply;
  if (!cli.send(req, res, error)) {
    reply.body = "no HTTP answer: " + httplib::to_string(error);
    return reply;
  }
  reply.status = res.status;
  reply.body = res.body;
  for (const auto& [k, v] : res.headers) reply.headers[k] = v;
  return reply;
}

}  // namespace kmsfs::testing
