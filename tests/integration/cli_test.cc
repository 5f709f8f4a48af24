// The kmsfs command-line contract (spec/cli.md): exit codes and messages.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

bool OneLine(const std::string& s) {
  std::string t = TrimTrailing(s);
  return !t.empty() && t.find('\n') == std::string::npos;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = DefaultTestUsers()[0];
    bob_ = DefaultTestUsers()[1];
  }
  std::string CreateKey(const KmsdUser& u) {
    CommandResult r = RunKmsfs({"key", "create"}, KmsEnv(*kmsd_, u));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return TrimTrailing(r.out);
  }
  // Alice's key and an initialised backing directory, not mounted.
  std::unique_ptr<MountedVolume> InitializedVolume() {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.init_args = {"--plaintext-names"};
    o.mount = false;
    o.init_args = {"--plaintext-names"};  // the foreground test finds its file by name
    return MountedVolume::Start(o);
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser alice_, bob_;
  TempDir dir_;
};

TEST_F(CliTest, HelpAndUsageErrors) {
  CommandResult r = RunKmsfs({"--help"}, {});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("kmsfs mount BACKING_DIR MOUNTPOINT"), std::string::npos);
  r = RunKmsfs({}, {});
  EXPECT_EQ(r.exit_code, 2);
  r = RunKmsfs({"frobnicate"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  r = RunKmsfs({"mount", dir_.Join("nope"), dir_.Join("mnt"), "--bogus-flag"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--bogus-flag"), std::string::npos) << r.err;
  r = RunKmsfs({"mount", dir_.Join("nope"), dir_.path()}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(CliTest, KeyCreateListDescribe) {
  const auto env = KmsEnv(*kmsd_, alice_);
  CommandResult r = RunKmsfs({"key", "create", "--alias", "cli-test-key"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string key = TrimTrailing(r.out);
  EXPECT_EQ(key.size(), 36u) << key;
  r = RunKmsfs({"key", "list"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(key), std::string::npos);
  EXPECT_NE(r.out.find("cli-test-key"), std::string::npos);
  r = RunKmsfs({"key", "describe", key}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("enabled"), std::string::npos) << r.out;
  r = RunKmsfs({"key", "describe", "00000000-0000-0000-0000-000000000000"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("KMS.0207"), std::string::npos) << r.err;
}

TEST_F(CliTest, KmsUnreachableIsAnEnvironmentError) {
  auto env = KmsEnv(*kmsd_, alice_);
  env["KMSFS_KMS_ENDPOINT"] = "http://127.0.0.1:1";
  env["OS_AUTH_URL"] = "http://127.0.0.1:1/v3";
  CommandResult r = RunKmsfs({"key", "list"}, env, 120);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(OneLine(r.err)) << r.err;
}

TEST_F(CliTest, InitRefusesNonEmptyDirectoryAndDoubleInit) {
  const auto env = KmsEnv(*kmsd_, alice_);
  const std::string key = CreateKey(alice_);
  const std::string full = dir_.Join("full");
  ASSERT_EQ(mkdir(full.c_str(), 0755), 0);
  WriteFileOrDie(full + "/plain.txt", "hello");
  CommandResult r = RunKmsfs({"init", full, "--key", key}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  const std::string b = dir_.Join("b");
  r = RunKmsfs({"init", b, "--key", key}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunKmsfs({"init", b, "--key", key}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("already"), std::string::npos) << r.err;
  // A key the user may not use is refused before anything is written.
  const std::string bobs_key = CreateKey(bob_);
  r = RunKmsfs({"init", dir_.Join("c"), "--key", bobs_key}, env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("encrypt-datakey"), std::string::npos) << r.err;
}

TEST_F(CliTest, MountRefusalNamesUserKeyAndOperation) {
  KMSFS_REQUIRE_FUSE();
  auto v = InitializedVolume();
  ASSERT_NE(v, nullptr);
  const std::string mnt = dir_.Join("mnt");
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  CommandResult r = RunKmsfs({"mount", v->backing_dir(), mnt}, KmsEnv(*kmsd_, bob_));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find(bob_.name), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(v->key_id()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("decrypt-datakey"), std::string::npos) << r.err;
}

TEST_F(CliTest, MountOfNonVolumeSaysToInit) {
  const std::string empty = dir_.Join("empty");
  ASSERT_EQ(mkdir(empty.c_str(), 0755), 0);
  CommandResult r = RunKmsfs({"mount", empty, dir_.path()}, KmsEnv(*kmsd_, alice_));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("kmsfs init"), std::string::npos) << r.err;
}

TEST_F(CliTest, ForegroundMountServesUntilUnmounted) {
  KMSFS_REQUIRE_FUSE();
  auto v = InitializedVolume();
  ASSERT_NE(v, nullptr);
  const std::string mnt = dir_.Join("fg");
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const auto env = KmsEnv(*kmsd_, alice_);
  std::thread unmounter([&] {
    // Wait until the mount answers, then unmount it.
    for (int i = 0; i < 600; ++i) {
      struct stat a, b;
      if (stat(mnt.c_str(), &a) == 0 && stat(dir_.path().c_str(), &b) == 0 && a.st_dev != b.st_dev) break;
      usleep(50 * 1000);
    }
    WriteFileOrDie(mnt + "/hello", "from the foreground mount");
    RunCommand({"/bin/fusermount3", "-u", mnt});
  });
  CommandResult r = RunKmsfs({"mount", v->backing_dir(), mnt, "-f"}, env, 60);
  unmounter.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mounted"), std::string::npos) << r.out;
  struct stat st;
  EXPECT_EQ(stat((v->backing_dir() + "/hello").c_str(), &st), 0);
}

}  // namespace
}  // namespace kmsfs::testing
