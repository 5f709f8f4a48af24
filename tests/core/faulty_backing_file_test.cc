#include "fs/core/faulty_backing_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/bytes.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using Call = FaultyBackingFile::Call;

class FaultyBackingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fd = open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    file_ = std::make_unique<FaultyBackingFile>(std::make_unique<FdBackingFile>(UniqueFd(fd)));
  }
  std::string Contents() { return testing::ReadFileOrDie(path_); }

  testing::TempDir dir_;
  std::string path_ = dir_.Join("f");
  std::unique_ptr<FaultyBackingFile> file_;
};

TEST_F(FaultyBackingFileTest, PassesCallsThroughAndCountsThem) {
  ASSERT_TRUE(PwriteAll(*file_, AsBytes("abc"), 0).ok());
  EXPECT_EQ(*file_->Size(), 3u);
  ASSERT_TRUE(file_->Truncate(2).ok());
  EXPECT_TRUE(file_->Sync(true).ok());
  EXPECT_EQ(file_->calls(), 4u);
  EXPECT_EQ(file_->calls(Call::kPwrite), 1u);
  EXPECT_EQ(file_->calls(Call::kSize), 1u);
  EXPECT_EQ(file_->calls(Call::kPread), 0u);
  EXPECT_EQ(Contents(), "ab");
}

TEST_F(FaultyBackingFileTest, FailsTheNthCallOnlyAndChangesNothing) {
  file_->Inject({3, EIO, 0});
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("one"), 0).ok());
  EXPECT_TRUE(file_->Size().ok());
  EXPECT_FALSE(file_->fault_hit());
  Status s = PwriteAll(*file_, AsBytes("two"), 0);
  EXPECT_EQ(s.sys_errno(), EIO);
  EXPECT_TRUE(file_->fault_hit());
  EXPECT_EQ(Contents(), "one");
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("six"), 0).ok());
  EXPECT_EQ(Contents(), "six");
}

TEST_F(FaultyBackingFileTest, EveryKindOfCallCanFail) {
  std::string buf(4, '\0');
  std::span<uint8_t> out(reinterpret_cast<uint8_t*>(buf.data()), buf.size());
  file_->Inject({1, ENOSPC, 0});
  EXPECT_EQ(file_->Pread(out, 0).status().sys_errno(), ENOSPC);
  file_->Inject({1, EIO, 0});
  EXPECT_EQ(file_->Reserve(0, 10).sys_errno(), EIO);
  file_->Inject({1, EIO, 0});
  EXPECT_EQ(file_->Truncate(10).sys_errno(), EIO);
  EXPECT_EQ(Contents(), "");
  file_->Inject({1, EIO, 0});
  EXPECT_EQ(file_->Size().status().sys_errno(), EIO);
  file_->Inject({1, EIO, 0});
  EXPECT_EQ(file_->Sync(false).sys_errno(), EIO);
}

TEST_F(FaultyBackingFileTest, ShortWriteStopsPartWayThenTheNextCallFails) {
  file_->Inject({1, ENOSPC, 2});
  Status s = PwriteAll(*file_, AsBytes("abcdef"), 0);
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "ab");
  EXPECT_EQ(file_->calls(Call::kPwrite), 2u);
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("xyz"), 0).ok());
}

TEST_F(FaultyBackingFileTest, ShortWriteFaultOnAnotherCallFailsThatCall) {
  file_->Inject({1, EIO, 2});
  EXPECT_EQ(file_->Truncate(5).sys_errno(), EIO);
  // A write no longer than the cut is not shortened.
  file_->Inject({1, EIO, 10});
  EXPECT_EQ(PwriteAll(*file_, AsBytes("abc"), 0).sys_errno(), EIO);
}

TEST_F(FaultyBackingFileTest, SpaceLimitCutsWritesAndReservationsThere) {
  file_->SetSpaceLimit(4);
  Status s = PwriteAll(*file_, AsBytes("abcdef"), 0);
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents(), "abcd");
  EXPECT_EQ(file_->Reserve(2, 3).sys_errno(), ENOSPC);
  EXPECT_TRUE(file_->Reserve(0, 4).ok());
  // Rewriting what fits, and growing by a hole, still work.
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("AB"), 1).ok());
  EXPECT_TRUE(file_->Truncate(100).ok());
  file_->SetSpaceLimit(std::nullopt);
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("tail"), 100).ok());
  EXPECT_EQ(*file_->Size(), 104u);
}

TEST_F(FaultyBackingFileTest, ReserveCanActUnsupported) {
  file_->SetReserveUnsupported(true);
  EXPECT_EQ(file_->Reserve(0, 10).code(), StatusCode::kUnimplemented);
  file_->SetReserveUnsupported(false);
  EXPECT_TRUE(file_->Reserve(0, 10).ok());
}

TEST_F(FaultyBackingFileTest, ClearFaultsDisarms) {
  file_->Inject({1, EIO, 0});
  file_->SetSpaceLimit(0);
  file_->ClearFaults();
  EXPECT_TRUE(PwriteAll(*file_, AsBytes("ok"), 0).ok());
  EXPECT_FALSE(file_->fault_hit());
}

}  // namespace
}  // namespace kmsfs::core
