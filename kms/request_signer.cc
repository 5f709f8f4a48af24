#include "kms/request_signer.h"

#include <sodium.h>

#include "fs/crypto/sdk_hmac_signer.h"
#include "kms/http_transport.h"

namespace kmsfs::kms {
namespace {

namespace sdk = crypto::sdk_hmac;

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

}  // namespace

RequestSigner::RequestSigner(const ConnectionConfig& config)
    : access_key_(config.access_key),
      secret_key_(config.secret_key.Clone()),
      security_token_(config.security_token.Clone()),
      project_id_(config.project_id) {}

StatusOr<std::vector<SecureString>> RequestSigner::Headers(std::string_view url, std::string_view body,
                                                           int64_t now_sec) const {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return Status::InvalidArgument("cannot sign a request to a URL without a scheme");
  const size_t path_at = url.find('/', scheme + 3);
  sdk::Request request;
  request.method = "POST";
  request.path = path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at));
  // What libcurl sends as Host for this URL: its host and port as written.
  request.headers = {{"Host", std::string(url.substr(scheme + 3, path_at - scheme - 3))},
                     {"Content-Type", "application/json"},
                     {"X-Project-Id", project_id_}};
  if (!security_token_.empty()) {
    const auto token = security_token_.span();
    request.headers.emplace_back(std::string(sdk::kSecurityTokenHeader),
                                 std::string(reinterpret_cast<const char*>(token.data()), token.size()));
  }
  request.body = body;
  StatusOr<std::string> authorization = sdk::Sign(request, access_key_, secret_key_, now_sec);
  std::vector<SecureString> lines;
  if (authorization.ok()) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Content-Type") continue;  // HttpTransport sends it
      SecureString line(name.data(), name.size());
      line += ": ";
      line.append(value.data(), value.size());
      lines.push_back(std::move(line));
    }
    SecureString line("Authorization: ");
    line.append(authorization->data(), authorization->size());
    lines.push_back(std::move(line));
  }
  for (auto& [name, value] : request.headers) Wipe(value);
  if (!authorization.ok()) return authorization.status();
  return lines;
}

}  // namespace kmsfs::kms
