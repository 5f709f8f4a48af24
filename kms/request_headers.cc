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

Status SetRequestHeaders(HttpRequest& request, CallAuth auth, const TokenRef& token, const RequestSigner* signer,
                         int64_t now_sec) {
  request.headers.clear();
  request.headers.emplace_back("Accept: application/json");
  if (request.method == "POST") request.headers.emplace_back("Content-Type: application/json");
  switch (auth) {
    case CallAuth::kNone:
      return Status::Ok();
    case CallAuth::kToken:
    case CallAuth::kTokenLookup:
      if (token == nullptr) return Status::Internal("a request that carries a token has none");
      request.headers.push_back(SecretHeader("X-Auth-Token", *token));
      if (auth == CallAuth::kTokenLookup) request.headers.push_back(SecretHeader("X-Subject-Token", *token));
      return Status::Ok();
    case CallAuth::kSigned:
      if (signer == nullptr) return Status::Internal("a request to be signed has no access key to sign with");
      // Last: the signature covers every header line above.
      return signer->Sign(request, now_sec);
  }
  return Status::Internal("unknown request authentication");
}

}  // namespace kmsfs::kms
