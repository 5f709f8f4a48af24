// The headers every request carries, by method and by what it proves, and
// the AK/SK signature over the final request.
#include "kms/request_headers.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/sdk_hmac_signer.h"
#include "kms/connection_config.h"
#include "kms/request_signer.h"

namespace kmsfs::kms {
namespace {

namespace sdk = crypto::sdk_hmac;

constexpr int64_t kNow = 1'700'000'000;  // 2023-11-14T22:13:20Z
constexpr char kSecret[] = "example-secret-key";

std::vector<std::string> Lines(const HttpRequest& r) {
  std::vector<std::string> out;
  for (const SecureString& h : r.headers) out.emplace_back(h.data(), h.size());
  return out;
}

TokenRef Token(const char* text) { return std::make_shared<const SecretBytes>(SecretFromText(text)); }

ConnectionConfig AccessKeyConfig() {
  ConnectionConfig c;
  c.endpoint = "http://127.0.0.1:8765";
  c.project_id = "b168fe00ff56492495a7d22974df2d0b";
  c.access_key = "HPUAEXAMPLEACCESSKEY";
  c.secret_key = SecretFromText(kSecret);
  return c;
}

HttpRequest KmsPost(std::string url = "http://127.0.0.1:8765/v1.0/b168fe00ff56492495a7d22974df2d0b/kms/"
                                      "encrypt-datakey") {
  HttpRequest r;
  r.method = "POST";
  r.url = std::move(url);
  r.body = "{\"key_id\":\"k\",\"plain_text\":\"00\"}";
  return r;
}

// The request as a server sees it: every header line, Host included.
sdk::Request AsReceived(const HttpRequest& r, std::string_view path, sdk::Pairs query = {}) {
  sdk::Request out;
  out.method = r.method;
  out.path = std::string(path);
  out.query = std::move(query);
  out.body = r.body;
  for (const std::string& line : Lines(r)) {
    const size_t colon = line.find(": ");
    out.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return out;
}

bool SignatureHolds(const sdk::Request& request) {
  const std::string* authorization = sdk::FindHeader(request.headers, "Authorization");
  if (authorization == nullptr) return false;
  StatusOr<sdk::Authorization> parsed = sdk::ParseAuthorization(*authorization);
  if (!parsed.ok()) return false;
  StatusOr<bool> matches = sdk::SignatureMatches(request, *parsed, SecretFromText(kSecret));
  return matches.ok() && *matches;
}

TEST(SecretHeaderTest, BuildsTheHeaderLine) {
  const SecretBytes token = SecretFromText("abc.def");
  const SecureString line = SecretHeader("X-Auth-Token", token);
  EXPECT_EQ(std::string(line.data(), line.size()), "X-Auth-Token: abc.def");
}

TEST(SetRequestHeadersTest, AKmsActionCarriesJsonTypesAndTheToken) {
  HttpRequest r;
  r.method = "POST";
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kToken, Token("tok"), nullptr, kNow).ok());
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "Content-Type: application/json",
                                                "X-Auth-Token: tok"}));
}

TEST(SetRequestHeadersTest, TheLoginCarriesNoCredentialHeader) {
  HttpRequest r;
  r.method = "POST";
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kNone, Token("tok"), nullptr, kNow).ok());
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "Content-Type: application/json"}));
}

TEST(SetRequestHeadersTest, ATokenLookupIsAGetWithTheTokenTwice) {
  HttpRequest r;
  r.method = "GET";
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kTokenLookup, Token("tok"), nullptr, kNow).ok());
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "X-Auth-Token: tok",
                                                "X-Subject-Token: tok"}));
}

TEST(SetRequestHeadersTest, EachAttemptStartsFromAFreshList) {
  HttpRequest r;
  r.method = "POST";
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kToken, Token("old"), nullptr, kNow).ok());
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kToken, Token("new"), nullptr, kNow).ok());
  EXPECT_EQ(Lines(r).back(), "X-Auth-Token: new");
  EXPECT_EQ(r.headers.size(), 3u);
}

TEST(SetRequestHeadersTest, ATokenCallWithoutATokenFails) {
  HttpRequest r;
  r.method = "POST";
  EXPECT_EQ(SetRequestHeaders(r, CallAuth::kToken, nullptr, nullptr, kNow).code(), StatusCode::kInternal);
}

TEST(SetRequestHeadersTest, ASignedCallWithoutAnAccessKeyFails) {
  HttpRequest r = KmsPost();
  EXPECT_EQ(SetRequestHeaders(r, CallAuth::kSigned, Token("tok"), nullptr, kNow).code(), StatusCode::kInternal);
}

TEST(SetRequestHeadersTest, ASignedCallCarriesASignatureOverEveryHeaderInsteadOfAToken) {
  const RequestSigner signer(AccessKeyConfig());
  HttpRequest r = KmsPost();
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kSigned, Token("tok"), &signer, kNow).ok());
  const std::vector<std::string> lines = Lines(r);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(lines.begin(), lines.end() - 1),
            (std::vector<std::string>{"Accept: application/json", "Content-Type: application/json",
                                      "Host: 127.0.0.1:8765", "X-Project-Id: b168fe00ff56492495a7d22974df2d0b",
                                      "X-Sdk-Date: 20231114T221320Z"}));
  EXPECT_EQ(lines.back().rfind("Authorization: SDK-HMAC-SHA256 Access=HPUAEXAMPLEACCESSKEY, "
                               "SignedHeaders=accept;content-type;host;x-project-id;x-sdk-date, Signature=",
                               0),
            0u)
      << lines.back();
  EXPECT_TRUE(SignatureHolds(AsReceived(r, "/v1.0/b168fe00ff56492495a7d22974df2d0b/kms/encrypt-datakey")));
}

TEST(SetRequestHeadersTest, TheSignatureCoversMethodPathQueryHeadersAndBody) {
  const RequestSigner signer(AccessKeyConfig());
  HttpRequest r = KmsPost("http://127.0.0.1:8765/v1.0/p/kms/list-keys?limit=10&marker=a%20b");
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kSigned, nullptr, &signer, kNow).ok());
  const sdk::Pairs query = {{"limit", "10"}, {"marker", "a b"}};
  const sdk::Request sent = AsReceived(r, "/v1.0/p/kms/list-keys", query);
  ASSERT_TRUE(SignatureHolds(sent));

  sdk::Request other_method = sent;
  other_method.method = "PUT";
  EXPECT_FALSE(SignatureHolds(other_method));
  sdk::Request other_path = sent;
  other_path.path = "/v1.0/p/kms/decrypt-datakey";
  EXPECT_FALSE(SignatureHolds(other_path));
  sdk::Request other_query = sent;
  other_query.query = {{"limit", "11"}, {"marker", "a b"}};
  EXPECT_FALSE(SignatureHolds(other_query));
  sdk::Request other_project = sent;
  for (auto& [name, value] : other_project.headers) {
    if (name == "X-Project-Id") value = "another-project";
  }
  EXPECT_FALSE(SignatureHolds(other_project));
  sdk::Request other_body = sent;
  const std::string changed = "{\"key_id\":\"k\",\"plain_text\":\"01\"}";
  other_body.body = changed;
  EXPECT_FALSE(SignatureHolds(other_body));
}

TEST(SetRequestHeadersTest, ARetryIsSignedAgainWithItsOwnDate) {
  const RequestSigner signer(AccessKeyConfig());
  HttpRequest r = KmsPost();
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kSigned, nullptr, &signer, kNow).ok());
  const std::vector<std::string> first = Lines(r);
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kSigned, nullptr, &signer, kNow + 61).ok());
  const std::vector<std::string> second = Lines(r);
  ASSERT_EQ(second.size(), first.size());  // a fresh list, not one signature on top of another
  EXPECT_EQ(second[4], "X-Sdk-Date: 20231114T221421Z");
  EXPECT_NE(second.back(), first.back());
  EXPECT_TRUE(SignatureHolds(AsReceived(r, "/v1.0/b168fe00ff56492495a7d22974df2d0b/kms/encrypt-datakey")));
}

TEST(SetRequestHeadersTest, ATemporaryKeySignsItsSecurityToken) {
  ConnectionConfig c = AccessKeyConfig();
  c.security_token = SecretFromText("temporary-session-token");
  const RequestSigner signer(c);
  HttpRequest r = KmsPost();
  ASSERT_TRUE(SetRequestHeaders(r, CallAuth::kSigned, nullptr, &signer, kNow).ok());
  const std::vector<std::string> lines = Lines(r);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "X-Security-Token: temporary-session-token"), lines.end());
  EXPECT_NE(lines.back().find("SignedHeaders=accept;content-type;host;x-project-id;x-sdk-date;x-security-token,"),
            std::string::npos)
      << lines.back();
  sdk::Request sent = AsReceived(r, "/v1.0/b168fe00ff56492495a7d22974df2d0b/kms/encrypt-datakey");
  EXPECT_TRUE(SignatureHolds(sent));
  for (auto& [name, value] : sent.headers) {
    if (name == "X-Security-Token") value = "another-session-token";
  }
  EXPECT_FALSE(SignatureHolds(sent));
}

TEST(RequestSignerTest, RefusesAUrlWithoutSchemeOrHost) {
  const RequestSigner signer(AccessKeyConfig());
  for (const char* url : {"127.0.0.1:8765/v1.0/p/kms/x", "http:///v1.0/p/kms/x"}) {
    HttpRequest r = KmsPost(url);
    r.headers.emplace_back("Accept: application/json");
    EXPECT_EQ(signer.Sign(r, kNow).code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(r.headers.size(), 1u) << url;  // unchanged
  }
}

TEST(RequestSignerTest, RefusesToSignTwiceOrOverAHostOfTheCallers) {
  const RequestSigner signer(AccessKeyConfig());
  HttpRequest r = KmsPost();
  ASSERT_TRUE(signer.Sign(r, kNow).ok());
  EXPECT_EQ(signer.Sign(r, kNow).code(), StatusCode::kInvalidArgument);
  HttpRequest with_host = KmsPost();
  with_host.headers.emplace_back("Host: elsewhere.example");
  EXPECT_EQ(signer.Sign(with_host, kNow).code(), StatusCode::kInvalidArgument);
  HttpRequest nameless = KmsPost();
  nameless.headers.emplace_back(": value");
  EXPECT_EQ(signer.Sign(nameless, kNow).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kmsfs::kms
