#include "fs/core/backing_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

class BackingFileTest : public ::testing::Test {
 protected:
  FdBackingFile Open(int flags = O_CREAT | O_RDWR) {
    int fd = open(path_.c_str(), flags | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    return FdBackingFile(UniqueFd(fd));
  }
  testing::TempDir dir_;
  std::string path_ = dir_.Join("f");
};

// Hands out at most `step` bytes per call, as a system call may.
class Trickle final : public BackingFile {
 public:
  Trickle(BackingFile& base, size_t step) : base_(base), step_(step) {}
  StatusOr<size_t> Pread(std::span<uint8_t> out, uint64_t offset) override {
    ++calls;
    return base_.Pread(out.first(std::min(out.size(), step_)), offset);
  }
  StatusOr<size_t> Pwrite(std::span<const uint8_t> data, uint64_t offset) override {
    ++calls;
    return base_.Pwrite(data.first(std::min(data.size(), step_)), offset);
  }
  Status Reserve(uint64_t offset, uint64_t length) override { return base_.Reserve(offset, length); }
  Status Truncate(uint64_t size) override { return base_.Truncate(size); }
  StatusOr<uint64_t> Size() override { return base_.Size(); }
  Status Sync(bool datasync) override { return base_.Sync(datasync); }
  int fd() const override { return base_.fd(); }
  int calls = 0;

 private:
  BackingFile& base_;
  size_t step_;
};

TEST_F(BackingFileTest, WritesReadsAndReportsSize) {
  FdBackingFile f = Open();
  ASSERT_TRUE(PwriteAll(f, AsBytes("hello world"), 3).ok());
  EXPECT_EQ(*f.Size(), 14u);
  std::string buf(20, '\0');
  auto n = PreadAll(f, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 14u);  // short at end of file, not an error
  EXPECT_EQ(buf.substr(0, 14), std::string(3, '\0') + "hello world");
  auto past = f.Pread({reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, 100);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(*past, 0u);
  EXPECT_TRUE(f.Sync(false).ok());
  EXPECT_TRUE(f.Sync(true).ok());
}

TEST_F(BackingFileTest, TruncateGrowsAndShrinks) {
  FdBackingFile f = Open();
  ASSERT_TRUE(PwriteAll(f, AsBytes("abcdef"), 0).ok());
  ASSERT_TRUE(f.Truncate(2).ok());
  EXPECT_EQ(testing::ReadFileOrDie(path_), "ab");
  ASSERT_TRUE(f.Truncate(5).ok());
  EXPECT_EQ(testing::ReadFileOrDie(path_), std::string("ab") + std::string(3, '\0'));
}

TEST_F(BackingFileTest, ReserveAllocatesWithoutChangingSize) {
  FdBackingFile f = Open();
  ASSERT_TRUE(PwriteAll(f, AsBytes("x"), 0).ok());
  Status s = f.Reserve(0, 1 << 20);
  if (s.code() == StatusCode::kUnimplemented) GTEST_SKIP() << "no fallocate on this filesystem: " << s.ToString();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(*f.Size(), 1u);
  struct stat st;
  ASSERT_EQ(fstat(f.fd(), &st), 0);
  EXPECT_GE(st.st_blocks * 512, 1 << 20);
  EXPECT_TRUE(f.Reserve(5, 0).ok());
}

TEST_F(BackingFileTest, LoopsOverShortReadsAndWrites) {
  FdBackingFile f = Open();
  Trickle t(f, 3);
  const std::string data = "0123456789abcdef";
  ASSERT_TRUE(PwriteAll(t, AsBytes(data), 10).ok());
  EXPECT_EQ(t.calls, 6);
  std::string buf(data.size(), '\0');
  auto n = PreadAll(t, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}, 10);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(buf, data);
}

TEST_F(BackingFileTest, ErrorsCarryTheErrno) {
  testing::WriteFileOrDie(path_, "content");
  FdBackingFile f = Open(O_RDONLY);
  Status w = PwriteAll(f, AsBytes("x"), 0);
  EXPECT_EQ(w.code(), StatusCode::kIoError);
  EXPECT_EQ(w.sys_errno(), EBADF);
  EXPECT_EQ(f.Truncate(0).sys_errno(), EINVAL);  // ftruncate on a read-only fd
  EXPECT_EQ(testing::ReadFileOrDie(path_), "content");
}

TEST_F(BackingFileTest, ReserveOnPipeFailsWithItsErrno) {
  // fallocate on something that is not a regular file fails with an errno,
  // not as "unsupported": only EOPNOTSUPP means the filesystem cannot.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd reader(fds[0]);
  FdBackingFile writer{UniqueFd(fds[1])};
  Status s = writer.Reserve(0, 4096);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_EQ(s.sys_errno(), ESPIPE);
}

}  // namespace
}  // namespace kmsfs::core
