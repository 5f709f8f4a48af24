#include "kms/connection_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

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
  c.token = SecretFromText("tok");
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
  EXPECT_EQ(AsString(c.token), "t1");
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
  c.token = SecretBytes();
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no KMS credentials"), std::string::npos);
  EXPECT_NE(s.message().find("OS_AUTH_TOKEN"), std::string::npos);
  EXPECT_NE(s.message().find("OS_AUTH_URL"), std::string::npos);
}

TEST(ConnectionConfigTest, IncompletePasswordLoginNamesWhatIsMissing) {
  ConnectionConfig c = TokenConfig();
  c.token = SecretBytes();
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
  c.token = SecretBytes();
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

// --- transport safety: plain HTTP only to loopback

TEST(ConnectionConfigTest, LoopbackHostsAreOnlyLiteralLoopback) {
  for (const char* host : {"127.0.0.1", "127.255.255.254", "127.0.0.2", "localhost", "LocalHost", "[::1]",
                           "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"", "128.0.0.1", "10.0.0.1", "0.0.0.0", "127.0.0.1.nip.io", "localhost.", "localhost.evil.com",
                           "mylocalhost", "kms", "[::2]", "[::]", "[::ffff:10.0.0.1]", "::1", "127.1", "2130706433",
                           "0x7f.0.0.1", "127.0.0.1 ", "[::1%25lo]"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(ConnectionConfigTest, PlainHttpToARemoteEndpointIsRefused) {
  ConnectionConfig c = TokenConfig();
  for (const char* url : {"http://kms.example.com", "http://10.0.0.5:8765", "http://kms.example.com:80/",
                          "http://127.0.0.1.nip.io:8765", "http://localhost.evil.com", "http://127.0.0.1@evil.com/",
                          "http://user:pw@evil.com:8765", "http://[::2]:8765"}) {
    c.endpoint = url;
    Status s = c.Validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("plain HTTP to a host that is not loopback"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("https://"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("--ca-file"), std::string::npos) << s.message();
  }
}

TEST(ConnectionConfigTest, PlainHttpToLoopbackAndHttpsAnywhereAreAccepted) {
  ConnectionConfig c = TokenConfig();
  for (const char* url : {"http://127.0.0.1:8765", "http://localhost:8765/", "http://[::1]:8765", "http://127.3.2.1",
                          "https://kms.example.com", "https://10.0.0.5:8765"}) {
    c.endpoint = url;
    EXPECT_TRUE(c.Validate().ok()) << url << ": " << c.Validate().ToString();
  }
}

TEST(ConnectionConfigTest, PlainHttpToARemoteIamIsRefused) {
  ConnectionConfig c = TokenConfig();
  c.token = SecretBytes();
  c.username = "alice";
  c.password = SecretFromText("pw");
  c.domain = "dom";
  c.auth_url = "http://iam.example.com/v3";
  Status s = c.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("IAM auth URL"), std::string::npos) << s.message();
  c.auth_url = "https://iam.example.com/v3";
  EXPECT_TRUE(c.Validate().ok());
  c.auth_url = "http://127.0.0.1:8765/v3";
  EXPECT_TRUE(c.Validate().ok());
  // Even with a token, an auth URL (used to look up the token's user) must be safe.
  c.token = SecretFromText("t");
  c.auth_url = "http://iam.example.com/v3";
  EXPECT_EQ(c.Validate().code(), StatusCode::kInvalidArgument);
}

// --- AK/SK values

TEST(ConnectionConfigTest, AccessKeyVariablesAreReadIntoSecureFields) {
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({{"HUAWEICLOUD_SDK_AK", "AKID"},
                                                      {"HUAWEICLOUD_SDK_SK", "sk-secret"},
                                                      {"HUAWEICLOUD_SDK_SECURITY_TOKEN", "sec-tok"}}));
  EXPECT_EQ(c.access_key, "AKID");
  EXPECT_EQ(AsString(c.secret_key), "sk-secret");
  EXPECT_EQ(AsString(c.security_token), "sec-tok");
  ConnectionConfig d = c.Clone();
  EXPECT_EQ(AsString(d.secret_key), "sk-secret");
  EXPECT_EQ(AsString(d.security_token), "sec-tok");
}

TEST(ConnectionConfigTest, HalfAnAccessKeyPairNamesTheMissingHalf) {
  ConnectionConfig c = TokenConfig();
  c.access_key = "AKID";
  EXPECT_NE(c.Validate().message().find("HUAWEICLOUD_SDK_SK is not"), std::string::npos);
  c.access_key.clear();
  c.secret_key = SecretFromText("sk");
  EXPECT_NE(c.Validate().message().find("HUAWEICLOUD_SDK_AK is not"), std::string::npos);
}

TEST(ConnectionConfigTest, AnAccessKeyPairAloneIsEnoughCredentials) {
  ConnectionConfig c = TokenConfig();
  c.token = SecretBytes();
  c.access_key = "AKID";
  c.secret_key = SecretFromText("sk-secret");
  EXPECT_TRUE(c.uses_access_key());
  EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  // A token, when also given, wins.
  c.token = SecretFromText("tok");
  EXPECT_FALSE(c.uses_access_key());
}

TEST(ConnectionConfigTest, RegionGivesTheRegionsPublicEndpoints) {
  auto otc = EndpointsForRegion("eu-de");
  ASSERT_TRUE(otc.ok());
  EXPECT_EQ(otc->kms, "https://kms.eu-de.otc.t-systems.com");
  EXPECT_EQ(otc->iam, "https://iam.eu-de.otc.t-systems.com/v3");
  EXPECT_EQ(EndpointsForRegion("eu-ch2")->kms, "https://kms.eu-ch2.sc.otc.t-systems.com");
  EXPECT_EQ(EndpointsForRegion("cn-north-4")->kms, "https://kms.cn-north-4.myhuaweicloud.com");
  EXPECT_EQ(EndpointsForRegion("ap-southeast-1")->iam, "https://iam.ap-southeast-1.myhuaweicloud.com/v3");
  for (const char* bad : {"", "eu", "EU-DE", "eu-de.", "eu-de/x", "eu--de", "eu-", "e1-de", "eu-de@evil.com",
                          "eu-de:443"}) {
    auto r = EndpointsForRegion(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--region"), std::string::npos) << bad;
  }
  // --kms-endpoint and --auth-url win over --region.
  ConnectionConfig c = TokenConfig();
  ConnectionOverrides o;
  o.region = "eu-nl";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.endpoint, "https://kms.eu-nl.otc.t-systems.com");
  EXPECT_EQ(c.auth_url, "https://iam.eu-nl.otc.t-systems.com/v3");
  o.endpoint = "http://127.0.0.1:1";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:1");
  o.region = "not a region";
  EXPECT_FALSE(ApplyOverrides(o, c).ok());
}

// --- credentials files

class CredentialsFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& content, mode_t mode = 0600, const std::string& name = "creds") {
    const std::string path = dir_.Join(name);
    kmsfs::testing::WriteFileOrDie(path, content);
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  kmsfs::testing::TempDir dir_;
};

TEST_F(CredentialsFileTest, SetsEveryVariable) {
  const std::string path = Write(
      "# kmsfs credentials\n"
      "KMSFS_KMS_ENDPOINT=https://kms.example.com\n"
      "\n"
      "export OS_PROJECT_ID=p1\n"
      "OS_AUTH_TOKEN=tok=with=equals\r\n"
      "  OS_AUTH_URL=https://iam.example.com/v3\n"
      "OS_USERNAME=alice\n"
      "OS_PASSWORD= spaces and \"quotes\" kept \n"
      "OS_USER_DOMAIN_NAME=dom\n"
      "HUAWEICLOUD_SDK_AK=AKID\n"
      "HUAWEICLOUD_SDK_SK=sk\n"
      "HUAWEICLOUD_SDK_SECURITY_TOKEN=st\n"
      "KMSFS_CA_FILE=/etc/ca.pem");
  ConnectionConfig c;
  ASSERT_TRUE(ApplyCredentialsFile(path, c).ok()) << ApplyCredentialsFile(path, c).ToString();
  EXPECT_EQ(c.endpoint, "https://kms.example.com");
  EXPECT_EQ(c.project_id, "p1");
  EXPECT_EQ(AsString(c.token), "tok=with=equals");
  EXPECT_EQ(c.auth_url, "https://iam.example.com/v3");
  EXPECT_EQ(c.username, "alice");
  EXPECT_EQ(AsString(c.password), " spaces and \"quotes\" kept ");
  EXPECT_EQ(c.domain, "dom");
  EXPECT_EQ(c.access_key, "AKID");
  EXPECT_EQ(AsString(c.secret_key), "sk");
  EXPECT_EQ(AsString(c.security_token), "st");
  EXPECT_EQ(c.ca_file, "/etc/ca.pem");
}

TEST_F(CredentialsFileTest, FileOverridesTheEnvironmentAndFlagsOverrideTheFile) {
  const std::string path = Write("KMSFS_KMS_ENDPOINT=http://127.0.0.1:2\nOS_USERNAME=file-user\n");
  ConnectionConfig c = ConfigFromEnvironment(
      FakeEnv({{"KMSFS_KMS_ENDPOINT", "http://127.0.0.1:1"}, {"OS_USERNAME", "env-user"}, {"OS_PROJECT_ID", "env-p"}}));
  ASSERT_TRUE(ApplyCredentialsFile(path, c).ok());
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:2");
  EXPECT_EQ(c.username, "file-user");
  EXPECT_EQ(c.project_id, "env-p");
  ConnectionOverrides o;
  o.endpoint = "http://127.0.0.1:3";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.endpoint, "http://127.0.0.1:3");
  EXPECT_EQ(c.username, "file-user");
}

TEST_F(CredentialsFileTest, PasswordInTheFileOutranksATokenFromTheEnvironment) {
  const std::string path = Write("OS_PASSWORD=alice-pw\n");
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({{"OS_AUTH_TOKEN", "admin-token"}}));
  ASSERT_TRUE(ApplyCredentialsFile(path, c).ok());
  EXPECT_TRUE(c.token.empty());
  EXPECT_EQ(AsString(c.password), "alice-pw");
  // A token in the same file wins over the file's password, as everywhere.
  const std::string both = Write("OS_PASSWORD=pw\nOS_AUTH_TOKEN=file-token\n", 0600, "both");
  ConnectionConfig d = ConfigFromEnvironment(FakeEnv({{"OS_AUTH_TOKEN", "admin-token"}}));
  ASSERT_TRUE(ApplyCredentialsFile(both, d).ok());
  EXPECT_EQ(AsString(d.token), "file-token");
}

TEST_F(CredentialsFileTest, PasswordFileFlagOutranksATokenFromBelow) {
  const std::string pw = Write("flag-pw\n", 0600, "pw");
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({{"OS_AUTH_TOKEN", "env-token"}}));
  ConnectionOverrides o;
  o.password_file = pw;
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_TRUE(c.token.empty());
  ConnectionOverrides with_token;
  with_token.password_file = pw;
  with_token.token = SecretFromText("flag-token");
  ASSERT_TRUE(ApplyOverrides(with_token, c).ok());
  EXPECT_EQ(AsString(c.token), "flag-token");
}

TEST_F(CredentialsFileTest, GroupOrWorldAccessIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0620, 0666, 0700 | 0004}) {
    const std::string path = Write("OS_PASSWORD=secret-value\n", mode);
    ConnectionConfig c;
    Status s = ApplyCredentialsFile(path, c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << std::oct << mode;
    EXPECT_NE(s.message().find("chmod 600"), std::string::npos) << s.message();
    EXPECT_TRUE(c.password.empty());
  }
  for (mode_t mode : {0600, 0400, 0200, 0700}) {
    const std::string path = Write("OS_USERNAME=u\n", mode);
    ConnectionConfig c;
    EXPECT_TRUE(ApplyCredentialsFile(path, c).ok()) << std::oct << mode;
  }
}

TEST_F(CredentialsFileTest, SymbolicLinkIsRefused) {
  const std::string target = Write("OS_USERNAME=u\n");
  const std::string link = dir_.Join("link");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ConnectionConfig c;
  Status s = ApplyCredentialsFile(link, c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.message();
}

TEST_F(CredentialsFileTest, FileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  const std::string path = Write("OS_USERNAME=u\n");
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  ConnectionConfig c;
  Status s = ApplyCredentialsFile(path, c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("belongs to uid 65534"), std::string::npos) << s.message();
}

TEST_F(CredentialsFileTest, DirectoriesAndFifosAreRefused) {
  ConnectionConfig c;
  const std::string sub = dir_.Join("d");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_NE(ApplyCredentialsFile(sub, c).message().find("not a regular file"), std::string::npos);
  const std::string fifo = dir_.Join("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opened without blocking: no writer is needed to get the refusal.
  EXPECT_NE(ApplyCredentialsFile(fifo, c).message().find("not a regular file"), std::string::npos);
  EXPECT_NE(ApplyCredentialsFile(dir_.Join("missing"), c).message().find("cannot open"), std::string::npos);
}

TEST_F(CredentialsFileTest, BadLinesAreRefusedByNumberWithoutTheirContent) {
  struct Case {
    std::string content;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"OS_USERNAME=u\nOS_PASSWORD_secret-value\n", "line 2 is not NAME=VALUE"},
      {"=secret-value\n", "line 1 is not NAME=VALUE"},
      {"OS_PASSWORD=secret-value\nOS_PASSWORD=secret-value\n", "line 2 sets OS_PASSWORD a second time"},
      {"\n\nOS_PASWORD=secret-value\n", "line 3 names an unknown variable OS_PASWORD"},
      {"KMSFS_CREDENTIALS=/x\n", "unknown variable KMSFS_CREDENTIALS"},
  };
  for (const Case& k : cases) {
    const std::string path = Write(k.content);
    ConnectionConfig c;
    Status s = ApplyCredentialsFile(path, c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(k.expect), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("secret-value"), std::string::npos) << s.message();
  }
}

TEST_F(CredentialsFileTest, OversizedFileIsRefused) {
  const std::string path = Write("# " + std::string(70000, 'x') + "\n");
  ConnectionConfig c;
  EXPECT_NE(ApplyCredentialsFile(path, c).message().find("larger than"), std::string::npos);
}

TEST_F(CredentialsFileTest, EmptyValueClearsTheField) {
  const std::string path = Write("OS_AUTH_TOKEN=\nOS_USERNAME=\n");
  ConnectionConfig c = ConfigFromEnvironment(FakeEnv({{"OS_AUTH_TOKEN", "t"}, {"OS_USERNAME", "u"}}));
  ASSERT_TRUE(ApplyCredentialsFile(path, c).ok());
  EXPECT_TRUE(c.token.empty());
  EXPECT_TRUE(c.username.empty());
}

}  // namespace
}  // namespace kmsfs::kms
