// A full backing filesystem, through a real mount: the backing directory
// lives on a small tmpfs the test mounts and then fills. Every way a file
// grows (a write past its partial last block, a write that grows that block,
// an append, truncate up, fallocate) must fail with ENOSPC (at write, or
// with the kernel's writeback cache at fsync/close) and must leave the
// backing file byte for byte as it was; once space is freed the file reads
// back exactly as before, and the same change then succeeds.
//
// Sizes: the file holds 8096 bytes, so its backing file (8152 or 8176 bytes)
// fills two 4 KiB pages of the tmpfs, and any growth of its partial last
// block needs a third page. The disk is filled to the last page.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

constexpr size_t kOriginalSize = 8096;

// A tmpfs of `size` mounted at `dir`, detached however the test ends.
class SmallTmpfs {
 public:
  SmallTmpfs(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    mkdir(dir_.c_str(), 0755);
    ok_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    if (!ok_) error_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (ok_) umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  // Fills every free page with a file outside the backing directory.
  // Returns the bytes free afterwards (0 when full).
  uint64_t Fill() {
    const std::string filler = dir_ + "/filler";
    int fd = open(filler.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return UINT64_MAX;
    const std::string chunk(64 * 1024, 'f');
    for (size_t step : {chunk.size(), size_t{4096}, size_t{1}}) {
      while (write(fd, chunk.data(), step) > 0) {
      }
    }
    close(fd);
    return FreeBytes();
  }
  void FreeFiller() { unlink((dir_ + "/filler").c_str()); }
  uint64_t FreeBytes() const {
    struct statvfs st;
    if (statvfs(dir_.c_str(), &st) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

 private:
  std::string dir_;
  bool ok_ = false;
  std::string error_;
};

// Opens `path` with `flags`, runs `body` on the fd, then fsync and close;
// returns the first errno any of them reported (0 if none did).
int RunOnFile(const std::string& path, int flags, const std::function<int(int)>& body) {
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = body(fd);
  if (fsync(fd) != 0 && err == 0) err = errno;
  if (close(fd) != 0 && err == 0) err = errno;
  return err;
}

int PwriteAllOf(int fd, const std::string& data, off_t off) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, off + static_cast<off_t>(done));
    if (n < 0) return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// One way of growing a file: `run` does it to the file at a path and returns
// the first errno (0 on success); `apply` is its effect on the content.
struct Growth {
  std::function<int(const std::string&)> run;
  std::function<void(std::string*)> apply;
};

// Mount modes: the kernel's writeback cache (errors at fsync/close), and
// --shared-storage, which turns it off (errors at the call itself).
class EnospcTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    tmpfs_ = std::make_unique<SmallTmpfs>(dir_.Join("small"), "2m");
    ASSERT_TRUE(tmpfs_->ok()) << "cannot mount a tmpfs: " << tmpfs_->error();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    const auto env = KmsEnv(*kmsd_, DefaultTestUsers()[0]);
    CommandResult key = RunKmsfs({"key", "create"}, env);
    ASSERT_EQ(key.exit_code, 0) << key.err;
    const std::string backing = tmpfs_->dir() + "/backing";
    CommandResult init = RunKmsfs({"init", backing, "--key", TrimTrailing(key.out)}, env);
    ASSERT_EQ(init.exit_code, 0) << init.err;
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.key_id = TrimTrailing(key.out);
    o.backing_dir = backing;
    if (!GetParam()) o.mount_args = {"--shared-storage"};
    v_ = MountedVolume::Start(o);
    ASSERT_NE(v_, nullptr);
  }
  void TearDown() override {
    // The mount goes before the tmpfs under it.
    v_.reset();
    tmpfs_.reset();
  }

  // The backing file of `rel` (names are encrypted: found by inode number).
  std::string BackingFileOf(const std::string& rel) {
    struct stat st;
    if (stat(v_->Path(rel).c_str(), &st) != 0) return "";
    for (const auto& e : std::filesystem::recursive_directory_iterator(v_->backing_dir())) {
      struct stat b;
      if (lstat(e.path().c_str(), &b) == 0 && S_ISREG(b.st_mode) && b.st_ino == st.st_ino) return e.path();
    }
    return "";
  }

  // The whole check for one growth path.
  void ExpectFullDiskKeepsFile(const Growth& growth) {
    const std::string path = v_->Path("f");
    const std::string original = Pattern(kOriginalSize, 1);
    ASSERT_EQ(RunOnFile(path, O_CREAT | O_WRONLY, [&](int fd) { return PwriteAllOf(fd, original, 0); }), 0);
    const std::string backing_path = BackingFileOf("f");
    ASSERT_FALSE(backing_path.empty());
    const std::string backing_before = ReadFileOrDie(backing_path);
    ASSERT_LE(backing_before.size(), 8192u);

    ASSERT_EQ(tmpfs_->Fill(), 0u) << "the tmpfs still has room";
    const int err = growth.run(path);
    EXPECT_EQ(err, ENOSPC) << "the growth reported " << (err == 0 ? "success" : std::strerror(err));
    EXPECT_TRUE(ReadFileOrDie(backing_path) == backing_before) << "the backing file changed";

    // A fresh mount: under the writeback cache the kernel still holds the
    // pages it failed to write back, and its own idea of the size.
    ASSERT_TRUE(v_->Unmount());
    tmpfs_->FreeFiller();
    ASSERT_EQ(v_->Mount().exit_code, 0) << v_->ReadLog();
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), original.size());
    int read_err = 0;
    EXPECT_TRUE(ReadFile(path, &read_err) == original) << "errno " << read_err;

    // With room again, the same change goes through.
    ASSERT_EQ(growth.run(path), 0);
    std::string want = original;
    growth.apply(&want);
    EXPECT_TRUE(ReadFile(path, &read_err) == want) << "errno " << read_err;
    ASSERT_TRUE(v_->Unmount());
    CommandResult fsck = RunKmsfs({"fsck", v_->backing_dir()}, v_->Env());
    EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  }

  TempDir dir_;
  std::unique_ptr<SmallTmpfs> tmpfs_;
  std::unique_ptr<KmsdProcess> kmsd_;
  std::unique_ptr<MountedVolume> v_;
};

Growth WriteAt(off_t off, size_t len) {
  const std::string data = Pattern(len, 2);
  return {[=](const std::string& p) { return RunOnFile(p, O_WRONLY, [&](int fd) { return PwriteAllOf(fd, data, off); }); },
          [=](std::string* s) {
            if (s->size() < off + data.size()) s->resize(off + data.size(), '\0');
            s->replace(off, data.size(), data);
          }};
}

TEST_P(EnospcTest, WritePastPartialLastBlockFailsAndKeepsTheFile) { ExpectFullDiskKeepsFile(WriteAt(20000, 3000)); }

TEST_P(EnospcTest, WriteGrowingPartialLastBlockFailsAndKeepsTheFile) {
  ExpectFullDiskKeepsFile(WriteAt(kOriginalSize - 50, 150));
}

TEST_P(EnospcTest, AppendFailsAndKeepsTheFile) {
  const std::string data = Pattern(100, 3);
  ExpectFullDiskKeepsFile({[=](const std::string& p) {
                             return RunOnFile(p, O_WRONLY | O_APPEND, [&](int fd) {
                               return write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) ? 0
                                                                                                               : errno;
                             });
                           },
                           [=](std::string* s) { *s += data; }});
}

Growth TruncateTo(off_t size) {
  return {[=](const std::string& p) {
            return RunOnFile(p, O_WRONLY, [&](int fd) { return ftruncate(fd, size) == 0 ? 0 : errno; });
          },
          [=](std::string* s) { s->resize(size, '\0'); }};
}

TEST_P(EnospcTest, TruncateUpFailsAndKeepsTheFile) { ExpectFullDiskKeepsFile(TruncateTo(20000)); }

TEST_P(EnospcTest, TruncateUpWithinLastBlockFailsAndKeepsTheFile) {
  ExpectFullDiskKeepsFile(TruncateTo(kOriginalSize + 54));
}

TEST_P(EnospcTest, FallocateFailsAndKeepsTheFile) {
  ExpectFullDiskKeepsFile({[](const std::string& p) {
                             return RunOnFile(p, O_WRONLY, [](int fd) { return fallocate(fd, 0, 0, 30000) == 0 ? 0 : errno; });
                           },
                           [](std::string* s) { s->resize(30000, '\0'); }});
}

INSTANTIATE_TEST_SUITE_P(CacheModes, EnospcTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "WritebackCache" : "SharedStorage";
                         });

}  // namespace
}  // namespace kmsfs::testing
