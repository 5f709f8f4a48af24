#include "fs/core/backing_edit.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "fs/core/faulty_backing_file.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

class BackingEditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFileOrDie(path_, "0123456789");
    int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    file_ = std::make_unique<FaultyBackingFile>(std::make_unique<FdBackingFile>(UniqueFd(fd)));
  }
  std::string Contents() { return testing::ReadFileOrDie(path_); }

  testing::TempDir dir_;
  std::string path_ = dir_.Join("f");
  std::unique_ptr<FaultyBackingFile> file_;
  std::vector<uint8_t> scratch_;
};

TEST_F(BackingEditTest, SuccessfulEditKeepsEveryChange) {
  BackingEdit edit(*file_, 10, scratch_);
  ASSERT_TRUE(edit.Write(8, AsBytes("ABCD")).ok());
  ASSERT_TRUE(edit.Write(0, AsBytes("xy")).ok());
  EXPECT_TRUE(edit.Finish(Status::Ok()).ok());
  EXPECT_EQ(Contents(), "xy234567ABCD");
}

TEST_F(BackingEditTest, FailedEditRestoresOverwrittenBytesAndCutsBack) {
  BackingEdit edit(*file_, 10, scratch_);
  ASSERT_TRUE(edit.Write(0, AsBytes("xy")).ok());
  ASSERT_TRUE(edit.Write(8, AsBytes("ABCDEF")).ok());
  ASSERT_TRUE(edit.Truncate(100).ok());
  Status s = edit.Finish(Status::FromErrno(ENOSPC, "later step"));
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, OverlappingWritesRestoreTheOldestBytes) {
  BackingEdit edit(*file_, 10, scratch_);
  ASSERT_TRUE(edit.Write(2, AsBytes("aaaa")).ok());
  ASSERT_TRUE(edit.Write(4, AsBytes("bbbb")).ok());
  EXPECT_FALSE(edit.Finish(Status::Internal("no")).ok());
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, ShortWriteIsUndoneAsFarAsItGot) {
  file_->Inject({2, ENOSPC, 3});  // the save's read, then a 3-byte write
  BackingEdit edit(*file_, 10, scratch_);
  Status w = edit.Write(6, AsBytes("abcdefgh"));
  EXPECT_EQ(w.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "012345abc9");
  EXPECT_EQ(edit.Finish(w).sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, WriteWhollyPastTheOldEndSavesNothing) {
  BackingEdit edit(*file_, 10, scratch_);
  ASSERT_TRUE(edit.Write(20, AsBytes("far")).ok());
  EXPECT_EQ(file_->calls(FaultyBackingFile::Call::kPread), 0u);
  EXPECT_FALSE(edit.Finish(Status::Internal("no")).ok());
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, FailedSaveWritesNothing) {
  file_->Inject({1, EIO, 0});
  BackingEdit edit(*file_, 10, scratch_);
  Status w = edit.Write(0, AsBytes("zz"));
  EXPECT_EQ(w.sys_errno(), EIO);
  EXPECT_EQ(file_->calls(FaultyBackingFile::Call::kPwrite), 0u);
  EXPECT_FALSE(edit.Finish(w).ok());
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, ReserveWithoutFallocateIsNotAnError) {
  file_->SetReserveUnsupported(true);
  BackingEdit edit(*file_, 10, scratch_);
  EXPECT_TRUE(edit.Reserve(10, 5000).ok());
  EXPECT_TRUE(edit.Reserve(10, 10).ok());  // empty
  EXPECT_TRUE(edit.Finish(Status::Ok()).ok());
}

TEST_F(BackingEditTest, ReserveOnFullDiskFailsAndChangesNothing) {
  file_->SetSpaceLimit(10);
  BackingEdit edit(*file_, 10, scratch_);
  Status r = edit.Reserve(10, 5000);
  EXPECT_EQ(r.sys_errno(), ENOSPC);
  EXPECT_EQ(edit.Finish(r).sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "0123456789");
}

TEST_F(BackingEditTest, FailedUndoIsReportedWithTheOriginalError) {
  BackingEdit edit(*file_, 10, scratch_);
  ASSERT_TRUE(edit.Write(0, AsBytes("xy")).ok());
  ASSERT_TRUE(edit.Write(8, AsBytes("ABCDEF")).ok());
  file_->Inject({1, EIO, 0});  // the cut back fails; the restores still run
  Status s = edit.Finish(Status::FromErrno(ENOSPC, "write"));
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_NE(s.message().find("undoing the partial change failed"), std::string::npos) << s.ToString();
  EXPECT_EQ(Contents(), "0123456789CDEF");
}

TEST_F(BackingEditTest, EditThatChangedNothingUndoesNothing) {
  file_->Inject({2, EROFS, 0});  // the save's read passes, the write fails
  BackingEdit edit(*file_, 10, scratch_);
  Status w = edit.Write(4, AsBytes("zz"));
  EXPECT_EQ(w.sys_errno(), EROFS);
  Status s = edit.Finish(w);
  EXPECT_EQ(s.sys_errno(), EROFS);
  EXPECT_EQ(s.message().find("undoing"), std::string::npos) << s.ToString();
  EXPECT_EQ(file_->calls(), 2u);
}

}  // namespace
}  // namespace kmsfs::core
