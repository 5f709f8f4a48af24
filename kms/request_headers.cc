#include "kms/request_headers.h"

namespace kmsfs::kms {

SecureString SecretHeader(std::string_view name, const SecretBytes& value) {
  SecureString line;
  line.reserve(name.size() + 2 + value.size());
  line.append(name.data(), name.size());
  line += ": ";
  line.append(reinterpret_cast<const char*>(value.data()), value.size());
  return line;
}

void SetRequestHeaders(HttpRequest& request, CallAuth auth, const TokenRef& token) {
  request.headers.clear();
  request.headers.emplace_back("Accept: application/json");
  if (request.method == "POST") request.headers.emplace_back("Content-Type: application/json");
  // AK/SK signing hooks in here, as a CallAuth of its own: it adds X-Sdk-Date
  // (and X-Security-Token) first, then signs the final method, URL, body and
  // these header lines (fs/crypto/sdk_hmac_signer.h) into Authorization.
  if (auth == CallAuth::kNone || token == nullptr) return;
  request.headers.push_back(SecretHeader("X-Auth-Token", *token));
  if (auth == CallAuth::kTokenLookup) request.headers.push_back(SecretHeader("X-Subject-Token", *token));
}

}  // namespace kmsfs::kms
