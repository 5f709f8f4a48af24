// The headers every request carries, by method and by what it proves.
#include "kms/request_headers.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kms/connection_config.h"

namespace kmsfs::kms {
namespace {

std::vector<std::string> Lines(const HttpRequest& r) {
  std::vector<std::string> out;
  for (const SecureString& h : r.headers) out.emplace_back(h.data(), h.size());
  return out;
}

TEST(SecretHeaderTest, BuildsTheHeaderLine) {
  const SecretBytes token = SecretFromText("abc.def");
  const SecureString line = SecretHeader("X-Auth-Token", token);
  EXPECT_EQ(std::string(line.data(), line.size()), "X-Auth-Token: abc.def");
}

TEST(SetRequestHeadersTest, AKmsActionCarriesJsonTypesAndTheToken) {
  HttpRequest r;
  r.method = "POST";
  const TokenRef token = std::make_shared<const SecretBytes>(SecretFromText("tok"));
  SetRequestHeaders(r, CallAuth::kToken, token);
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "Content-Type: application/json",
                                                "X-Auth-Token: tok"}));
}

TEST(SetRequestHeadersTest, TheLoginCarriesNoCredentialHeader) {
  HttpRequest r;
  r.method = "POST";
  SetRequestHeaders(r, CallAuth::kNone, std::make_shared<const SecretBytes>(SecretFromText("tok")));
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "Content-Type: application/json"}));
}

TEST(SetRequestHeadersTest, ATokenLookupIsAGetWithTheTokenTwice) {
  HttpRequest r;
  r.method = "GET";
  SetRequestHeaders(r, CallAuth::kTokenLookup, std::make_shared<const SecretBytes>(SecretFromText("tok")));
  EXPECT_EQ(Lines(r), (std::vector<std::string>{"Accept: application/json", "X-Auth-Token: tok",
                                                "X-Subject-Token: tok"}));
}

TEST(SetRequestHeadersTest, EachAttemptStartsFromAFreshList) {
  HttpRequest r;
  r.method = "POST";
  SetRequestHeaders(r, CallAuth::kToken, std::make_shared<const SecretBytes>(SecretFromText("old")));
  SetRequestHeaders(r, CallAuth::kToken, std::make_shared<const SecretBytes>(SecretFromText("new")));
  EXPECT_EQ(Lines(r).back(), "X-Auth-Token: new");
  EXPECT_EQ(r.headers.size(), 3u);
}

}  // namespace
}  // namespace kmsfs::kms
