// Unlinks: an unlink that returned 0 has happened in the backing directory
// before the answer (nothing is answered ahead of the act), what any later
// request sees through the mount, and the errors that come back.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
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

std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : stdfs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// Regular files and symlinks under `root`, the volume's config file aside.
std::vector<std::string> BackingFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    if (e.is_directory() || e.path().filename() == ".kmsfs.json") continue;
    out.push_back(stdfs::relative(e.path(), root).string());
  }
  return out;
}

class UnlinkTest : public KmsdMountTest {};

// Each round unlinks a name and at once does something that must not see it.
// The worker races each of them; any request that forgot to wait shows here
// as a name that is still there.
TEST_F(UnlinkTest, EveryRequestAfterAnUnlinkSeesTheNameGone) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
  WriteFileOrDie(v->Path("other"), "other");
  for (int round = 0; round < 60; ++round) {
    const std::string f = v->Path("d/f");
    WriteFileOrDie(f, "round " + std::to_string(round));
    ASSERT_EQ(unlink(f.c_str()), 0) << round;
    EXPECT_FALSE(stdfs::exists(v->BackingPath("d/f"))) << round << ": the unlink was answered before it happened";
    struct stat st;
    switch (round % 6) {
      case 0:
        EXPECT_EQ(lstat(f.c_str(), &st), -1) << round;
        EXPECT_EQ(errno, ENOENT) << round;
        break;
      case 1: {  // the name can be made again, exclusively
        const int fd = open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
        EXPECT_GE(fd, 0) << round << ": " << std::strerror(errno);
        if (fd >= 0) close(fd);
        ASSERT_EQ(unlink(f.c_str()), 0);
        break;
      }
      case 2:
        EXPECT_EQ(Listing(v->Path("d")).count("f"), 0u) << round;
        break;
      case 3:  // a hard link and a rename onto the name
        EXPECT_EQ(link(v->Path("other").c_str(), f.c_str()), 0) << round << ": " << std::strerror(errno);
        EXPECT_EQ(ReadFile(f), "other");
        ASSERT_EQ(unlink(f.c_str()), 0);
        break;
      case 4:
        EXPECT_EQ(rmdir(v->Path("d").c_str()), 0) << round << ": " << std::strerror(errno);
        ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
        break;
      case 5: {
        struct statvfs sv;
        EXPECT_EQ(statvfs(v->mountpoint().c_str(), &sv), 0);
        EXPECT_FALSE(stdfs::exists(v->BackingPath("d/f"))) << round << ": statfs came before the unlink";
        break;
      }
    }
  }
  EXPECT_EQ(ReadFile(v->Path("other")), "other");
}

TEST_F(UnlinkTest, RemovingATreeLeavesNothingInTheBackingDirectory) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "tree/d" + std::to_string(d);
    stdfs::create_directories(v->Path(dir));
    for (int f = 0; f < 60; ++f) WriteFileOrDie(v->Path(dir + "/f" + std::to_string(f)), "x");
    ASSERT_EQ(symlink("f0", v->Path(dir + "/link").c_str()), 0);
  }
  EXPECT_EQ(stdfs::remove_all(v->Path("tree")), 10u * 62 + 1);
  EXPECT_FALSE(stdfs::exists(v->Path("tree")));
  EXPECT_FALSE(stdfs::exists(v->BackingPath("tree")));
}

// A backing file that cannot be removed (immutable: chattr +i) makes the
// unlink fail, and the name stays: an unlink that returned 0 has happened.
TEST_F(UnlinkTest, AnUnlinkTheBackingFilesystemRefusesFailsAndTheNameStays) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("kept"), "still here");
  ASSERT_EQ(RunCommand({"/usr/bin/chattr", "+i", v->BackingPath("kept")}, {}).exit_code, 0) << "chattr +i needs ext4/xfs";
  EXPECT_EQ(unlink(v->Path("kept").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(ReadFile(v->Path("kept")), "still here");
  EXPECT_TRUE(stdfs::exists(v->BackingPath("kept")));
  ASSERT_EQ(RunCommand({"/usr/bin/chattr", "-i", v->BackingPath("kept")}, {}).exit_code, 0);
  EXPECT_EQ(unlink(v->Path("kept").c_str()), 0);
  EXPECT_FALSE(stdfs::exists(v->BackingPath("kept")));
}

TEST_F(UnlinkTest, ErrorsStillComeBackFromTheUnlink) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("dir").c_str(), 0755), 0);
  EXPECT_EQ(unlink(v->Path("missing").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(unlink(v->Path("dir").c_str()), -1);
  EXPECT_EQ(errno, EISDIR);
  EXPECT_EQ(unlink(v->Path(".kmsfs.json").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_TRUE(stdfs::exists(v->BackingPath(".kmsfs.json")));
  EXPECT_TRUE(stdfs::is_directory(v->BackingPath("dir")));
}

TEST_F(UnlinkTest, AnOpenFileStaysReadableAndWritableAfterItsUnlink) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  const std::string data = Pattern(200000, 3);
  WriteFileOrDie(v->Path("f"), data);
  const int fd = open(v->Path("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(v->Path("f").c_str()), 0);
  std::string back(data.size(), '\0');
  EXPECT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(back, data);
  EXPECT_EQ(pwrite(fd, "new", 3, 0), 3);
  EXPECT_EQ(fsync(fd), 0);
  char head[3];
  EXPECT_EQ(pread(fd, head, 3, 0), 3);
  EXPECT_EQ(std::string(head, 3), "new");
  close(fd);
  EXPECT_FALSE(stdfs::exists(v->Path("f")));
  EXPECT_EQ(BackingFiles(v->backing_dir()), std::vector<std::string>{});
}

TEST_F(UnlinkTest, RetiredUnlinkQueueFlagIsAUsageError) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Unmount());
  CommandResult r = v->Mount({"--unlink-queue", "16"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--unlink-queue is gone"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kmsfs::testing
