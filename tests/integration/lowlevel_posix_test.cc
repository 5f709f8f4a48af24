// Issue 19: POSIX behaviour of the low-level core that the high-level API
// could not give, each compared with the same sequence on a plain (ext4)
// directory where the kernel's answers are the reference:
//  - hard links are one inode: link count, size, content, times and st_ino
//    agree through every name, before and after another name's unlink, with
//    the kernel's attribute and entry caches on;
//  - every operation works on a path of PATH_MAX - 1 bytes made of
//    255-byte components;
//  - fstat, read, write, lseek (SEEK_DATA/SEEK_HOLE) and ftruncate on an open
//    file whose last name is gone.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;
using Scenario = std::function<void(PosixRecorder&)>;

std::string Times(const struct stat& st) {
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
}

class LowLevelPosixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!FuseAvailable()) return;
    kmsd_ = KmsdProcess::Start({}).release();
    ASSERT_NE(kmsd_, nullptr);
    MountedVolume::Options o;
    o.kmsd = kmsd_;
    o.init_args = {"--plaintext-names"};
    volume_ = MountedVolume::Start(o).release();
    ASSERT_NE(volume_, nullptr);
  }
  static void TearDownTestSuite() {
    delete volume_;
    volume_ = nullptr;
    delete kmsd_;
    kmsd_ = nullptr;
  }
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    ASSERT_NE(volume_, nullptr);
  }

  // Runs `scenario` in a fresh subdirectory of the mount and of a plain
  // directory and compares the two logs.
  void ExpectSameAsPlainDirectory(const Scenario& scenario) {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const std::string mount_dir = volume_->Path(name);
    const std::string plain_dir = plain_.Join(name);
    ASSERT_EQ(mkdir(mount_dir.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(plain_dir.c_str(), 0755), 0);
    PosixRecorder in_mount(mount_dir), in_plain(plain_dir);
    scenario(in_mount);
    scenario(in_plain);
    EXPECT_EQ(in_mount.log(), in_plain.log()) << "kmsfs log:\n" << volume_->ReadLog();
  }

  static KmsdProcess* kmsd_;
  static MountedVolume* volume_;
  TempDir plain_;
};

KmsdProcess* LowLevelPosixTest::kmsd_ = nullptr;
MountedVolume* LowLevelPosixTest::volume_ = nullptr;

// What the names of one file show, recorded as facts that hold on any
// filesystem: the same inode number, times and attributes through each.
void RecordNames(PosixRecorder& r, const std::string& what, const std::vector<std::string>& names) {
  std::vector<struct stat> st(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    r.Stat(names[i]);
    if (stat(r.P(names[i]).c_str(), &st[i]) != 0) return;
    r.ReadAll(names[i]);
  }
  bool same_ino = true, same_times = true;
  for (size_t i = 1; i < names.size(); ++i) {
    same_ino = same_ino && st[i].st_ino == st[0].st_ino && st[i].st_dev == st[0].st_dev;
    same_times = same_times && Times(st[i]) == Times(st[0]);
  }
  r.Note(what + ": one st_ino " + std::to_string(same_ino) + ", one set of times " + std::to_string(same_times));
}

// lseek(SEEK_DATA / SEEK_HOLE) at `offset`, recorded as what any correct
// filesystem answers, whatever the granularity of its holes: SEEK_DATA
// fails with ENXIO only when nothing but zeros follows, and skips only
// zeros; SEEK_HOLE lands at or after `offset`, at a zero byte or at the end,
// and skips no byte that reads as a hole would not allow (data it reports
// may read as zeros: a filesystem may report a hole as data). The bytes are
// checked with pread on the same descriptor.
void RecordSeek(PosixRecorder& r, int fd, off_t offset, int whence) {
  const std::string what = std::string(whence == SEEK_DATA ? "SEEK_DATA " : "SEEK_HOLE ") + std::to_string(offset);
  struct stat st;
  if (fstat(fd, &st) != 0) return (void)r.Rec(what + " fstat", -1);
  auto zeros = [&](off_t from, off_t to) {
    std::string buf(1 << 16, '\0');
    for (off_t at = from; at < to;) {
      const ssize_t n = pread(fd, buf.data(), static_cast<size_t>(std::min<off_t>(to - at, buf.size())), at);
      if (n <= 0) return false;
      if (buf.find_first_not_of('\0', 0) < static_cast<size_t>(n)) return false;
      at += n;
    }
    return true;
  };
  const off_t got = lseek(fd, offset, whence);
  if (got < 0) {
    const int err = errno;
    r.Note(what + " -> " + std::strerror(err) + (err == ENXIO ? ", only zeros follow " +
                                                                    std::to_string(zeros(offset, st.st_size))
                                                              : ""));
    return;
  }
  if (whence == SEEK_DATA) {
    r.Note(what + " -> found, not before the offset " + std::to_string(got >= offset) + ", skips only zeros " +
           std::to_string(zeros(offset, got)) + ", inside the file " + std::to_string(got < st.st_size));
  } else {
    char c = 1;
    const bool at_zero_or_end = got == st.st_size || (pread(fd, &c, 1, got) == 1 && c == 0);
    r.Note(what + " -> found, not before the offset " + std::to_string(got >= offset) + ", at a zero or the end " +
           std::to_string(at_zero_or_end) + ", not past the end " + std::to_string(got <= st.st_size));
  }
}

TEST_F(LowLevelPosixTest, HardLinksShowOneInodeThroughEveryNameBeforeAndAfterAnUnlink) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    r.Rec("mkdir a", mkdir(r.P("a").c_str(), 0755));
    r.Rec("mkdir b", mkdir(r.P("b").c_str(), 0755));
    int fd = r.Open("a/f", O_CREAT | O_RDWR, 0644);
    r.Write(fd, "first", Pattern(5000, 1));
    r.Rec("link a/f b/g", link(r.P("a/f").c_str(), r.P("b/g").c_str()));
    r.Rec("link b/g h", link(r.P("b/g").c_str(), r.P("h").c_str()));
    const std::vector<std::string> all = {"a/f", "b/g", "h"};
    RecordNames(r, "after links", all);
    // A change through one name shows through the others (each stat'd just
    // before, so their attributes are cached).
    r.Pwrite(fd, "through f", Pattern(3000, 2), 4000);
    RecordNames(r, "after write through a/f", all);
    r.Rec("truncate b/g", truncate(r.P("b/g").c_str(), 6000));
    RecordNames(r, "after truncate through b/g", all);
    r.Rec("chmod h", chmod(r.P("h").c_str(), 0600));
    struct timespec t[2] = {{1000000000, 0}, {1200000000, 500}};
    r.Rec("utimens b/g", utimensat(AT_FDCWD, r.P("b/g").c_str(), t, 0));
    RecordNames(r, "after chmod and utimens", all);
    r.Fstat(fd);

    r.Rec("unlink a/f", unlink(r.P("a/f").c_str()));
    r.Stat("a/f");
    RecordNames(r, "after unlink of a/f", {"b/g", "h"});
    r.Fstat(fd);
    r.Pwrite(fd, "through the open a/f", "after the unlink", 10);
    int fd2 = r.Open("h", O_WRONLY | O_APPEND);
    r.Write(fd2, "append through h", "tail");
    r.Close(fd2);
    RecordNames(r, "after writes through the unlinked name and h", {"b/g", "h"});
    r.Rec("rename h over b/g", rename(r.P("h").c_str(), r.P("b/g").c_str()));
    RecordNames(r, "after renaming one link over the other", {"b/g", "h"});
    r.Rec("unlink b/g", unlink(r.P("b/g").c_str()));
    r.Stat("h");
    r.Fstat(fd);
    r.Pread(fd, 20000, 0);
    r.Close(fd);
    r.List("a");
    r.List("b");
    r.List(".");
  });
}

// A path of exactly PATH_MAX - 1 bytes (4095) from the mount point's own
// prefix, made of 255-byte components and one shorter last component.
TEST_F(LowLevelPosixTest, EveryOperationWorksOnAPathOfPathMaxMinusOneBytes) {
  const std::string base = volume_->Path("pathmax");
  ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
  std::string dir = base;
  std::vector<std::string> dirs;
  // Leave room for "/" and a last component of at least 100 bytes.
  while (PATH_MAX - 1 - static_cast<int>(dir.size()) > 256 + 101) {
    dir += "/" + std::string(NAME_MAX, static_cast<char>('a' + dirs.size() % 26));
    dirs.push_back(dir);
  }
  for (const std::string& d : dirs) ASSERT_EQ(mkdir(d.c_str(), 0755), 0) << d.size();
  const size_t last = PATH_MAX - 1 - dir.size() - 1;
  ASSERT_LE(last, static_cast<size_t>(NAME_MAX));
  auto name = [&](char c) { return dir + "/" + std::string(last - 1, 'z') + c; };
  const std::string f = name('f');
  ASSERT_EQ(f.size(), static_cast<size_t>(PATH_MAX - 1));
  ASSERT_EQ(name('x').size(), f.size());

  // create, write, read
  int fd = open(f.c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string data = Pattern(10000, 9);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(f), data);
  // stat, chmod, chown, utimens, truncate
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 10000);
  EXPECT_EQ(chmod(f.c_str(), 0640), 0);
  EXPECT_EQ(chown(f.c_str(), 65534, 65534), 0) << std::strerror(errno);
  EXPECT_EQ(truncate(f.c_str(), 4097), 0);
  struct timespec t[2] = {{1000000000, 0}, {1100000000, 0}};
  EXPECT_EQ(utimensat(AT_FDCWD, f.c_str(), t, 0), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1100000000);
  EXPECT_EQ(st.st_size, 4097);
  EXPECT_EQ(ReadFile(f), data.substr(0, 4097));
  // xattrs
  EXPECT_EQ(setxattr(f.c_str(), "user.long", "v", 1, 0), 0);
  char buf[256];
  EXPECT_EQ(getxattr(f.c_str(), "user.long", buf, sizeof buf), 1);
  EXPECT_GT(listxattr(f.c_str(), buf, sizeof buf), 0);
  EXPECT_EQ(removexattr(f.c_str(), "user.long"), 0);
  // link, rename, symlink, readlink
  EXPECT_EQ(link(f.c_str(), name('l').c_str()), 0);
  ASSERT_EQ(stat(name('l').c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(rename(name('l').c_str(), name('r').c_str()), 0);
  EXPECT_EQ(symlink(f.c_str(), name('s').c_str()), 0);
  char target[PATH_MAX];
  EXPECT_EQ(readlink(name('s').c_str(), target, sizeof target), static_cast<ssize_t>(f.size()));
  EXPECT_EQ(ReadFile(name('s')), data.substr(0, 4097)) << "the symlink leads back into the mount";
  // mkdir, readdir, rmdir
  EXPECT_EQ(mkdir(name('d').c_str(), 0755), 0);
  std::vector<std::string> listed;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) listed.push_back(e->d_name);
  closedir(d);
  std::sort(listed.begin(), listed.end());
  const std::string stem(last - 1, 'z');
  EXPECT_EQ(listed, (std::vector<std::string>{".", "..", stem + "d", stem + "f", stem + "r", stem + "s"}));
  EXPECT_EQ(rmdir(name('d').c_str()), 0);
  // unlink, and one byte more is the kernel's ENAMETOOLONG
  EXPECT_EQ(unlink(name('s').c_str()), 0);
  EXPECT_EQ(unlink(name('r').c_str()), 0);
  EXPECT_EQ(unlink(f.c_str()), 0);
  EXPECT_EQ(open((f + "g").c_str(), O_CREAT | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  // What reached the backing directory: the same names.
  EXPECT_TRUE(stdfs::is_directory(volume_->BackingPath(dirs.back().substr(volume_->mountpoint().size() + 1))));
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) EXPECT_EQ(rmdir(it->c_str()), 0);
}

TEST_F(LowLevelPosixTest, AnOpenFileOutlivesItsLastName) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("f", O_CREAT | O_RDWR, 0644);
    r.Pwrite(fd, "head", Pattern(5000, 4), 0);
    // A hole of several blocks, then data again.
    r.Pwrite(fd, "after the hole", Pattern(3000, 5), 1 << 20);
    int other = r.Open("f", O_RDONLY);
    r.Rec("unlink f", unlink(r.P("f").c_str()));
    r.Stat("f");
    r.Fstat(fd);
    r.Pread(fd, 5000, 0);
    r.Pread(fd, 8192, 65536);
    r.Pread(fd, 4000, (1 << 20) - 1000);
    RecordSeek(r, fd, 0, SEEK_DATA);
    RecordSeek(r, fd, 0, SEEK_HOLE);
    RecordSeek(r, fd, 300000, SEEK_DATA);
    RecordSeek(r, fd, 1 << 20, SEEK_HOLE);
    RecordSeek(r, fd, 2 << 20, SEEK_DATA);
    r.Rec("SEEK_END", lseek(fd, 0, SEEK_END));
    r.Pwrite(fd, "write after unlink", Pattern(10000, 6), 2000);
    r.Rec("ftruncate grow", ftruncate(fd, 3 << 20));
    r.Fstat(fd);
    RecordSeek(r, fd, (1 << 20) + 3000, SEEK_HOLE);
    RecordSeek(r, fd, (1 << 20) + 3000, SEEK_DATA);
    r.Pread(fd, 20000, 0);
    r.Pread(fd, 5000, (1 << 20) - 1000);
    r.Rec("ftruncate shrink", ftruncate(fd, 7000));
    r.Fstat(fd);
    r.Pread(fd, 10000, 0);
    r.Pread(other, 10000, 0);
    r.Fstat(other);
    r.Close(other);
    r.Pread(fd, 10000, 0);
    r.Close(fd);
    r.List(".");
  });
  // Nothing is left in the backing directory once the last handle is closed.
  ASSERT_TRUE(volume_->WaitForReleases());
  std::vector<std::string> left;
  for (const auto& e : stdfs::directory_iterator(volume_->BackingPath("AnOpenFileOutlivesItsLastName"))) {
    left.push_back(e.path().filename());
  }
  EXPECT_TRUE(left.empty()) << left.front();
}

// With the kernel's writeback cache, what was just written may still be in
// the kernel alone: lseek must count it (cp, tar and rsync skip what
// SEEK_DATA calls a hole), on a file without a sync since its writes.
void SparseWritesThenSeeks(PosixRecorder& r) {
  int fd = r.Open("f", O_CREAT | O_RDWR, 0644);
  r.Pwrite(fd, "head", Pattern(5000, 7), 0);
  r.Pwrite(fd, "tail", Pattern(3000, 8), 1 << 20);
  RecordSeek(r, fd, 0, SEEK_DATA);
  RecordSeek(r, fd, 6000, SEEK_DATA);
  RecordSeek(r, fd, 0, SEEK_HOLE);
  RecordSeek(r, fd, (1 << 20) + 10, SEEK_HOLE);
  RecordSeek(r, fd, 3 << 20, SEEK_HOLE);
  r.Close(fd);
  fd = r.Open("f", O_RDONLY);
  RecordSeek(r, fd, 0, SEEK_DATA);
  RecordSeek(r, fd, 6000, SEEK_DATA);
  RecordSeek(r, fd, 9000, SEEK_HOLE);
  r.Close(fd);
}

TEST_F(LowLevelPosixTest, SeekDataAndSeekHoleCountWritesTheKernelStillHolds) {
  ExpectSameAsPlainDirectory(SparseWritesThenSeeks);
}

// Without the writeback cache (--shared-storage) the daemon answers lseek
// itself, from the backing file's holes.
TEST_F(LowLevelPosixTest, SeekDataAndSeekHoleWithoutTheWritebackCacheFindTheBackingHoles) {
  MountedVolume::Options o;
  o.kmsd = kmsd_;
  o.mount_args = {"--shared-storage"};
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  PosixRecorder in_mount(v->mountpoint()), in_plain(plain_.path());
  SparseWritesThenSeeks(in_mount);
  SparseWritesThenSeeks(in_plain);
  EXPECT_EQ(in_mount.log(), in_plain.log());
  // A hole between the two writes is found (where exactly depends on how
  // the backing filesystem allocated the ciphertext).
  const int fd = open(v->Path("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  const off_t hole = lseek(fd, 0, SEEK_HOLE);
  EXPECT_GE(hole, 5000);
  EXPECT_LT(hole, 1 << 20);
  const off_t data = lseek(fd, hole, SEEK_DATA);
  EXPECT_GT(data, hole);
  EXPECT_LE(data, 1 << 20);
  close(fd);
}

TEST_F(LowLevelPosixTest, CpOfASparseFileJustWrittenCopiesEveryByte) {
  const std::string src = volume_->Path("cp-src");
  const std::string data = Pattern(5000, 11);
  const int fd = open(src.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 1 << 20), static_cast<ssize_t>(data.size()));
  std::string expected(static_cast<size_t>(1 << 20) + data.size(), '\0');
  expected.replace(0, data.size(), data);
  expected.replace(1 << 20, data.size(), data);
  // Copied while the writer still holds it open, as a backup may.
  for (const std::string& dst : {plain_.Join("copy"), volume_->Path("cp-dst")}) {
    CommandResult r = RunCommand({"/bin/cp", "--sparse=always", src, dst});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(ReadFile(dst) == expected) << dst << ": the copy lost data";
  }
  close(fd);
}

}  // namespace
}  // namespace kmsfs::testing
