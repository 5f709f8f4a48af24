// kmsfs with AK/SK credentials (HUAWEICLOUD_SDK_AK/SK[/SECURITY_TOKEN])
// instead of a token or a password: every KMS call signed, against a real
// kmsd, really mounting.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

constexpr const char* kAk = "KMSFSAKSKMOUNT000001";
constexpr const char* kSk = "k2mG4xq9ZP7tVb3NwR8sLc1YhJ6dFe5UaQ0oTiWv";

// The password login's variables unset, the access key's set.
std::map<std::string, std::string> AkSkEnv(const std::string& ak, const std::string& sk,
                                           const std::string& security_token = "") {
  return {{"OS_AUTH_URL", ""},         {"OS_USERNAME", ""},        {"OS_PASSWORD", ""},
          {"OS_USER_DOMAIN_NAME", ""}, {"OS_AUTH_TOKEN", ""},      {"HUAWEICLOUD_SDK_AK", ak},
          {"HUAWEICLOUD_SDK_SK", sk},  {"HUAWEICLOUD_SDK_SECURITY_TOKEN", security_token}};
}

class AkSkMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    KmsdProcess::Options o;
    o.users[0].access_keys = {{kAk, kSk}};
    kmsd_ = KmsdProcess::Start(o);
    ASSERT_NE(kmsd_, nullptr);
    user_ = o.users[0];
  }
  MountedVolume::Options VolumeOptions(std::map<std::string, std::string> env) {
    MountedVolume::Options v;
    v.kmsd = kmsd_.get();
    v.user = user_;
    v.env_overrides = std::move(env);
    return v;
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser user_;
};

TEST_F(AkSkMountTest, AVolumeMadeAndMountedWithAnAccessKeyWorksAcrossRemounts) {
  auto v = MountedVolume::Start(VolumeOptions(AkSkEnv(kAk, kSk)));
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("signed.txt"), "written through AK/SK");
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0) << v->ReadLog();
  EXPECT_EQ(ReadFile(v->Path("signed.txt")), "written through AK/SK");
  ASSERT_TRUE(v->Unmount());
  // The same volume opens with the user's password login too: one principal.
  CommandResult by_password = RunKmsfs({"mount", v->backing_dir(), v->mountpoint(), "--log-file", v->log_file()},
                                       KmsEnv(*kmsd_, user_));
  ASSERT_EQ(by_password.exit_code, 0) << by_password.err;
  EXPECT_EQ(ReadFile(v->Path("signed.txt")), "written through AK/SK");
  EXPECT_EQ(RunCommand({"/bin/fusermount3", "-u", v->mountpoint()}).exit_code, 0);
}

TEST_F(AkSkMountTest, AWrongSecretKeyIsRefusedWithAClearMessage) {
  std::map<std::string, std::string> env = KmsEnv(*kmsd_, user_);
  for (const auto& [name, value] : AkSkEnv(kAk, std::string(kSk) + "x")) env[name] = value;
  CommandResult r = RunKmsfs({"key", "create"}, env);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("APIGW.0301"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("access key"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kSk), std::string::npos) << "the secret key must never be printed";
}

TEST_F(AkSkMountTest, ATemporaryAccessKeyWorksWithItsSecurityToken) {
  const std::string token = kmsd_->Login(user_);
  ASSERT_FALSE(token.empty());
  const nlohmann::json request = {
      {"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"duration_seconds", 900}}}}}}}};
  HttpReply made = PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/securitytokens", request.dump(), token);
  ASSERT_EQ(made.status, 201) << made.body;
  const nlohmann::json c = nlohmann::json::parse(made.body)["credential"];
  auto v = MountedVolume::Start(VolumeOptions(AkSkEnv(c["access"], c["secret"], c["securitytoken"])));
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("t"), "temporary");
  EXPECT_EQ(ReadFile(v->Path("t")), "temporary");
  ASSERT_TRUE(v->Unmount());
  // Without its security token the temporary key is refused.
  std::map<std::string, std::string> env = KmsEnv(*kmsd_, user_);
  for (const auto& [name, value] : AkSkEnv(c["access"], c["secret"])) env[name] = value;
  CommandResult r = RunKmsfs({"mount", v->backing_dir(), v->mountpoint(), "--log-file", v->log_file()}, env);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("security-token"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kmsfs::testing
