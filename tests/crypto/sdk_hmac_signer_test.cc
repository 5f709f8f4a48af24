// Known answers of the Huawei Cloud SDK's own signer
// (huaweicloudsdkcore/signer/signer.py of huaweicloud-sdk-python-v3 3.1.211):
// each case's inputs were given to Signer.sign() once, and the canonical
// request, string to sign and Authorization header it produced are the
// constants below.
#include "crypto/sdk_hmac_signer.h"

#include <gtest/gtest.h>

#include <string>

namespace kmsfs::crypto::sdk_hmac {
namespace {

constexpr std::string_view kAk = "QTWAOYTTINDUT2QVKYUC";
constexpr std::string_view kSk = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";

SecretBytes Sk() {
  return SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(kSk.data()), kSk.size()});
}

struct Case {
  const char* name;
  Request request;
  const char* canonical_request;
  const char* string_to_sign;
  const char* authorization;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  {
    Case c{"PostWithJsonBody", {}, nullptr, nullptr, nullptr};
    c.request.method = "POST";
    c.request.path = "/v1.0/0a11ce000000000000000000000000f1/kms/create-datakey";
    c.request.headers = {{"Content-Type", "application/json;charset=UTF-8"},
                         {"Host", "127.0.0.1:8765"},
                         {"X-Project-Id", "0a11ce000000000000000000000000f1"},
                         {"X-Sdk-Date", "20240102T030405Z"}};
    c.request.body = R"({"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","datakey_length":"512"})";
    c.canonical_request =
        "POST\n/v1.0/0a11ce000000000000000000000000f1/kms/create-datakey/\n\ncontent-type:application/"
        "json;charset=UTF-8\nhost:127.0.0.1:8765\nx-project-id:0a11ce000000000000000000000000f1\nx-sdk-date:"
        "20240102T030405Z\n\ncontent-type;host;x-project-id;x-sdk-date\n"
        "314fd6e3e624ce333497b3026a32a09ac014db3a11aade0ad8b21fe7bbdc4669";
    c.string_to_sign =
        "SDK-HMAC-SHA256\n20240102T030405Z\ndb806f3dd8d2131a69402eb095955ae2e405c870ccb057525358b70932948764";
    c.authorization =
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=998ffa6c51ef9acd7fdc0962bf285e83eca2e20df4ec669f1c6d3034274e93a6";
    cases.push_back(c);
  }
  {
    // The SDK was given the path "/v1.0/p1/kms/tags/a b~c%2Fd/é" and these
    // query pairs (a list value for "a", the boolean true for "flag"); on
    // the wire the path arrives percent-encoded.
    Case c{"GetWithQueryAndOddPath", {}, nullptr, nullptr, nullptr};
    c.request.method = "GET";
    c.request.path = "/v1.0/p1/kms/tags/a%20b~c%2Fd/%C3%A9";
    c.request.query = {{"limit", "10"}, {"key_id", "z z"}, {"a", "y"}, {"a", "x~"}, {"flag", "true"},
                       {"\xC3\xA9t\xC3\xA9", "caf\xC3\xA9"}};
    c.request.headers = {{"Host", "kms.eu-de.otc.t-systems.com"},
                         {"X-Sdk-Date", "20231231T235959Z"},
                         {"User-Agent", "huaweicloud-usdk-python/3.0"}};
    c.canonical_request =
        "GET\n/v1.0/p1/kms/tags/a%20b~c/d/%C3%A9/\na=x~&a=y&flag=true&key_id=z%20z&limit=10&%C3%A9t%C3%A9=caf%C3%"
        "A9\nhost:kms.eu-de.otc.t-systems.com\nuser-agent:huaweicloud-usdk-python/3.0\nx-sdk-date:"
        "20231231T235959Z\n\nhost;user-agent;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    c.string_to_sign =
        "SDK-HMAC-SHA256\n20231231T235959Z\ne057375d2e0bd7c3ec2c36f0525cb981cab5aab091531cb092401344cb263d67";
    c.authorization =
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=host;user-agent;x-sdk-date, "
        "Signature=fb6143e00fc5cfefb6384f12b9d051d1cf6be6e8b91a7926bf943aed3473ea2d";
    cases.push_back(c);
  }
  {
    // Temporary credentials: X-Security-Token is signed like any header;
    // names with '_' are not signed; values are trimmed.
    Case c{"TemporaryCredentialsAndHeaderRules", {}, nullptr, nullptr, nullptr};
    c.request.method = "DELETE";
    c.request.path = "/v1.0/p1/kms/aliases/";
    c.request.headers = {{"content-type", "application/json"},
                         {"HOST", "127.0.0.1:8765"},
                         {"X-Security-Token", "gQpjbi1ub3J0aC00iqw"},
                         {"X-Sdk-Date", "20240615T120000Z"},
                         {"X_Ignored_Header", "not signed"},
                         {"X-Spaced", "  padded value \t"}};
    c.request.body = R"({"aliases":["alias/a"]})";
    c.canonical_request =
        "DELETE\n/v1.0/p1/kms/aliases/\n\ncontent-type:application/json\nhost:127.0.0.1:8765\nx-sdk-date:"
        "20240615T120000Z\nx-security-token:gQpjbi1ub3J0aC00iqw\nx-spaced:padded value\n\ncontent-type;host;x-"
        "sdk-date;x-security-token;x-spaced\n93d5dd81cd8105b2b45d3bea26aa7e570f72a218bfd60bc251b3c4806d149aea";
    c.string_to_sign =
        "SDK-HMAC-SHA256\n20240615T120000Z\nfe7c92132f9e7acfc9b597df7be4c7d6c4a7e6b83528611db4b58a72e2525968";
    c.authorization =
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date;x-security-token;"
        "x-spaced, Signature=602216c797bb3300fbf6de585a0b61713881be6c436c075198a9d0cade6673a2";
    cases.push_back(c);
  }
  {
    // A body that is not JSON: the SDK adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.
    Case c{"UnsignedPayload", {}, nullptr, nullptr, nullptr};
    c.request.method = "PUT";
    c.request.path = "/v3.0/OS-CREDENTIAL/credentials/AKID";
    c.request.headers = {{"Content-Type", "text/plain"},
                         {"Host", "iam.local"},
                         {"X-Sdk-Date", "20240102T030405Z"},
                         {"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}};
    c.request.body = "free text body";
    c.canonical_request =
        "PUT\n/v3.0/OS-CREDENTIAL/credentials/AKID/\n\ncontent-type:text/plain\nhost:iam.local\nx-sdk-content-"
        "sha256:UNSIGNED-PAYLOAD\nx-sdk-date:20240102T030405Z\n\ncontent-type;host;x-sdk-content-sha256;x-sdk-"
        "date\nUNSIGNED-PAYLOAD";
    c.string_to_sign =
        "SDK-HMAC-SHA256\n20240102T030405Z\ne2b0a7a0b4f04970b9d79fe38a7233a4ec9b5cd3d1085e1f98532fd6306e9b96";
    c.authorization =
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-content-sha256;x-sdk-"
        "date, Signature=813f524bbe7cc52a7d63a353cca5f8f50f0f91144af7729affd85951f62157dc";
    cases.push_back(c);
  }
  return cases;
}

TEST(SdkHmacSignerTest, MatchesTheSdkSignerOnEveryKnownAnswer) {
  for (Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<std::string> names = SignableHeaderNames(c.request.headers);
    auto canonical = CanonicalRequest(c.request, names);
    ASSERT_TRUE(canonical.ok()) << canonical.status().ToString();
    EXPECT_EQ(*canonical, c.canonical_request);
    const std::string to_sign = StringToSign(*canonical, *FindHeader(c.request.headers, kDateHeader));
    EXPECT_EQ(to_sign, c.string_to_sign);
    EXPECT_EQ(AuthorizationValue(kAk, names, Signature(Sk(), to_sign)), c.authorization);
    // Sign() as a whole gives the same header, and the verifier accepts it.
    Request copy = c.request;
    auto value = Sign(copy, kAk, Sk(), /*now_sec=*/0);
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(*value, c.authorization);
    auto parsed = ParseAuthorization(*value);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(SignatureMatches(c.request, *parsed, Sk()).value());
  }
}

TEST(SdkHmacSignerTest, AnyChangeToASignedPartBreaksTheSignature) {
  Case c = Cases().front();
  Request signed_request = c.request;
  auto auth = ParseAuthorization(Sign(signed_request, kAk, Sk(), 0).value()).value();
  auto matches = [&](const Request& r, const SecretBytes& sk) { return SignatureMatches(r, auth, sk).value(); };
  EXPECT_TRUE(matches(signed_request, Sk()));
  Request r = signed_request;
  r.body = R"({"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","datakey_length":"513"})";
  EXPECT_FALSE(matches(r, Sk())) << "body";
  r = signed_request;
  r.path = "/v1.0/0a11ce000000000000000000000000f1/kms/decrypt-datakey";
  EXPECT_FALSE(matches(r, Sk())) << "path";
  r = signed_request;
  r.method = "PUT";
  EXPECT_FALSE(matches(r, Sk())) << "method";
  r = signed_request;
  r.query = {{"x", "1"}};
  EXPECT_FALSE(matches(r, Sk())) << "query";
  r = signed_request;
  r.headers[2].second = "00b0b0000000000000000000000000f2";
  EXPECT_FALSE(matches(r, Sk())) << "a signed header";
  r = signed_request;
  r.headers[3].second = "20240102T030406Z";
  EXPECT_FALSE(matches(r, Sk())) << "the date";
  r = signed_request;
  r.headers.emplace_back("X-Unsigned-Extra", "anything");
  EXPECT_TRUE(matches(r, Sk())) << "headers outside SignedHeaders are not covered";
  SecretBytes other = Sk();
  other.data()[0] ^= 1;
  EXPECT_FALSE(matches(signed_request, other)) << "secret key";
  Authorization shorter = auth;
  shorter.signature.pop_back();
  EXPECT_FALSE(SignatureMatches(signed_request, shorter, Sk()).value());
  Authorization missing = auth;
  missing.signed_headers.push_back("x-not-sent");
  EXPECT_FALSE(SignatureMatches(signed_request, missing, Sk()).ok());
}

TEST(SdkHmacSignerTest, ParsesAuthorizationStrictly) {
  auto ok = ParseAuthorization("SDK-HMAC-SHA256 Signature=ab, Access=AK, SignedHeaders=host;x-sdk-date");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->access, "AK");
  EXPECT_EQ(ok->signed_headers, (std::vector<std::string>{"host", "x-sdk-date"}));
  EXPECT_EQ(ok->signature, "ab");
  for (const char* bad : {"", "SDK-HMAC-SHA256", "SDK-HMAC-SHA256 ", "AWS4-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=s",
                          "SDK-HMAC-SHA256 Access=a, SignedHeaders=h", "SDK-HMAC-SHA256 Access=a, SignedHeaders=Host, Signature=s",
                          "SDK-HMAC-SHA256 Access=a, Access=b, SignedHeaders=h, Signature=s",
                          "SDK-HMAC-SHA256 Access=a, SignedHeaders=h;;x, Signature=s",
                          "SDK-HMAC-SHA256 Access=, SignedHeaders=h, Signature=s", "SDK-HMAC-SHA256 Access=a SignedHeaders=h Signature=s",
                          "SDK-HMAC-SHA256 Access=a, SignedHeaders=h, Signature=s, Extra=1"}) {
    EXPECT_FALSE(ParseAuthorization(bad).ok()) << bad;
  }
}

TEST(SdkHmacSignerTest, SdkDatesRoundTripAndMalformedOnesAreRefused) {
  EXPECT_EQ(FormatSdkDate(1704164645), "20240102T030405Z");
  EXPECT_EQ(ParseSdkDate("20240102T030405Z").value(), 1704164645);
  for (const char* bad : {"", "20240102T030405", "2024-01-02T03:04:05Z", "20241302T030405Z", "20240102X030405Z",
                          "2024010203T0405Z", "20240102T250405Z"}) {
    EXPECT_FALSE(ParseSdkDate(bad).ok()) << bad;
  }
}

TEST(SdkHmacSignerTest, QueryStringsAreDecodedAndCanonicalised) {
  const Pairs q = ParseQuery("b=2&a=%20x&c&a=%7e&%E2%82%AC=+&&");
  EXPECT_EQ(q, (Pairs{{"b", "2"}, {"a", " x"}, {"c", ""}, {"a", "~"}, {"\xE2\x82\xAC", "+"}}));
  EXPECT_EQ(CanonicalQueryString(q), "a=%20x&a=~&b=2&c=&%E2%82%AC=%2B");
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("/"), "/");
  EXPECT_EQ(CanonicalUri("/a%2b/b%zz"), "/a%2B/b%25zz/");
}

}  // namespace
}  // namespace kmsfs::crypto::sdk_hmac
