// A backing file cut in the middle of a block (issue 18, item 15), through a
// real mount: the intact blocks read, the cut block gives EIO, and the size
// stat shows takes a program that reads to the end into that block, so it
// gets EIO rather than a silently empty or shorter file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kFileSize = 3 * kBlock + 500;  // blocks 0..2 whole, block 3 partial

class CutBackingFileTest : public KmsdMountTest {
 protected:
  // The backing file of `rel` (names are encrypted: found by inode number).
  static std::string BackingFileOf(const MountedVolume& v, const std::string& rel) {
    struct stat st;
    if (stat(v.Path(rel).c_str(), &st) != 0) return "";
    for (const auto& e : std::filesystem::recursive_directory_iterator(v.backing_dir())) {
      struct stat b;
      if (lstat(e.path().c_str(), &b) == 0 && S_ISREG(b.st_mode) && b.st_ino == st.st_ino) return e.path();
    }
    return "";
  }
};

TEST_F(CutBackingFileTest, MidBlockTruncationGivesEioThroughTheMountOnTheLastBlockOnly) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  const std::string data = Pattern(kFileSize, 11);
  ASSERT_TRUE(TryWriteFile(v->Path("in-nonce"), data));
  ASSERT_TRUE(TryWriteFile(v->Path("in-data"), data));
  const std::string nonce_backing = BackingFileOf(*v, "in-nonce");
  const std::string data_backing = BackingFileOf(*v, "in-data");
  ASSERT_FALSE(nonce_backing.empty());
  ASSERT_FALSE(data_backing.empty());
  ASSERT_TRUE(v->Unmount());

  // Backing size = 3 sealed blocks + (500 + overhead): the suite's overhead
  // follows from it.
  struct stat st;
  ASSERT_EQ(stat(nonce_backing.c_str(), &st), 0);
  const off_t overhead = (st.st_size - static_cast<off_t>(kFileSize)) / 4;
  ASSERT_TRUE(overhead == 28 || overhead == 40) << st.st_size;
  const off_t sealed_block = static_cast<off_t>(kBlock) + overhead;
  // One file cut 10 bytes into block 3 (inside its nonce: no data left at
  // all), the other 50 bytes into block 3's data.
  ASSERT_EQ(truncate(nonce_backing.c_str(), 3 * sealed_block + 10), 0);
  ASSERT_EQ(truncate(data_backing.c_str(), 3 * sealed_block + overhead + 50), 0);
  ASSERT_EQ(v->Mount().exit_code, 0) << v->ReadLog();

  for (const auto& [name, size] : {std::pair<std::string, size_t>{"in-nonce", 3 * kBlock + 1},
                                   std::pair<std::string, size_t>{"in-data", 3 * kBlock + 50}}) {
    SCOPED_TRACE(name);
    const std::string path = v->Path(name);
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), size) << "stat shows the intact blocks plus the cut one";
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::string buf(kBlock, '\0');
    for (size_t b = 0; b < 3; ++b) {
      ASSERT_EQ(pread(fd, buf.data(), kBlock, static_cast<off_t>(b * kBlock)), static_cast<ssize_t>(kBlock))
          << "block " << b << ": " << std::strerror(errno);
      EXPECT_TRUE(buf == data.substr(b * kBlock, kBlock)) << "block " << b;
    }
    errno = 0;
    EXPECT_EQ(pread(fd, buf.data(), kBlock, static_cast<off_t>(3 * kBlock)), -1);
    EXPECT_EQ(errno, EIO);
    close(fd);
    // A program reading the whole file reaches the cut block and fails.
    int err = 0;
    const std::string got = ReadFile(path, &err);
    EXPECT_EQ(err, EIO);
    EXPECT_LE(got.size(), 3 * kBlock);
    EXPECT_TRUE(data.compare(0, got.size(), got) == 0);
  }
  EXPECT_NE(v->ReadLog().find("block 3"), std::string::npos) << v->ReadLog();
}

}  // namespace
}  // namespace kmsfs::testing
