// Issue 18: "symlink swap of a backing directory while a directory fd is held
// through the mount, for unlink, mkdir, symlink, rename in and out, link,
// chmod, xattrs: nothing outside the tree changes".
//
// A root mount with -o allow_other; a directory `d` made through it and held
// open (O_DIRECTORY) by a process. An attacker who can write the backing
// directory renames the backing `d` away and puts a symlink to an outside
// directory in its place. Every operation through the held descriptor (the
// kernel names the node, the daemon acts on the node's own O_PATH fd) must
// land in the renamed directory or fail; the outside directory stays byte
// for byte and name for name as it was, owners and modes included.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "tests/integration/snapshot.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

// errno of a call that returned `rc` (0 when it succeeded).
int Err(long rc) { return rc < 0 ? errno : 0; }

std::set<std::string> ListFd(int dir_fd) {
  std::set<std::string> names;
  const int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return names;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return names;
  }
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.insert(e->d_name);
  }
  closedir(d);
  return names;
}

class BackingSwapTest : public KmsdMountTest {};

TEST_F(BackingSwapTest, OperationsThroughAHeldDirectoryNeverReachTheSymlinksTarget) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (allow_other, another uid)";
  auto v = StartPlainNamesVolume({"-o", "allow_other"});
  ASSERT_NE(v, nullptr);
  chmod(stdfs::path(v->mountpoint()).parent_path().c_str(), 0755);

  // The outside directory: a root-owned canary, a 0600 secret, a directory
  // and a symlink, each a target of one of the operations below.
  TempDir outside_dir;
  const std::string outside = outside_dir.path();
  chmod(outside.c_str(), 0755);
  WriteFileOrDie(outside + "/canary", "root's canary");
  WriteFileOrDie(outside + "/secret", "root's secret");
  ASSERT_EQ(chmod((outside + "/secret").c_str(), 0600), 0);
  ASSERT_EQ(setxattr((outside + "/canary").c_str(), "user.mark", "1", 1, 0), 0);
  ASSERT_EQ(mkdir((outside + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(symlink("canary", (outside + "/link").c_str()), 0);

  // Through the mount: d (writable by anyone), a file in it, a file at the root.
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0777), 0);
  ASSERT_EQ(chmod(v->Path("d").c_str(), 0777), 0);
  WriteFileOrDie(v->Path("d/own"), "d's own file");
  WriteFileOrDie(v->Path("at-root"), "a file at the mount's root");
  const int d = open(v->Path("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(d, 0);
  const int root = open(v->mountpoint().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);

  const auto before = Snapshot(outside);
  // The attacker's swap, in the backing directory.
  // (Backing paths by name: the volume has plaintext names, and after the
  // rename the mount's own "d" is the moved directory.)
  const std::string backing_d = v->backing_dir() + "/d";
  ASSERT_EQ(rename(backing_d.c_str(), (backing_d + ".moved").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), backing_d.c_str()), 0);

  // Names that exist only outside: each operation must fail as for a name
  // that does not exist (the daemon looks in the renamed directory).
  EXPECT_EQ(Err(unlinkat(d, "canary", 0)), ENOENT) << "unlink";
  EXPECT_EQ(Err(unlinkat(d, "link", 0)), ENOENT) << "unlink of a symlink";
  EXPECT_EQ(Err(unlinkat(d, "sub", AT_REMOVEDIR)), ENOENT) << "rmdir";
  EXPECT_EQ(Err(renameat(d, "secret", root, "stolen")), ENOENT) << "rename out";
  EXPECT_EQ(Err(linkat(d, "secret", root, "linked-secret", 0)), ENOENT) << "link out";
  EXPECT_EQ(Err(fchmodat(d, "canary", 0666, 0)), ENOENT) << "chmod";
  EXPECT_EQ(Err(fchownat(d, "secret", 65534, 65534, 0)), ENOENT) << "chown";
  struct timespec times[2] = {{0, 0}, {0, 0}};
  EXPECT_EQ(Err(utimensat(d, "canary", times, 0)), ENOENT) << "utimens";
  EXPECT_EQ(Err(openat(d, "secret", O_RDONLY | O_CLOEXEC)), ENOENT) << "open for reading";
  EXPECT_EQ(Err(openat(d, "canary", O_WRONLY | O_TRUNC | O_CLOEXEC)), ENOENT) << "open with O_TRUNC";
  struct stat st;
  EXPECT_EQ(Err(fstatat(d, "secret", &st, 0)), ENOENT) << "stat";
  const std::string via_fd = "/proc/self/fd/" + std::to_string(d) + "/";
  EXPECT_EQ(Err(setxattr((via_fd + "canary").c_str(), "user.evil", "1", 1, 0)), ENOENT) << "setxattr";
  EXPECT_EQ(Err(removexattr((via_fd + "canary").c_str(), "user.mark")), ENOENT) << "removexattr";
  char buf[64];
  EXPECT_EQ(Err(getxattr((via_fd + "canary").c_str(), "user.mark", buf, sizeof buf)), ENOENT) << "getxattr";

  // Operations that make something: it appears in the renamed directory.
  EXPECT_EQ(Err(mkdirat(d, "made-dir", 0755)), 0) << "mkdir";
  EXPECT_EQ(Err(symlinkat("/etc/shadow", d, "made-link")), 0) << "symlink";
  const int made = openat(d, "canary", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  EXPECT_GE(made, 0) << "create of a name that exists outside: " << std::strerror(errno);
  if (made >= 0) {
    EXPECT_EQ(write(made, "new", 3), 3);
    close(made);
  }
  EXPECT_EQ(Err(renameat(d, "own", root, "own-moved-out")), 0) << "rename out";
  EXPECT_EQ(Err(renameat(root, "at-root", d, "moved-in")), 0) << "rename in";
  EXPECT_EQ(Err(linkat(root, "own-moved-out", d, "linked-in", 0)), 0) << "link in";
  EXPECT_EQ(Err(linkat(d, "moved-in", root, "linked-out", 0)), 0) << "link out";
  EXPECT_EQ(Err(fchmodat(d, "moved-in", 0600, 0)), 0) << "chmod";
  EXPECT_EQ(Err(setxattr((via_fd + "moved-in").c_str(), "user.kept", "1", 1, 0)), 0) << "setxattr";
  EXPECT_EQ(Err(unlinkat(d, "linked-in", 0)), 0) << "unlink";
  EXPECT_EQ(Err(unlinkat(d, "made-dir", AT_REMOVEDIR)), 0) << "rmdir";
  // The same as another user, through the descriptor it inherits.
  EXPECT_EQ(RunAsNobody([&] { return Err(openat(d, "secret", O_RDONLY)); }), ENOENT);
  EXPECT_EQ(RunAsNobody([&] { return Err(mkdirat(d, "nobodys", 0755)); }), 0);
  EXPECT_EQ(RunAsNobody([&] { return Err(unlinkat(d, "canary", 0)); }), 0) << "d is 0777: its own canary";

  // A listing through the descriptor is the renamed directory's.
  EXPECT_EQ(ListFd(d), (std::set<std::string>{"made-link", "moved-in", "nobodys"}));
  close(d);
  close(root);

  EXPECT_EQ(Snapshot(outside), before) << "the directory outside the tree changed";
  EXPECT_EQ(ReadFile(outside + "/secret"), "root's secret");
  std::set<std::string> moved;
  for (const auto& e : stdfs::directory_iterator(v->BackingPath("d.moved"))) moved.insert(e.path().filename());
  EXPECT_EQ(moved, (std::set<std::string>{"made-link", "moved-in", "nobodys"}));
  EXPECT_TRUE(stdfs::exists(v->BackingPath("own-moved-out")));
  EXPECT_TRUE(stdfs::exists(v->BackingPath("linked-out")));
}

}  // namespace
}  // namespace kmsfs::testing
