// POSIX behaviour suite: every scenario runs once inside a kmsfs mount and
// once in a plain directory; the recorded results and errnos must match. Each
// runs on a volume of either header mode: xattr headers, and inline headers
// (whose directories hold their name values in files, so empty directories
// are not empty to the backing filesystem).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

using Scenario = std::function<void(PosixRecorder&)>;

// The parameter is the volume's header mode (`kmsfs init --header`).
class MountPosixTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void TearDownTestSuite() {
    for (auto& [mode, volume] : volumes_) delete volume;
    volumes_.clear();
    delete kmsd_;
    kmsd_ = nullptr;
  }
  // One kmsd and one volume per header mode, made when a test first needs them.
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    if (kmsd_ == nullptr) kmsd_ = KmsdProcess::Start({}).release();
    ASSERT_NE(kmsd_, nullptr);
    MountedVolume*& volume = volumes_[GetParam()];
    if (volume == nullptr) {
      MountedVolume::Options o;
      o.kmsd = kmsd_;
      o.init_args = {"--header", GetParam()};
      volume = MountedVolume::Start(o).release();
    }
    ASSERT_NE(volume, nullptr);
    volume_ = volume;
  }

  // Runs `scenario` in a fresh subdirectory of the mount and of a plain
  // directory and compares the two logs.
  void ExpectSameAsPlainDirectory(const Scenario& scenario) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');  // "Scenario/mode" is one directory
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
  static std::map<std::string, MountedVolume*> volumes_;
  MountedVolume* volume_ = nullptr;
  TempDir plain_;
};

KmsdProcess* MountPosixTest::kmsd_ = nullptr;
std::map<std::string, MountedVolume*> MountPosixTest::volumes_;

TEST_P(MountPosixTest, WritesAndReadsAtEveryOffsetAndSize) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("f", O_CREAT | O_RDWR, 0644);
    // Sizes and offsets around the 4 KiB block boundary, including partial
    // blocks at both ends of a write (read-modify-write).
    const std::vector<size_t> sizes = {1, 100, 4095, 4096, 4097, 8191, 12288, 70000};
    const std::vector<off_t> offsets = {0, 1, 4095, 4096, 4097, 10000, 65536};
    uint32_t seed = 1;
    for (off_t off : offsets) {
      for (size_t n : sizes) r.Pwrite(fd, std::to_string(n), Pattern(n, seed++), off);
    }
    for (off_t off : offsets) {
      for (size_t n : sizes) r.Pread(fd, n, off);
    }
    r.Fstat(fd);
    r.Close(fd);
    r.ReadAll("f");
    r.Stat("f");
  });
}

TEST_P(MountPosixTest, AppendTruncateAndSparseFiles) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("a", O_CREAT | O_WRONLY | O_APPEND, 0600);
    for (int i = 0; i < 20; ++i) r.Write(fd, "append" + std::to_string(i), Pattern(777 * i + 1, i));
    r.Close(fd);
    r.Stat("a");
    r.ReadAll("a");
    // O_TRUNC empties an existing file.
    fd = r.Open("a", O_WRONLY | O_TRUNC);
    r.Fstat(fd);
    r.Write(fd, "after-trunc", Pattern(5000, 9));
    r.Close(fd);
    r.ReadAll("a");
    // truncate/ftruncate: grow reads back zeros, shrink keeps the prefix.
    r.Rec("truncate grow", truncate(r.P("a").c_str(), 20000));
    r.ReadAll("a");
    r.Rec("truncate shrink mid-block", truncate(r.P("a").c_str(), 4500));
    r.ReadAll("a");
    r.Rec("truncate shrink to boundary", truncate(r.P("a").c_str(), 4096));
    r.ReadAll("a");
    fd = r.Open("a", O_RDWR);
    r.Rec("ftruncate 1", ftruncate(fd, 1));
    r.Rec("ftruncate 100000", ftruncate(fd, 100000));
    r.Pread(fd, 200000, 0);
    r.Rec("ftruncate 0", ftruncate(fd, 0));
    r.Fstat(fd);
    r.Close(fd);
    // Writes far past the end leave a hole that reads as zeros.
    fd = r.Open("sparse", O_CREAT | O_RDWR, 0644);
    r.Pwrite(fd, "head", "head", 0);
    r.Pwrite(fd, "far", Pattern(3000, 3), 10 * 1024 * 1024 + 123);
    r.Fstat(fd);
    r.Pread(fd, 8192, 5 * 1024 * 1024);
    r.Pread(fd, 8192, 10 * 1024 * 1024);
    r.Pwrite(fd, "middle", Pattern(10, 4), 3 * 1024 * 1024);
    r.Close(fd);
    r.ReadAll("sparse");
  });
}

TEST_P(MountPosixTest, NamespaceOperations) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    r.Rec("mkdir d", mkdir(r.P("d").c_str(), 0750));
    r.Rec("mkdir d again", mkdir(r.P("d").c_str(), 0750));
    r.Rec("mkdir d/e", mkdir(r.P("d/e").c_str(), 0700));
    int fd = r.Open("d/x", O_CREAT | O_EXCL | O_WRONLY, 0640);
    r.Write(fd, "x", "contents of x");
    r.Close(fd);
    r.Open("d/x", O_CREAT | O_EXCL | O_WRONLY, 0640);  // EEXIST
    fd = r.Open("d/y", O_CREAT | O_WRONLY, 0600);
    r.Write(fd, "y", "contents of y, longer");
    r.Close(fd);
    r.Open("missing", O_RDONLY);  // ENOENT
    r.Rec("rmdir non-empty", rmdir(r.P("d").c_str()));
    r.Rec("unlink dir", unlink(r.P("d/e").c_str()));
    r.Rec("rename x->z", rename(r.P("d/x").c_str(), r.P("d/z").c_str()));
    r.Rec("rename z over y", rename(r.P("d/z").c_str(), r.P("d/y").c_str()));
    r.ReadAll("d/y");
    fd = r.Open("d/w", O_CREAT | O_WRONLY, 0600);
    r.Write(fd, "w", "www");
    r.Close(fd);
    r.Rec("renameat2 noreplace", renameat2(AT_FDCWD, r.P("d/w").c_str(), AT_FDCWD, r.P("d/y").c_str(), RENAME_NOREPLACE));
    r.Rec("renameat2 exchange", renameat2(AT_FDCWD, r.P("d/w").c_str(), AT_FDCWD, r.P("d/y").c_str(), RENAME_EXCHANGE));
    r.ReadAll("d/w");
    r.ReadAll("d/y");
    r.Rec("rename dir", rename(r.P("d/e").c_str(), r.P("e2").c_str()));
    r.Rec("link", link(r.P("d/y").c_str(), r.P("hard").c_str()));
    r.Stat("hard");
    r.Stat("d/y");
    fd = r.Open("hard", O_WRONLY | O_APPEND);
    r.Write(fd, "via hardlink", "+appended through the other name");
    r.Close(fd);
    r.ReadAll("d/y");
    r.Rec("symlink", symlink("d/y", r.P("sym").c_str()));
    char buf[256] = {};
    r.Rec("readlink", readlink(r.P("sym").c_str(), buf, sizeof buf));
    r.Note(std::string("target ") + buf);
    r.ReadAll("sym");
    r.Stat("sym");
    r.Rec("mkfifo", mkfifo(r.P("fifo").c_str(), 0620));
    r.Stat("fifo");
    r.Rec("mknod regular", mknod(r.P("node").c_str(), S_IFREG | 0604, 0));
    r.Stat("node");
    r.List(".");
    r.List("d");
    r.Rec("unlink y", unlink(r.P("d/y").c_str()));
    r.Stat("hard");
    r.Rec("unlink missing", unlink(r.P("d/nothing").c_str()));
    r.Rec("rmdir e2", rmdir(r.P("e2").c_str()));
    r.List(".");
  });
}

TEST_P(MountPosixTest, ModesOwnersTimesAndXattrs) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("f", O_CREAT | O_WRONLY, 0666);
    r.Write(fd, "data", "some data");
    r.Close(fd);
    for (mode_t m : {0000, 0400, 0755, 04755, 02711, 01777}) {
      r.Rec("chmod " + std::to_string(m), chmod(r.P("f").c_str(), m));
      r.Stat("f");
    }
    r.Rec("chown 1234:5678", chown(r.P("f").c_str(), 1234, 5678));
    r.Stat("f");
    r.Rec("mkdir d", mkdir(r.P("d").c_str(), 0777));
    r.Rec("chown dir", chown(r.P("d").c_str(), 42, 43));
    r.Rec("symlink", symlink("f", r.P("l").c_str()));
    r.Rec("lchown", lchown(r.P("l").c_str(), 7, 8));
    r.Stat("l");
    struct timespec times[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
    r.Rec("utimensat", utimensat(AT_FDCWD, r.P("f").c_str(), times, 0));
    r.Stat("f", true);
    r.Rec("utimensat nofollow", utimensat(AT_FDCWD, r.P("l").c_str(), times, AT_SYMLINK_NOFOLLOW));
    r.Stat("l", true);
    r.Rec("setxattr", setxattr(r.P("f").c_str(), "user.color", "blue", 4, 0));
    r.Rec("setxattr create existing", setxattr(r.P("f").c_str(), "user.color", "red", 3, XATTR_CREATE));
    char buf[64] = {};
    r.Rec("getxattr", getxattr(r.P("f").c_str(), "user.color", buf, sizeof buf));
    r.Note(std::string("value ") + buf);
    r.Rec("getxattr missing", getxattr(r.P("f").c_str(), "user.nothing", buf, sizeof buf));
    char list[256] = {};
    ssize_t n = listxattr(r.P("f").c_str(), list, sizeof list);
    r.Rec("listxattr", n);
    r.Note("names " + std::string(list, n > 0 ? static_cast<size_t>(n) : 0));
    r.Rec("removexattr", removexattr(r.P("f").c_str(), "user.color"));
    r.Rec("removexattr again", removexattr(r.P("f").c_str(), "user.color"));
    r.Rec("setxattr dir", setxattr(r.P("d").c_str(), "user.tag", "t", 1, 0));
  });
}

TEST_P(MountPosixTest, SyncAllocateMmapAndManyHandles) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("f", O_CREAT | O_RDWR, 0644);
    r.Pwrite(fd, "base", Pattern(10000, 1), 0);
    r.Rec("fsync", fsync(fd));
    r.Rec("fdatasync", fdatasync(fd));
    r.Rec("fallocate grow", fallocate(fd, 0, 9000, 30000));
    r.Fstat(fd);
    r.Pread(fd, 50000, 0);
    r.Rec("fallocate inside", fallocate(fd, 0, 0, 100));
    r.Fstat(fd);
    // mmap: write through a shared mapping, msync, read back with read().
    void* map = mmap(nullptr, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    r.Rec("mmap", map == MAP_FAILED ? -1 : 0);
    if (map != MAP_FAILED) {
      std::string p = Pattern(5000, 77);
      std::memcpy(static_cast<char*>(map) + 3000, p.data(), p.size());
      r.Rec("msync", msync(map, 16384, MS_SYNC));
      r.Note("mapped hash " + std::to_string(Fnv1a(map, 16384)));
      munmap(map, 16384);
    }
    r.Pread(fd, 16384, 0);
    // Many handles on one file see each other's writes.
    std::vector<int> fds;
    for (int i = 0; i < 8; ++i) fds.push_back(r.Open("f", O_RDWR));
    for (int i = 0; i < 8; ++i) r.Pwrite(fds[i], "h" + std::to_string(i), Pattern(3000, 100 + i), 2500 * i);
    for (int i = 0; i < 8; ++i) r.Pread(fds[(i + 3) % 8], 4000, 2500 * i);
    for (int h : fds) r.Close(h);
    r.Close(fd);
    r.ReadAll("f");
  });
}

TEST_P(MountPosixTest, ModesAreExactlyAsAskedWhateverTheDaemonsUmask) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    const mode_t old = umask(0);
    for (mode_t m : {0777, 0666, 0750, 02775, 0600}) {
      const std::string n = std::to_string(m);
      r.Rec("mkdir " + n, mkdir(r.P("d" + n).c_str(), m));
      r.Stat("d" + n);
      int fd = r.Open("f" + n, O_CREAT | O_WRONLY, m);
      r.Close(fd);
      r.Stat("f" + n);
      r.Rec("mkfifo " + n, mkfifo(r.P("p" + n).c_str(), m & 0777));
      r.Stat("p" + n);
    }
    umask(old);
  });
}

TEST_P(MountPosixTest, LongNamesAndDeepPaths) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    const std::string longname(255, 'n');
    int fd = r.Open(longname, O_CREAT | O_WRONLY, 0644);
    r.Write(fd, "long", "x");
    r.Close(fd);
    r.Open(std::string(256, 'n'), O_CREAT | O_WRONLY, 0644);  // ENAMETOOLONG
    std::string path;
    for (int depth = 0; depth < 40; ++depth) {
      path += (path.empty() ? "" : "/") + std::string("level") + std::to_string(depth);
      r.Rec("mkdir depth " + std::to_string(depth), mkdir(r.P(path).c_str(), 0755));
    }
    fd = r.Open(path + "/leaf", O_CREAT | O_WRONLY, 0644);
    r.Write(fd, "leaf", Pattern(9000, 5));
    r.Close(fd);
    r.ReadAll(path + "/leaf");
    r.List(".");
  });
}

TEST_P(MountPosixTest, ErrorsMatchPlainDirectory) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    r.Rec("mkdir d", mkdir(r.P("d").c_str(), 0755));
    int fd = r.Open("d", O_RDONLY | O_DIRECTORY);
    char c;
    r.Rec("read dir", read(fd, &c, 1));
    r.Close(fd);
    r.Open("d", O_WRONLY);                          // EISDIR
    r.Open("d/missing/file", O_CREAT | O_WRONLY);   // ENOENT
    r.Rec("rmdir missing", rmdir(r.P("nothing").c_str()));
    r.Rec("link to missing", link(r.P("nothing").c_str(), r.P("x").c_str()));
    r.Rec("rename missing", rename(r.P("nothing").c_str(), r.P("x").c_str()));
    fd = r.Open("f", O_CREAT | O_WRONLY, 0644);
    r.Close(fd);
    r.Rec("mkdir over file", mkdir(r.P("f").c_str(), 0755));
    r.Rec("rename dir over file", rename(r.P("d").c_str(), r.P("f").c_str()));
    r.Open("f/sub", O_CREAT | O_WRONLY);            // ENOTDIR
    fd = r.Open("f", O_RDONLY);
    r.Rec("write to read-only fd", write(fd, "x", 1));
    r.Close(fd);
    r.Rec("readlink on file", readlink(r.P("f").c_str(), &c, 1));
  });
}

TEST_P(MountPosixTest, ConcurrentWritersToDifferentAndSameBlocks) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    int fd = r.Open("f", O_CREAT | O_RDWR, 0644);
    r.Rec("ftruncate", ftruncate(fd, 8 * 65536));
    // 8 threads each own a 64 KiB region, written in 1000-byte pieces that
    // straddle block boundaries; regions meet inside blocks, so neighbours
    // share blocks and lost updates would show.
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([fd, t] {
        const std::string p = Pattern(65536, 1000 + t);
        for (size_t off = 0; off < p.size(); off += 1000) {
          size_t n = std::min<size_t>(1000, p.size() - off);
          if (pwrite(fd, p.data() + off, n, static_cast<off_t>(t * 65536 + off)) != static_cast<ssize_t>(n)) abort();
        }
      });
    }
    for (auto& th : threads) th.join();
    r.Close(fd);
    r.ReadAll("f");
  });
}

TEST_P(MountPosixTest, StatfsAnswers) {
  KMSFS_REQUIRE_FUSE();
  struct statvfs sv;
  ASSERT_EQ(statvfs(volume_->mountpoint().c_str(), &sv), 0);
  EXPECT_GT(sv.f_blocks, 0u);
}

TEST_P(MountPosixTest, InodeNumbersAreStableAcrossLookups) {
  const std::string dir = volume_->Path("stable");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(close(open((dir + "/f").c_str(), O_CREAT | O_WRONLY, 0644)), 0);
  struct stat a, b, backing;
  ASSERT_EQ(stat((dir + "/f").c_str(), &a), 0);
  // Drop the kernel's cached entries so the second lookup is a fresh one.
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd >= 0) {
    (void)!write(fd, "2", 1);
    close(fd);
  }
  ASSERT_EQ(stat((dir + "/f").c_str(), &b), 0);
  ASSERT_EQ(stat(volume_->BackingPath("stable/f").c_str(), &backing), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, backing.st_ino);
}

TEST_P(MountPosixTest, EmptyDirectoriesAreRemovedAndReplacedAsOnAPlainDirectory) {
  ExpectSameAsPlainDirectory([](PosixRecorder& r) {
    for (const char* d : {"a", "b", "c", "full", "x", "y"}) r.Rec(std::string("mkdir ") + d, mkdir(r.P(d).c_str(), 0755));
    int fd = r.Open("full/f", O_CREAT | O_WRONLY, 0644);
    r.Write(fd, "f", "in full");
    r.Close(fd);
    fd = r.Open("file", O_CREAT | O_WRONLY, 0644);
    r.Close(fd);
    r.Rec("symlink to a dir", symlink("b", r.P("link").c_str()));
    r.Rec("rmdir empty", rmdir(r.P("a").c_str()));
    r.Rec("rmdir again", rmdir(r.P("a").c_str()));
    r.Rec("rmdir non-empty", rmdir(r.P("full").c_str()));
    r.Rec("rmdir a file", rmdir(r.P("file").c_str()));
    r.Rec("rmdir a symlink", rmdir(r.P("link").c_str()));
    r.Rec("rename dir over empty dir", rename(r.P("b").c_str(), r.P("c").c_str()));
    r.Rec("rename dir over non-empty dir", rename(r.P("c").c_str(), r.P("full").c_str()));
    r.Rec("rename non-empty dir over empty dir", rename(r.P("full").c_str(), r.P("x").c_str()));
    r.ReadAll("x/f");
    r.Rec("rename file over empty dir", rename(r.P("file").c_str(), r.P("y").c_str()));
    r.Rec("rename empty dir over file", rename(r.P("y").c_str(), r.P("file").c_str()));
    r.Rec("rename dir onto itself", rename(r.P("y").c_str(), r.P("y").c_str()));
    r.Rec("renameat2 noreplace over empty dir",
          renameat2(AT_FDCWD, r.P("c").c_str(), AT_FDCWD, r.P("y").c_str(), RENAME_NOREPLACE));
    r.Rec("renameat2 exchange dirs", renameat2(AT_FDCWD, r.P("c").c_str(), AT_FDCWD, r.P("x").c_str(), RENAME_EXCHANGE));
    r.List("c");
    r.List("x");
    r.Rec("mkdir in replaced", mkdir(r.P("y/sub").c_str(), 0700));
    r.Rec("rmdir sub", rmdir(r.P("y/sub").c_str()));
    r.Rec("rmdir y", rmdir(r.P("y").c_str()));
    r.Rec("rmdir x (now empty)", rmdir(r.P("x").c_str()));
    r.List(".");
  });
}

INSTANTIATE_TEST_SUITE_P(HeaderModes, MountPosixTest, ::testing::Values("xattr", "inline"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace kmsfs::testing
