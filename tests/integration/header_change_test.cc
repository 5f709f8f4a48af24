// Headers through a real mount: every open reads the header on disk, so a
// header changed behind the mount, a name reused after unlink or rename, and
// a writer joining a reader all see the header as it is now.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

class HeaderChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.init_args = {"--plaintext-names"};
    v_ = MountedVolume::Start(o);
    ASSERT_NE(v_, nullptr);
  }

  std::string BackingHeader(const std::string& rel) const {
    std::string buf(4096, '\0');
    ssize_t n = getxattr(v_->BackingPath(rel).c_str(), "user.kmsfs", buf.data(), buf.size());
    EXPECT_GT(n, 0) << std::strerror(errno);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }

  std::unique_ptr<KmsdProcess> kmsd_;
  std::unique_ptr<MountedVolume> v_;
};

TEST_F(HeaderChangeTest, AHeaderChangedBehindTheMountIsReadAgain) {
  WriteFileOrDie(v_->Path("f"), "the real content");
  EXPECT_EQ(ReadFile(v_->Path("f")), "the real content");
  const std::string original = BackingHeader("f");
  ASSERT_EQ(setxattr(v_->BackingPath("f").c_str(), "user.kmsfs", "garbage", 7, 0), 0);
  int err = 0;
  ReadFile(v_->Path("f"), &err);
  EXPECT_EQ(err, EIO) << "the corrupt header on disk is what counts";
  ASSERT_EQ(setxattr(v_->BackingPath("f").c_str(), "user.kmsfs", original.data(), original.size(), 0), 0);
  EXPECT_EQ(ReadFile(v_->Path("f"), &err), "the real content");
  EXPECT_EQ(err, 0);
}

// An object still open in the daemon (held by another handle here; just as
// well one whose release the kernel has not sent yet) is not shared once
// the header on disk is no longer its header.
TEST_F(HeaderChangeTest, AHeaderChangedBehindAFileHeldOpenIsReadAgainByTheNextOpen) {
  WriteFileOrDie(v_->Path("f"), "the real content");
  int held = open(v_->Path("f").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  const std::string original = BackingHeader("f");
  ASSERT_EQ(setxattr(v_->BackingPath("f").c_str(), "user.kmsfs", "garbage", 7, 0), 0);
  int err = 0;
  ReadFile(v_->Path("f"), &err);
  EXPECT_EQ(err, EIO) << "a new reader sees the corrupt header on disk";
  EXPECT_EQ(open(v_->Path("f").c_str(), O_WRONLY), -1);
  EXPECT_EQ(errno, EIO) << "a new writer sees the corrupt header on disk";
  ASSERT_EQ(setxattr(v_->BackingPath("f").c_str(), "user.kmsfs", original.data(), original.size(), 0), 0);
  EXPECT_EQ(ReadFile(v_->Path("f"), &err), "the real content");
  EXPECT_EQ(err, 0);
  char buf[64] = {};
  EXPECT_EQ(pread(held, buf, sizeof buf, 0), 16);
  EXPECT_EQ(std::string(buf, 16), "the real content");
  close(held);
}

TEST_F(HeaderChangeTest, NamesReusedAfterUnlinkOrRenameReadTheirNewContent) {
  // Same size every round, so only the inode number could tell files apart
  // if the filesystem hands out a freed number again at once.
  for (int i = 0; i < 200; ++i) {
    char content[32];
    std::snprintf(content, sizeof content, "round %04d", i);
    WriteFileOrDie(v_->Path("f"), content);
    ASSERT_EQ(ReadFile(v_->Path("f")), content) << "round " << i;
    if (i % 2 == 0) {
      ASSERT_EQ(unlink(v_->Path("f").c_str()), 0);
    } else {
      std::snprintf(content, sizeof content, "other %04d", i);
      WriteFileOrDie(v_->Path("g"), content);
      ASSERT_EQ(rename(v_->Path("g").c_str(), v_->Path("f").c_str()), 0);
      ASSERT_EQ(ReadFile(v_->Path("f")), content) << "round " << i;
      ASSERT_EQ(unlink(v_->Path("f").c_str()), 0);
    }
  }
}

TEST_F(HeaderChangeTest, AWriterJoiningAReaderWritesReadably) {
  WriteFileOrDie(v_->Path("f"), "first version");
  ASSERT_TRUE(v_->WaitForReleases());
  int reader = open(v_->Path("f").c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  int writer = open(v_->Path("f").c_str(), O_WRONLY);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(pwrite(writer, "FIRST", 5, 0), 5);
  ASSERT_EQ(close(writer), 0);
  char buf[64] = {};
  EXPECT_EQ(pread(reader, buf, sizeof buf, 0), 13);
  EXPECT_EQ(std::string(buf, 13), "FIRST version");
  close(reader);
  ASSERT_TRUE(v_->Unmount());
  ASSERT_EQ(v_->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(v_->Path("f")), "FIRST version") << "what the writer wrote is readable by a fresh mount";
}

}  // namespace
}  // namespace kmsfs::testing
