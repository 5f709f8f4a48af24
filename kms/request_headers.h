// The one place a KMS or IAM request's headers are made: the fixed ones
// (Accept, Content-Type) and the credentials. The executor calls it for every
// attempt, right before the request goes out, so anything that depends on the
// final request or on the moment it is sent belongs here. AK/SK request
// signing (SDK-HMAC-SHA256, as the Huawei Cloud SDKs sign) is the last step:
// it sees the final method, URL, body and the other headers, and adds its
// X-Sdk-Date and Authorization lines next to them, so a retry is signed
// afresh with its own date.
//
// Header lines carrying a credential are built in wiped memory.
//
// Thread-safety: pure functions (the signer is read only).
#ifndef KMSFS_KMS_REQUEST_HEADERS_H_
#define KMSFS_KMS_REQUEST_HEADERS_H_

#include <cstdint>
#include <string_view>

#include "base/secret_bytes.h"
#include "kms/http_exchange.h"
#include "kms/iam_auth.h"
#include "kms/request_signer.h"
#include "base/secure_string.h"

namespace kmsfs::kms {

// What a request proves about its sender.
enum class CallAuth {
  kNone,         // nothing: the IAM password login (its body carries the password)
  kToken,        // X-Auth-Token: every KMS action
  kTokenLookup,  // X-Auth-Token and X-Subject-Token: asking IAM whose a static token is
  kSigned,       // an AK/SK signature (kms/request_signer.h) in place of a token
};

// Replaces `request.headers` with the headers for its method and `auth`:
// `token` must be set for kToken and kTokenLookup, `signer` for kSigned,
// which signs the request as made at `now_sec` (Unix time). Fails only when
// the request cannot be signed, or a credential is missing for `auth`.
[[nodiscard]] Status SetRequestHeaders(HttpRequest& request, CallAuth auth, const TokenRef& token,
                                       const RequestSigner* signer, int64_t now_sec);

// "Name: value" in wiped memory, for headers that carry a credential.
SecureString SecretHeader(std::string_view name, const SecretBytes& value);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_REQUEST_HEADERS_H_
