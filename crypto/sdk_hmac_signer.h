// SDK-HMAC-SHA256: the AK/SK request signature of the Huawei Cloud SDKs and
// API gateway, exactly as huaweicloudsdkcore/signer/signer.py computes it.
//
//   CanonicalRequest = METHOD "\n" CanonicalURI "\n" CanonicalQueryString "\n"
//                      CanonicalHeaders "\n" SignedHeaders "\n" PayloadHash
//   StringToSign     = "SDK-HMAC-SHA256\n" X-Sdk-Date "\n" hex(SHA-256(CanonicalRequest))
//   Signature        = hex(HMAC-SHA256(SK, StringToSign))
//   Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b;c, Signature=…
//
// CanonicalURI: the path percent-decoded, split at '/', each segment
// percent-encoded again (all but A-Z a-z 0-9 - . _ ~), and a trailing '/'.
// CanonicalQueryString: name=value pairs, both percent-encoded the same way,
// sorted by name then value, joined by '&'. CanonicalHeaders: for each signed
// header (lower-case names, sorted) "name:value\n" with the value trimmed.
// PayloadHash: the SHA-256 of the empty string for an empty body, else the
// X-Sdk-Content-Sha256 header's value when there is one ("UNSIGNED-PAYLOAD"),
// else hex(SHA-256(body)). X-Sdk-Date is "YYYYMMDDTHHMMSSZ" (UTC).
//
// One implementation serves both sides: kmsd verifies signatures with it and
// the kmsfs client signs with it. The secret key is only ever read from
// SecretBytes, and signatures are compared in constant time.
//
// Thread-safety: pure functions.
#ifndef KMSFS_CRYPTO_SDK_HMAC_SIGNER_H_
#define KMSFS_CRYPTO_SDK_HMAC_SIGNER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::crypto::sdk_hmac {

inline constexpr std::string_view kAlgorithm = "SDK-HMAC-SHA256";
inline constexpr std::string_view kDateHeader = "X-Sdk-Date";
inline constexpr std::string_view kContentHashHeader = "X-Sdk-Content-Sha256";
inline constexpr std::string_view kSecurityTokenHeader = "X-Security-Token";

using Pairs = std::vector<std::pair<std::string, std::string>>;

// An HTTP request as the signature sees it.
struct Request {
  std::string method;  // "POST"
  std::string path;    // as on the wire (percent-encoded), without the query
  Pairs query;         // decoded names and values, in any order
  Pairs headers;       // names and values as sent
  std::string_view body;
};

// The parts of an Authorization header value.
struct Authorization {
  std::string access;                        // the AK
  std::vector<std::string> signed_headers;   // lower-case, as listed
  std::string signature;                     // hex
};

std::string CanonicalUri(std::string_view path);
std::string CanonicalQueryString(const Pairs& query);
// The decoded pairs of a raw query string ("a=b&c=%20d"); a name without '='
// has the empty value. '+' is kept as is.
Pairs ParseQuery(std::string_view raw_query);

// The headers a signer signs: every header whose name has no '_', as lower-
// case names, sorted, without repeats.
std::vector<std::string> SignableHeaderNames(const Pairs& headers);

// kInvalidArgument when a signed header is missing from `request`.
StatusOr<std::string> CanonicalRequest(const Request& request, const std::vector<std::string>& signed_headers);
std::string StringToSign(std::string_view canonical_request, std::string_view sdk_date);
// hex(HMAC-SHA256(secret_key, string_to_sign)), lower case.
std::string Signature(const SecretBytes& secret_key, std::string_view string_to_sign);
std::string AuthorizationValue(std::string_view access, const std::vector<std::string>& signed_headers,
                               std::string_view signature);
// Parses "SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…" (the three
// in any order); kInvalidArgument for anything else.
StatusOr<Authorization> ParseAuthorization(std::string_view value);

// "YYYYMMDDTHHMMSSZ" of `epoch_sec`, and back (kInvalidArgument if malformed).
std::string FormatSdkDate(int64_t epoch_sec);
StatusOr<int64_t> ParseSdkDate(std::string_view text);

// Signs `request` as the SDK does: adds X-Sdk-Date (for `now_sec`) unless it
// is there, then signs every signable header (Host must be among them) and
// returns the Authorization header's value.
StatusOr<std::string> Sign(Request& request, std::string_view access, const SecretBytes& secret_key, int64_t now_sec);

// Whether `auth.signature` is the signature of `request` over
// `auth.signed_headers` under `secret_key`, with the date the request's
// X-Sdk-Date names; compared in constant time.
StatusOr<bool> SignatureMatches(const Request& request, const Authorization& auth, const SecretBytes& secret_key);

// The value of header `name` (any case) in `headers`, or nullptr.
const std::string* FindHeader(const Pairs& headers, std::string_view name);

}  // namespace kmsfs::crypto::sdk_hmac

#endif  // KMSFS_CRYPTO_SDK_HMAC_SIGNER_H_
