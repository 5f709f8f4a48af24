#include "fs/core/header_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "fs/format/inline_header.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using format::HeaderMode;

format::FileHeader Header(char fill) {
  format::FileHeader h;
  h.file_id.fill(static_cast<uint8_t>(fill));
  h.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
  h.wrapped_dek = std::string(376, fill == 'a' ? 'A' : 'B');
  return h;
}

class HeaderIoTest : public ::testing::Test {
 protected:
  UniqueFd NewFile(const std::string& name, const std::string& content = "") {
    path_ = tmp_.Join(name);
    testing::WriteFileOrDie(path_, content);
    UniqueFd fd(open(path_.c_str(), O_RDWR | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    return fd;
  }
  testing::TempDir tmp_;
  std::string path_;
};

TEST_F(HeaderIoTest, InlineHeaderIsTheFilesFirst512Bytes) {
  UniqueFd fd = NewFile("f");
  auto none = ReadFileHeaderIfPresent(fd.get(), HeaderMode::kInline);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteFileHeader(fd.get(), Header('a'), HeaderMode::kInline).ok());
  const std::string bytes = testing::ReadFileOrDie(path_);
  ASSERT_EQ(bytes.size(), 512u);
  const std::vector<uint8_t> region = format::EncodeInlineRegion(Header('a')).value();
  EXPECT_EQ(bytes, std::string(region.begin(), region.end()));
  EXPECT_EQ(ReadFileHeader(fd.get(), HeaderMode::kInline).value(), Header('a'));
  EXPECT_LT(fgetxattr(fd.get(), "user.kmsfs", nullptr, 0), 0);  // no xattr involved
  EXPECT_EQ(DataOffset(HeaderMode::kInline), 512u);
  EXPECT_EQ(DataOffset(HeaderMode::kXattr), 0u);
}

TEST_F(HeaderIoTest, ReplacingAnInlineHeaderLeavesTheBlocksAlone) {
  UniqueFd fd = NewFile("f");
  ASSERT_TRUE(WriteFileHeader(fd.get(), Header('a'), HeaderMode::kInline).ok());
  const std::string blocks(5000, 'z');
  ASSERT_EQ(pwrite(fd.get(), blocks.data(), blocks.size(), 512), 5000);
  ASSERT_TRUE(WriteFileHeader(fd.get(), Header('b'), HeaderMode::kInline).ok());
  EXPECT_EQ(ReadFileHeader(fd.get(), HeaderMode::kInline).value(), Header('b'));
  EXPECT_EQ(testing::ReadFileOrDie(path_).substr(512), blocks);
}

TEST_F(HeaderIoTest, CutOrGarbageInlineRegionIsDataLoss) {
  UniqueFd fd = NewFile("f");
  ASSERT_TRUE(WriteFileHeader(fd.get(), Header('a'), HeaderMode::kInline).ok());
  ASSERT_EQ(ftruncate(fd.get(), 300), 0);
  auto cut = ReadFileHeaderIfPresent(fd.get(), HeaderMode::kInline);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(cut.status().message().find("cut"), std::string::npos) << cut.status().message();
  UniqueFd garbage = NewFile("g", std::string(4096, 'x'));
  EXPECT_EQ(ReadFileHeader(garbage.get(), HeaderMode::kInline).status().code(), StatusCode::kDataLoss);
  UniqueFd empty = NewFile("e");
  auto missing = ReadFileHeader(empty.get(), HeaderMode::kInline);
  EXPECT_EQ(missing.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos) << missing.status().message();
}

TEST_F(HeaderIoTest, XattrHeaderMissingIsNulloptAndGarbageIsDataLoss) {
  UniqueFd fd = NewFile("f", "data");
  auto none = ReadFileHeaderIfPresent(fd.get(), HeaderMode::kXattr);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(ReadFileHeader(fd.get()).status().code(), StatusCode::kDataLoss);
  ASSERT_TRUE(WriteFileHeader(fd.get(), Header('a'), HeaderMode::kXattr).ok());
  EXPECT_EQ(ReadFileHeader(fd.get(), HeaderMode::kXattr).value(), Header('a'));
  EXPECT_EQ(testing::ReadFileOrDie(path_), "data");  // the data is not the header's place
  ASSERT_EQ(fsetxattr(fd.get(), "user.kmsfs", "garbage", 7, 0), 0);
  EXPECT_EQ(ReadFileHeaderIfPresent(fd.get(), HeaderMode::kXattr).status().code(), StatusCode::kDataLoss);
  // create_only never replaces a header.
  EXPECT_FALSE(WriteFileHeader(fd.get(), Header('b'), true).ok());
}

TEST_F(HeaderIoTest, InvalidHeaderIsNeverWritten) {
  UniqueFd fd = NewFile("f");
  format::FileHeader bad = Header('a');
  bad.wrapped_dek = "xyz";
  EXPECT_EQ(WriteFileHeader(fd.get(), bad, HeaderMode::kInline).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteFileHeader(fd.get(), bad, HeaderMode::kXattr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(testing::ReadFileOrDie(path_), "");
}

}  // namespace
}  // namespace kmsfs::core
