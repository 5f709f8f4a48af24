// New files whose backing inodes were made ahead (ReadyFiles): what a create
// through the mount gives, the same as a file made in its request, in plain,
// setgid and default-ACL directories and after a directory is renamed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

uint64_t Used(const MountedVolume& v) { return v.Status()["ready_files"]["used"].get<uint64_t>(); }


// Creates `n` files in `dir` (through the mount) with `mode`, each holding its own name.
void CreateFiles(const MountedVolume& v, const std::string& dir, int n, mode_t mode) {
  for (int i = 0; i < n; ++i) {
    const std::string rel = dir + "/f" + std::to_string(i);
    const int fd = open(v.Path(rel).c_str(), O_CREAT | O_EXCL | O_WRONLY, mode);
    ASSERT_GE(fd, 0) << rel << ": " << std::strerror(errno);
    ASSERT_EQ(write(fd, rel.data(), rel.size()), static_cast<ssize_t>(rel.size()));
    close(fd);
    // Gives the worker time to make the next ones, as a program that does
    // anything between its creates would.
    usleep(2000);
  }
}

// A POSIX ACL xattr (version 2) of user::rwx, group::r-x, other::---.
std::string MinimalAcl() {
  auto entry = [](uint16_t tag, uint16_t perm) {
    std::string e(8, '\0');
    e[0] = static_cast<char>(tag & 0xff);
    e[1] = static_cast<char>(tag >> 8);
    e[2] = static_cast<char>(perm);
    e[4] = e[5] = e[6] = e[7] = static_cast<char>(0xff);  // ACL_UNDEFINED_ID
    return e;
  };
  return std::string("\x02\0\0\0", 4) + entry(0x01, 7) + entry(0x04, 5) + entry(0x20, 0);
}

class ReadyFilesTest : public KmsdMountTest {
 protected:
  // For the tests that count creates served by files made ahead: a mount
  // whose DEK pool (of 64) has filled, as it has by the time a program starts
  // creating files in practice, and whose background threads may run on any
  // CPU. On the default background CPU they share one CPU with every other
  // mount's and kmsd's, which CI's parallel sanitizer runs keep busy: there
  // the thread that makes files ahead fell behind (7 of 20 creates used one).
  // What these tests check is the mechanism, not where it runs
  // (mount_test.cc checks the placement).
  std::unique_ptr<MountedVolume> StartWithFullPool() {
    constexpr uint64_t kPoolSize = 64;
    auto v = StartVolume({"--pool-size", std::to_string(kPoolSize), "--background-cpu", "none"});
    if (v == nullptr) return v;
    auto ready = [&] { return v->Status()["pool"]["ready"].get<uint64_t>(); };
    for (int i = 0; i < 2000 && ready() < kPoolSize; ++i) usleep(10'000);
    EXPECT_GE(ready(), kPoolSize) << "the pool never filled";
    return v;
  }
};

TEST_F(ReadyFilesTest, FilesMadeAheadGetTheCreatesModeTimesContentAndHeader) {
  auto v = StartWithFullPool();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
  const time_t before = time(nullptr);
  CreateFiles(*v, "d", 20, 0640);
  EXPECT_GE(Used(*v), 15u) << "most creates in a directory should link a file made ahead";
  for (int i = 0; i < 20; ++i) {
    const std::string rel = "d/f" + std::to_string(i);
    struct stat st;
    ASSERT_EQ(stat(v->Path(rel).c_str(), &st), 0) << rel;
    EXPECT_EQ(st.st_mode & 07777, 0640u) << rel;
    EXPECT_GE(st.st_mtime, before) << rel;
    EXPECT_LE(st.st_mtime, time(nullptr)) << rel;
    EXPECT_EQ(ReadFile(v->Path(rel)), rel);
    char header[4096];
    EXPECT_GT(getxattr(v->BackingPath(rel).c_str(), "user.kmsfs", header, sizeof header), 0) << rel;
  }
  // Nothing else is in the backing directory: files made ahead have no name.
  std::vector<std::string> names;
  for (const auto& e : stdfs::directory_iterator(v->BackingPath("d"))) names.push_back(e.path().filename());
  EXPECT_EQ(names.size(), 20u);
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(v->Path("d/f19")), "d/f19");
}

// Files are made ahead with the mode of the directory's last create; a
// create that asks for another (one without the owner's write bit included)
// still gets its own.
TEST_F(ReadyFilesTest, EachCreateGetsItsModeWhenModesChange) {
  auto v = StartWithFullPool();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("m").c_str(), 0755), 0);
  const mode_t modes[] = {0640, 0640, 0600, 0755, 0755, 0400, 0444, 0640};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < std::size(modes); ++i) {
      const std::string rel = "m/f" + std::to_string(round) + "-" + std::to_string(i);
      const int fd = open(v->Path(rel).c_str(), O_CREAT | O_EXCL | O_WRONLY, modes[i]);
      ASSERT_GE(fd, 0) << rel << ": " << std::strerror(errno);
      ASSERT_EQ(write(fd, rel.data(), rel.size()), static_cast<ssize_t>(rel.size()));
      close(fd);
      usleep(2000);
    }
  }
  EXPECT_GE(Used(*v), 12u);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < std::size(modes); ++i) {
      const std::string rel = "m/f" + std::to_string(round) + "-" + std::to_string(i);
      struct stat st;
      ASSERT_EQ(stat(v->Path(rel).c_str(), &st), 0) << rel;
      EXPECT_EQ(st.st_mode & 07777, modes[i]) << rel;
      EXPECT_EQ(ReadFile(v->Path(rel)), rel);
    }
  }
}

TEST_F(ReadyFilesTest, ASetgidDirectorysFilesGetItsGroupAfterARename) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a directory another group";
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  const gid_t other_group = 65534;
  ASSERT_EQ(mkdir(v->Path("shared").c_str(), 0775), 0);
  ASSERT_EQ(chown(v->Path("shared").c_str(), 0, other_group), 0);
  ASSERT_EQ(chmod(v->Path("shared").c_str(), 02775), 0);
  CreateFiles(*v, "shared", 10, 0644);
  // Files made ahead for "shared" must not serve the plain directory that
  // takes its name.
  ASSERT_EQ(rename(v->Path("shared").c_str(), v->Path("old").c_str()), 0);
  ASSERT_EQ(mkdir(v->Path("shared").c_str(), 0755), 0);
  CreateFiles(*v, "shared", 10, 0644);
  for (int i = 0; i < 10; ++i) {
    struct stat st;
    ASSERT_EQ(stat(v->Path("old/f" + std::to_string(i)).c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, other_group) << "old/f" << i;
    ASSERT_EQ(stat(v->Path("shared/f" + std::to_string(i)).c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, getegid()) << "shared/f" << i;
  }
}

TEST_F(ReadyFilesTest, ADirectoryWithADefaultAclMakesItsFilesInTheRequest) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("acl").c_str(), 0755), 0);
  const std::string acl = MinimalAcl();
  if (setxattr(v->BackingPath("acl").c_str(), "system.posix_acl_default", acl.data(), acl.size(), 0) != 0) {
    GTEST_SKIP() << "the backing filesystem has no POSIX ACLs: " << std::strerror(errno);
  }
  CreateFiles(*v, "acl", 10, 0666);
  for (int i = 0; i < 10; ++i) {
    struct stat st;
    ASSERT_EQ(stat(v->BackingPath("acl/f" + std::to_string(i)).c_str(), &st), 0);
    // The default ACL, not the create's mode alone: group r, others nothing.
    EXPECT_EQ(st.st_mode & 0777, 0640u) << "acl/f" << i;
  }
}

TEST_F(ReadyFilesTest, ZeroMakesNoneAndBeyondTheLimitIsAUsageError) {
  auto v = StartVolume({"--ready-files", "0"});
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
  CreateFiles(*v, "d", 5, 0644);
  EXPECT_EQ(v->Status()["ready_files"]["made"], 0);
  ASSERT_TRUE(v->Unmount());
  ExpectMountUsageErrors(*v, "--ready-files", {"65", "-1", "some"});
}

}  // namespace
}  // namespace kmsfs::testing
