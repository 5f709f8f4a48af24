// Key lifecycle through the CLI: bring-your-own-key import, deleting and
// re-importing material, rotation, and rewrapping a volume to another key.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "fs/format/file_header.h"
#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

std::string HeaderKeyId(const std::string& backing_file) {
  std::vector<uint8_t> buf(4096);
  ssize_t n = getxattr(backing_file.c_str(), "user.kmsfs", buf.data(), buf.size());
  if (n <= 0) return "";
  buf.resize(static_cast<size_t>(n));
  auto h = format::FileHeader::Decode(buf);
  return h.ok() ? h->key_id : "";
}

// Content bytes (not headers) of every backing file.
std::map<std::string, uint64_t> BackingContentHashes(const std::string& backing) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : stdfs::recursive_directory_iterator(backing)) {
    if (!e.is_regular_file() || e.path().filename() == ".kmsfs.json") continue;
    std::string data = ReadFile(e.path().string());
    out[e.path().string()] = Fnv1a(data.data(), data.size());
  }
  return out;
}

class KeyLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = DefaultTestUsers()[0];
    env_ = KmsEnv(*kmsd_, alice_);
  }
  std::string CreateKey(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"key", "create"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = RunKmsfs(args, env_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return TrimTrailing(r.out);
  }
  std::string MaterialFile(const std::string& name, size_t size, char fill) {
    std::string path = dir_.Join(name);
    WriteFileOrDie(path, std::string(size, fill));
    return path;
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser alice_;
  std::map<std::string, std::string> env_;
  TempDir dir_;
};

TEST_F(KeyLifecycleTest, ImportedKeyWorksWithEveryWrappingAlgorithmAndSurvivesRestart) {
  KMSFS_REQUIRE_FUSE();
  for (const std::string alg : {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}) {
    SCOPED_TRACE(alg);
    const std::string key = CreateKey({"--origin", "external"});
    CommandResult r = RunKmsfs({"key", "describe", key}, env_);
    EXPECT_NE(r.out.find("pending-import"), std::string::npos) << r.out;
    r = RunKmsfs({"key", "import", key, "--material", MaterialFile("m-" + alg, 32, 'k'), "--wrapping", alg}, env_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.key_id = key;
    auto v = MountedVolume::Start(o);
    ASSERT_NE(v, nullptr);
    WriteFileOrDie(v->Path("byok.txt"), "under imported material " + alg);
    ASSERT_TRUE(v->Unmount());
    ASSERT_TRUE(kmsd_->Restart());
    env_ = KmsEnv(*kmsd_, alice_);  // the restarted kmsd may listen on another port
    ASSERT_EQ(v->Mount().exit_code, 0);
    EXPECT_EQ(ReadFile(v->Path("byok.txt")), "under imported material " + alg);
  }
}

TEST_F(KeyLifecycleTest, ImportRejectsBadMaterialAndWrongKeysClearly) {
  const std::string external = CreateKey({"--origin", "external"});
  CommandResult r = RunKmsfs({"key", "import", external, "--material", MaterialFile("short", 31, 'a')}, env_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("32 bytes"), std::string::npos) << r.err;
  r = RunKmsfs({"key", "import", external, "--material", MaterialFile("long", 33, 'a')}, env_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = RunKmsfs({"key", "import", external, "--material", MaterialFile("ok", 32, 'a'), "--wrapping", "ROT13"}, env_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string kms_key = CreateKey();
  r = RunKmsfs({"key", "import", kms_key, "--material", MaterialFile("ok", 32, 'a')}, env_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("KMS.0309"), std::string::npos) << r.err;
  r = RunKmsfs({"key", "import", external, "--material", MaterialFile("ok", 32, 'a')}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunKmsfs({"key", "import", external, "--material", MaterialFile("ok", 32, 'a')}, env_);
  EXPECT_EQ(r.exit_code, 1) << "already imported: " << r.err;
  EXPECT_NE(r.err.find("KMS.0310"), std::string::npos) << r.err;
}

TEST_F(KeyLifecycleTest, DeletedMaterialLocksFilesUntilTheSameMaterialReturns) {
  KMSFS_REQUIRE_FUSE();
  const std::string key = CreateKey({"--origin", "external"});
  const std::string material = MaterialFile("m", 32, 'q');
  ASSERT_EQ(RunKmsfs({"key", "import", key, "--material", material}, env_).exit_code, 0);
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.key_id = key;
  o.mount_args = {"--cache-ttl", "0"};
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "locked away");
  ASSERT_TRUE(v->WaitForReleases()) << "the next open must need the KMS";
  CommandResult r = RunKmsfs({"key", "delete-material", key}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int err = 0;
  ReadFile(v->Path("f"), &err);
  EXPECT_EQ(err, EACCES);
  EXPECT_NE(v->ReadLog().find(key), std::string::npos) << v->ReadLog();
  r = RunKmsfs({"key", "import", key, "--material", MaterialFile("other", 32, 'z')}, env_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("KMS.2606"), std::string::npos) << r.err;
  r = RunKmsfs({"key", "import", key, "--material", material}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(v->Path("f")), "locked away");
}

TEST_F(KeyLifecycleTest, RotationKeepsOldFilesReadable) {
  KMSFS_REQUIRE_FUSE();
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.mount_args = {"--cache-ttl", "0", "--tune", "pool-size=0"};
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("before"), "written before rotation");
  CommandResult r = RunKmsfs({"key", "rotate", v->key_id()}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  WriteFileOrDie(v->Path("after"), "written after rotation");
  EXPECT_EQ(ReadFile(v->Path("before")), "written before rotation");
  EXPECT_EQ(ReadFile(v->Path("after")), "written after rotation");
}

TEST_F(KeyLifecycleTest, RewrapMovesEveryHeaderAndLeavesDataUntouched) {
  KMSFS_REQUIRE_FUSE();
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
  for (int i = 0; i < 50; ++i) WriteFileOrDie(v->Path((i % 2 ? "d/" : "") + std::to_string(i)), Pattern(i * 1000, i));
  CommandResult r = RunKmsfs({"rewrap", v->backing_dir(), "--to-key", CreateKey()}, env_);
  EXPECT_EQ(r.exit_code, 2) << "refuses while mounted: " << r.err;
  EXPECT_NE(r.err.find("mounted"), std::string::npos) << r.err;
  ASSERT_TRUE(v->Unmount());

  const auto before = BackingContentHashes(v->backing_dir());
  const std::string new_key = CreateKey();
  r = RunKmsfs({"rewrap", v->backing_dir(), "--to-key", new_key}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rewrapped 50 files"), std::string::npos) << r.out;
  EXPECT_EQ(BackingContentHashes(v->backing_dir()), before);
  for (const auto& [path, hash] : before) EXPECT_EQ(HeaderKeyId(path), new_key) << path;
  EXPECT_NE(ReadFileOrDie(v->BackingPath(".kmsfs.json")).find(new_key), std::string::npos);
  ASSERT_EQ(v->Mount().exit_code, 0);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(ReadFile(v->Path((i % 2 ? "d/" : "") + std::to_string(i))), Pattern(i * 1000, i));
  }
}

TEST_F(KeyLifecycleTest, RewrapKilledMidwayLeavesEveryFileReadableAndResumes) {
  KMSFS_REQUIRE_FUSE();
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.init_args = {"--plaintext-names"};
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  const int kFiles = 600;
  for (int i = 0; i < kFiles; ++i) WriteFileOrDie(v->Path("f" + std::to_string(i)), "file " + std::to_string(i));
  ASSERT_TRUE(v->Unmount());
  const auto before = BackingContentHashes(v->backing_dir());
  const std::string old_key = v->key_id();
  const std::string new_key = CreateKey();

  // Start a rewrap with one worker and kill it once some headers have moved.
  std::vector<std::string> argv = {BuildDir() + "/kmsfs", "rewrap", v->backing_dir(), "--to-key", new_key,
                                   "--threads", "1"};
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& [k, val] : env_) {
      if (val.empty()) unsetenv(k.c_str());
      else setenv(k.c_str(), val.c_str(), 1);
    }
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int moved = 0;
  for (int spin = 0; spin < 2000 && moved < kFiles / 10; ++spin) {
    moved = 0;
    for (int i = 0; i < kFiles; i += 7) moved += HeaderKeyId(v->BackingPath("f" + std::to_string(i))) == new_key;
    moved *= 7;
    usleep(2000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  int on_new = 0, on_old = 0;
  for (int i = 0; i < kFiles; ++i) {
    const std::string k = HeaderKeyId(v->BackingPath("f" + std::to_string(i)));
    on_new += k == new_key;
    on_old += k == old_key;
  }
  EXPECT_EQ(on_new + on_old, kFiles) << "every header names one of the two keys";
  EXPECT_GT(on_new, 0);
  EXPECT_GT(on_old, 0) << "killed too late to test a partial run";
  EXPECT_NE(ReadFileOrDie(v->BackingPath(".kmsfs.json")).find(old_key), std::string::npos);
  ASSERT_EQ(v->Mount().exit_code, 0);
  for (int i = 0; i < kFiles; i += 13) EXPECT_EQ(ReadFile(v->Path("f" + std::to_string(i))), "file " + std::to_string(i));
  ASSERT_TRUE(v->Unmount());

  CommandResult r = RunKmsfs({"rewrap", v->backing_dir(), "--to-key", new_key}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < kFiles; ++i) EXPECT_EQ(HeaderKeyId(v->BackingPath("f" + std::to_string(i))), new_key);
  EXPECT_EQ(BackingContentHashes(v->backing_dir()), before);
  ASSERT_EQ(v->Mount().exit_code, 0);
  for (int i = 0; i < kFiles; i += 13) EXPECT_EQ(ReadFile(v->Path("f" + std::to_string(i))), "file " + std::to_string(i));
}

}  // namespace
}  // namespace kmsfs::testing
