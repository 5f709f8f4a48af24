#include "kms/request_signer.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>

#include "crypto/sdk_hmac_signer.h"

namespace kmsfs::kms {
namespace {

namespace sdk = crypto::sdk_hmac;

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

// Wipes the header values of a request when it goes: they may carry the
// security token.
struct WipeHeadersOnExit {
  sdk::Request& request;
  ~WipeHeadersOnExit() {
    for (auto& [name, value] : request.headers) Wipe(value);
  }
};

SecureString HeaderLine(std::string_view name, std::string_view value) {
  SecureString line;
  line.reserve(name.size() + 2 + value.size());
  line.append(name.data(), name.size());
  line += ": ";
  line.append(value.data(), value.size());
  return line;
}

}  // namespace

RequestSigner::RequestSigner(const ConnectionConfig& config)
    : access_key_(config.access_key),
      secret_key_(config.secret_key.Clone()),
      security_token_(config.security_token.Clone()),
      project_id_(config.project_id) {}

Status RequestSigner::Sign(HttpRequest& request, int64_t now_sec) const {
  const std::string_view url = request.url;
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return Status::InvalidArgument("cannot sign a request to a URL without a scheme");
  const size_t host_at = scheme + 3;
  const size_t host_end = std::min(url.find_first_of("/?#", host_at), url.size());
  if (host_end == host_at) return Status::InvalidArgument("cannot sign a request to a URL without a host");
  std::string_view target = url.substr(host_end);
  if (const size_t fragment = target.find('#'); fragment != std::string_view::npos) target = target.substr(0, fragment);
  const size_t query_at = target.find('?');

  sdk::Request signed_request;
  signed_request.method = request.method;
  signed_request.path = query_at == std::string_view::npos ? std::string(target) : std::string(target.substr(0, query_at));
  if (signed_request.path.empty()) signed_request.path = "/";
  if (query_at != std::string_view::npos) signed_request.query = sdk::ParseQuery(target.substr(query_at + 1));
  signed_request.body = request.body;

  WipeHeadersOnExit wipe{signed_request};
  for (const SecureString& line : request.headers) {
    const std::string_view text(line.data(), line.size());
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::InvalidArgument("cannot sign a request with a header line that has no name");
    }
    std::string_view value = text.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    signed_request.headers.emplace_back(std::string(text.substr(0, colon)), std::string(value));
  }
  for (std::string_view own : {std::string_view("Host"), sdk::kDateHeader, std::string_view("Authorization")}) {
    if (sdk::FindHeader(signed_request.headers, own) != nullptr) {
      return Status::InvalidArgument("cannot sign a request that carries " + std::string(own) + " already");
    }
  }
  const size_t first_added = signed_request.headers.size();
  // What libcurl would send as Host for this URL, sent explicitly so that
  // the signed value is the one on the wire.
  signed_request.headers.emplace_back("Host", std::string(url.substr(host_at, host_end - host_at)));
  signed_request.headers.emplace_back("X-Project-Id", project_id_);
  if (!security_token_.empty()) {
    const auto token = security_token_.span();
    signed_request.headers.emplace_back(std::string(sdk::kSecurityTokenHeader),
                                        std::string(reinterpret_cast<const char*>(token.data()), token.size()));
  }
  // Adds X-Sdk-Date to the headers, then signs them all.
  KMSFS_ASSIGN_OR_RETURN(const std::string authorization,
                         sdk::Sign(signed_request, access_key_, secret_key_, now_sec));
  for (size_t i = first_added; i < signed_request.headers.size(); ++i) {
    request.headers.push_back(HeaderLine(signed_request.headers[i].first, signed_request.headers[i].second));
  }
  request.headers.push_back(HeaderLine("Authorization", authorization));
  return Status::Ok();
}

}  // namespace kmsfs::kms
