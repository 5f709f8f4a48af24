// mount -t fuse.kmsfs and fstab lines: mount(8) runs mount.fuse3, which runs
// `kmsfs BACKING MOUNTPOINT -o OPTIONS`; kmsfs mounts as `kmsfs mount` would,
// with its connection settings from the credentials file the options name.
//
// mount.fuse3 runs the subtype's program by name through /bin/sh with the
// system's default PATH; the tests name this build's binary instead
// (`fuse./path/to/kmsfs`, which mount.fuse3 runs the same way), so nothing is
// installed on the machine.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

// Whether `dir` is a mount point of type fuse.kmsfs in /proc/mounts.
bool IsKmsfsMount(const std::string& dir) {
  std::ifstream mounts("/proc/mounts");
  std::string source, target, type, rest;
  while (mounts >> source >> target >> type && std::getline(mounts, rest)) {
    if (target == dir && type == "fuse.kmsfs") return true;
  }
  return false;
}

// Unmounts `dir` when the test ends, however it ends.
class UnmountAtEnd {
 public:
  explicit UnmountAtEnd(std::string dir) : dir_(std::move(dir)) {}
  ~UnmountAtEnd() {
    if (IsKmsfsMount(dir_)) RunCommand({"/bin/fusermount3", "-u", "-z", dir_});
  }
  UnmountAtEnd(const UnmountAtEnd&) = delete;
  UnmountAtEnd& operator=(const UnmountAtEnd&) = delete;

 private:
  std::string dir_;
};

class FstabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    ASSERT_EQ(geteuid(), 0u) << "mount(8) needs root";
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    volume_ = MountedVolume::Start(o);
    ASSERT_NE(volume_, nullptr);
    WriteFileOrDie(volume_->Path("hello.txt"), "mounted through mount(8)\n");
    ASSERT_TRUE(volume_->Unmount());
    mnt_ = tmp_.Join("mnt");
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    // The connection settings go into the credentials file; the environment
    // keeps only where this user's key pins are.
    credentials_ = tmp_.Join("alice.env");
    std::string text = "# kmsfs connection for the fstab test\n";
    for (const auto& [name, value] : volume_->Env()) {
      if (name != "KMSFS_PINS_FILE" && !value.empty()) text += name + "=" + value + "\n";
      if (name == "KMSFS_PINS_FILE") env_[name] = value;
    }
    WriteFileOrDie(credentials_, text);
    ASSERT_EQ(chmod(credentials_.c_str(), 0600), 0);
    type_ = "fuse." + std::filesystem::canonical(BuildDir() + "/kmsfs").string();
  }

  std::string Options(const std::string& extra = "") const {
    return "credentials=" + credentials_ + ",log-file=" + tmp_.Join("kmsfs.log") + extra;
  }
  CommandResult Mount(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/mount"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, env_);
  }
  void ExpectServes() {
    EXPECT_TRUE(IsKmsfsMount(mnt_));
    int err = 0;
    EXPECT_EQ(ReadFile(mnt_ + "/hello.txt", &err), "mounted through mount(8)\n") << std::strerror(err);
  }
  void Unmount() {
    CommandResult r = RunCommand({"/bin/umount", mnt_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(IsKmsfsMount(mnt_));
  }

  std::unique_ptr<KmsdProcess> kmsd_;
  std::unique_ptr<MountedVolume> volume_;
  TempDir tmp_;
  std::string mnt_, credentials_, type_;
  std::map<std::string, std::string> env_ = {{"KMSFS_CREDENTIALS", ""}, {"KMSFS_KMS_ENDPOINT", ""}};
};

TEST_F(FstabTest, MountTypeFuseKmsfsMountsWithTheCredentialsFile) {
  UnmountAtEnd guard(mnt_);
  CommandResult r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", Options(",cache-ttl=5,noatime")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectServes();
  // The mount is what `kmsfs mount` makes: nosuid and nodev although
  // mount.fuse3 asks for dev,suid on root's behalf, and the FUSE option
  // passed through.
  std::ifstream mounts("/proc/mounts");
  std::string line;
  bool found = false;
  while (std::getline(mounts, line)) {
    if (line.find(" " + mnt_ + " ") == std::string::npos) continue;
    found = true;
    EXPECT_NE(line.find("nosuid"), std::string::npos) << line;
    EXPECT_NE(line.find("nodev"), std::string::npos) << line;
    EXPECT_NE(line.find("noatime"), std::string::npos) << line;
  }
  EXPECT_TRUE(found);
  Unmount();
}

TEST_F(FstabTest, FstabLineMountsWithMountAllAndHonoursNetdevAndNofail) {
  UnmountAtEnd guard(mnt_);
  const std::string fstab = tmp_.Join("fstab");
  WriteFileOrDie(fstab, "# a kmsfs volume\n" + volume_->backing_dir() + " " + mnt_ + " " + type_ + " " +
                            Options(",_netdev,nofail,cache-ttl=60,tune.prefetch=2") + " 0 0\n");
  // _netdev: a mount of local filesystems only leaves the line alone.
  CommandResult r = Mount({"-T", fstab, "-a", "-O", "no_netdev"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(IsKmsfsMount(mnt_));
  // mount -a mounts it; _netdev and nofail never reach FUSE as options.
  r = Mount({"-T", fstab, "-a"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectServes();
  // Mounted already: mount -a leaves it be.
  r = Mount({"-T", fstab, "-a"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  Unmount();
  // By its mount point alone, as `mount /srv/vault` does with /etc/fstab.
  r = Mount({"-T", fstab, mnt_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectServes();
  Unmount();
}

TEST_F(FstabTest, CredentialsFileOthersMayReadIsRefused) {
  UnmountAtEnd guard(mnt_);
  ASSERT_EQ(chmod(credentials_.c_str(), 0644), 0);
  CommandResult r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", Options()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("has mode 0644, so others may read or change it: run 'chmod 600 " + credentials_ + "'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(IsKmsfsMount(mnt_));
}

TEST_F(FstabTest, BadOptionsAreRefusedWithTheirReason) {
  UnmountAtEnd guard(mnt_);
  CommandResult r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", Options(",cache-ttl")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("-o cache-ttl needs a value: cache-ttl=SEC"), std::string::npos) << r.err;
  r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", Options(",cache-ttl=forever")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--cache-ttl"), std::string::npos) << r.err;
  // Without a credentials file there is no KMS to ask.
  r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", "log-file=" + tmp_.Join("l")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(IsKmsfsMount(mnt_));
  r = Mount({"-t", type_, volume_->backing_dir(), mnt_, "-o", "credentials=" + tmp_.Join("missing.env")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.env"), std::string::npos) << r.err;
  EXPECT_FALSE(IsKmsfsMount(mnt_));
}

}  // namespace
}  // namespace kmsfs::testing
