// AK/SK-signed requests to kmsd, signed with the project's SDK-HMAC-SHA256
// signer (crypto/sdk_hmac_signer.h) as the Huawei Cloud SDK signs them.
#ifndef KMSFS_TESTS_SERVER_SIGNED_HTTP_H_
#define KMSFS_TESTS_SERVER_SIGNED_HTTP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tests/testutil/kmsd_process.h"

namespace kmsfs::testing {

struct SigningKey {
  std::string access;
  std::string secret;
  std::string security_token;  // temporary keys only
};

struct SignOptions {
  std::optional<int64_t> date_sec;                  // X-Sdk-Date; default now
  std::map<std::string, std::string> extra_headers;  // also signed
  // Applied after signing: the request as sent differs from what was signed.
  std::string body_sent_instead;
  bool send_body_instead = false;
  std::string signed_headers_instead;                        // in Authorization, when not empty
  std::map<std::string, std::string> headers_after_signing;  // sent, not signed
  bool replace_signed_headers = false;  // headers_after_signing replace, not add to, those signed
};

// `method` `path` (with any query) to `endpoint`, signed with `key`, with
// Content-Type application/json;charset=UTF-8 and X-Project-Id when given.
HttpReply SendSigned(const std::string& endpoint, const std::string& method, const std::string& path,
                     const std::string& body, const SigningKey& key, const std::string& project_id = "",
                     const SignOptions& options = {});

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_SERVER_SIGNED_HTTP_H_
