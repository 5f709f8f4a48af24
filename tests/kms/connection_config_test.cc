#include "kms/connection_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms {
namespace {

GetEnvFunction FakeEnv(const std::map<std::string, std::string>& vars) {
  // The map outlives every call: copied into the function object.
  auto owned = std::make_shared<std::map<std::string, std::string>>(vars);
  return [owned](const char* name) -> const char* {
    auto it = owned->find(name);
    return it == owned->end() ? nullptr : it->second.c_str();
  };
}

std::string AsString(const SecretBytes& s) { return std::string(reinterpret_cast<const char*>(s.data()), s.size()); }

ConnectionConfig TokenConfig() {
  ConnectionConfig c;
  c.endpoint = "http://127.0.0.1:8765";
  c.project_id = "b168fe00ff56492495a7d22974df2d0b";
  c.token = "tok";
  return c;
}

TEST(ConnectionConfigTest, ReadsEveryVariableFromTheEnvironment) {
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({{"KMSFS_KMS_ENDPOINT", "http://kms:1"},
                                                      {"OS_PROJECT_ID", "p1"},
                                                      {"OS_AUTH_TOKEN", "t1"},
                                                      {"OS_AUTH_URL", "http://iam/v3"},
                                                      {"OS_USERNAME", "alice"},
                                                      {"OS_PASSWORD", "s3cret"},
                                                      {"OS_USER_DOMAIN_NAME", "dom"},
                                                      {"KMSFS_CA_FILE", "/ca.pem"}}));
  EXPECT_EQ(c.endpoint, "http://kms:1");
  EXPECT_EQ(c.project_id, "p1");
  EXPECT_EQ(c.token, "t1");
  EXPECT_EQ(c.auth_url, "http://iam/v3");
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(AsString(c.password), "s3cret");
  EXPECT_EQ(c.domain, "dom");
  EXPECT_EQ(c.ca_file, "/ca.pem");
  EXPECT_FALSE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.connect_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.retry.max_attempts, 4);
}

TEST(ConnectionConfigTest, UnsetVariablesLeaveFieldsEmpty) {
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({}));
  EXPECT_TRUE(c.endpoint.empty());
  EXPECT_TRUE(c.password.empty());
  EXPECT_TRUE(c.token.empty());
}

TEST(ConnectionConfigTest, MissingEndpointSaysHowToSetIt) {
  ConnectionConfig c = TokenConfig();
  c.endpoint.clear();
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "no KMS endpoint: set KMSFS_KMS_ENDPOINT or pass --kms-endpoint");
}

TEST(ConnectionConfigTest, EndpointMustBeHttpOrHttps) {
  ConnectionConfig c = TokenConfig();
  c.endpoint = "ftp://x";
  EXPECT_NE(c.Validate().message().find("not an http:// or https:// URL"), std::string::npos);
  c.endpoint = "127.0.0.1:8765";
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
  c.endpoint = "https://kms.eu-de.otc.t-systems.com/";
  EXPECT_TRUE(c.Validate().ok());
}

TEST(ConnectionConfigTest, MissingProjectSaysHowToSetIt) {
  ConnectionConfig c = TokenConfig();
  c.project_id.clear();
  EXPECT_EQ(c.Validate().message(), "no KMS project id: set OS_PROJECT_ID or pass --project-id");
  c.project_id = "a/b";
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(ConnectionConfigTest, NoCredentialsNamesBothWays) {
  ConnectionConfig c = TokenConfig();
  c.token.clear();
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no KMS credentials"), std::string::npos);
  EXPECT_NE(s.message().find("OS_AUTH_TOKEN"), std::string::npos);
  EXPECT_NE(s.message().find("OS_AUTH_URL"), std::string::npos);
}

TEST(ConnectionConfigTest, IncompletePasswordLoginNamesWhatIsMissing) {
  ConnectionConfig c = TokenConfig();
  c.token.clear();
  c.auth_url = "http://127.0.0.1:8765/v3";
  c.username = "alice";
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("OS_PASSWORD (--password-file) and OS_USER_DOMAIN_NAME (--domain)"), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("OS_USERNAME"), std::string::npos);
}

TEST(ConnectionConfigTest, CompletePasswordLoginValidates) {
  ConnectionConfig c = TokenConfig();
  c.token.clear();
  c.auth_url = "http://127.0.0.1:8765/v3";
  c.username = "alice";
  c.password = SecretBytes::CopyFrom(std::vector<uint8_t>{'p', 'w'});
  c.domain = "dom";
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_FALSE(c.uses_static_token());
}

TEST(ConnectionConfigTest, UnreadableCaFileIsReported) {
  ConnectionConfig c = TokenConfig();
  c.ca_file = "/nonexistent/ca.pem";
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(ConnectionConfigTest, FlagsOverrideTheEnvironment) {
  kmsfs::testing::TempDir dir;
  kmsfs::testing::WriteFileOrDie(dir.Join("pw"), "from-file\nsecond line\n");
  ConnectionConfig c = ConfigFromEnvironment(
      FakeEnv({{"KMSFS_KMS_ENDPOINT", "http://env:1"}, {"OS_USERNAME", "env-user"}, {"OS_PASSWORD", "env-pw"}}));
  ConnectionOverrides o;
  o.endpoint = "http://flag:2";
  o.password_file = dir.Join("pw");
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.endpoint, "http://flag:2");
  EXPECT_EQ(c.username, "env-user");
  EXPECT_EQ(AsString(c.password), "from-file");
}

TEST(ConnectionConfigTest, PasswordFileKeepsOnlyTheFirstLine) {
  kmsfs::testing::TempDir dir;
  kmsfs::testing::WriteFileOrDie(dir.Join("a"), "pa ss\r\nrest");
  kmsfs::testing::WriteFileOrDie(dir.Join("b"), "no-newline");
  StatusOr<SecretBytes> a = ReadPasswordFile(dir.Join("a"));
  StatusOr<SecretBytes> b = ReadPasswordFile(dir.Join("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(AsString(*a), "pa ss");
  EXPECT_EQ(AsString(*b), "no-newline");
}

TEST(ConnectionConfigTest, EmptyOrMissingPasswordFileFails) {
  kmsfs::testing::TempDir dir;
  kmsfs::testing::WriteFileOrDie(dir.Join("empty"), "\n");
  EXPECT_EQ(ReadPasswordFile(dir.Join("empty")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ReadPasswordFile(dir.Join("missing")).ok());
}

TEST(ConnectionConfigTest, CloneCopiesThePassword) {
  ConnectionConfig c = TokenConfig();
  c.password = SecretBytes::CopyFrom(std::vector<uint8_t>{'x', 'y'});
  ConnectionConfig d = c.Clone();
  EXPECT_EQ(AsString(d.password), "xy");
  EXPECT_EQ(d.endpoint, c.endpoint);
}

}  // namespace
}  // namespace kmsfs::kms
