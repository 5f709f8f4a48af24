// kmsfs fsck: clean volumes pass; every kind of damage is named with its path
// (and block); --quick checks headers only; a KMS that is down means "could
// not run".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"

namespace kmsfs::testing {
namespace {

class FsckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.init_args = {"--plaintext-names"};  // the tests damage backing files by name
    v_ = MountedVolume::Start(o);
    ASSERT_NE(v_, nullptr);
    ASSERT_EQ(mkdir(v_->Path("d").c_str(), 0755), 0);
    for (int i = 0; i < 20; ++i) WriteFileOrDie(v_->Path("d/f" + std::to_string(i)), std::string(9000 + i, 'a' + i % 26));
    WriteFileOrDie(v_->Path("empty"), "");
    ASSERT_TRUE(v_->Unmount());
  }
  CommandResult Fsck(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"fsck", v_->backing_dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunKmsfs(args, v_->Env());
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  std::unique_ptr<MountedVolume> v_;
};

TEST_F(FsckTest, CleanVolumePasses) {
  CommandResult r = Fsck();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("checked 21 files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 problems"), std::string::npos) << r.out;
}

TEST_F(FsckTest, NamesEachDamagedFileAndBlock) {
  // A flipped byte in block 2 of d/f3.
  const std::string f3 = v_->BackingPath("d/f3");
  const off_t sealed_block = 4096 + 28;
  int fd = open(f3.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(pread(fd, &c, 1, 2 * sealed_block + 40), 1);
  c ^= 0x80;
  ASSERT_EQ(pwrite(fd, &c, 1, 2 * sealed_block + 40), 1);
  close(fd);
  // A file copied without its xattr, and a file with an impossible size.
  std::filesystem::copy_file(v_->BackingPath("d/f4"), v_->BackingPath("d/copied"));
  ASSERT_EQ(truncate(v_->BackingPath("d/f5").c_str(), 4096 + 28 + 10), 0);

  CommandResult r = Fsck();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("d/f3: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("block 2"), std::string::npos) << r.out;
  // A file without a header is named, with the way to get it back.
  EXPECT_NE(r.out.find("d/copied: no header (xattr user.kmsfs is missing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kmsfs headers import " + v_->backing_dir()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("d/f5: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 problems"), std::string::npos) << r.out;

  // --quick checks headers only: the flipped byte goes unseen.
  r = Fsck({"--quick"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.find("d/f3: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("d/copied"), std::string::npos) << r.out;
}

TEST_F(FsckTest, CannotRunWithoutTheKmsOrTheConfig) {
  kmsd_->Kill();
  CommandResult r = Fsck();
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = RunKmsfs({"fsck", "/nonexistent-dir"}, v_->Env());
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace kmsfs::testing
