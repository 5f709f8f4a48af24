#include "fs/core/dir_values.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

format::DirValue Value(uint8_t first) {
  format::DirValue v;
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(first + i);
  return v;
}

class FileDirValuesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = tmp_.Join("d");
    ASSERT_EQ(mkdir(path_.c_str(), 0755), 0);
    // An O_PATH descriptor, as the inode table holds for every directory.
    dir_ = UniqueFd(open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_.valid());
  }
  std::string ValueFile() const { return path_ + "/" + format::kDirValueFileName; }
  void ExpectDataLoss(const std::string& fragment) {
    auto v = store_->Read(dir_.get());
    ASSERT_FALSE(v.ok()) << "accepted; wanted an error containing " << fragment;
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss) << v.status().ToString();
    EXPECT_NE(v.status().message().find(fragment), std::string::npos) << v.status().message();
  }

  testing::TempDir tmp_;
  std::string path_;
  UniqueFd dir_;
  const std::unique_ptr<DirValueStore> store_ = DirValueStoreFor(format::HeaderMode::kInline);
};

TEST_F(FileDirValuesTest, WrittenValueReadsBackFromItsFile) {
  EXPECT_STREQ(store_->file_name(), ".kmsfs.dir");
  ASSERT_TRUE(store_->WriteNew(dir_.get(), Value(0x20)).ok());
  auto v = store_->Read(dir_.get());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, Value(0x20));
  // The same 22 bytes as the xattr form, read-only, and no xattr used.
  EXPECT_EQ(testing::ReadFileOrDie(ValueFile()), std::string("KMSD\0\1", 6) + std::string(" !\"#$%&'()*+,-./"));
  struct stat st;
  ASSERT_EQ(stat(ValueFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_LT(getxattr(path_.c_str(), "user.kmsfs", nullptr, 0), 0);
}

TEST_F(FileDirValuesTest, NeverReplacesAValue) {
  ASSERT_TRUE(store_->WriteNew(dir_.get(), Value(0x20)).ok());
  EXPECT_FALSE(store_->WriteNew(dir_.get(), Value(0x40)).ok());
  EXPECT_EQ(store_->Read(dir_.get()).value(), Value(0x20));
}

TEST_F(FileDirValuesTest, MissingValueIsDataLoss) { ExpectDataLoss(".kmsfs.dir is missing"); }

TEST_F(FileDirValuesTest, MalformedValuesAreDataLoss) {
  testing::WriteFileOrDie(ValueFile(), "");
  ExpectDataLoss("");
  testing::WriteFileOrDie(ValueFile(), std::string("KMSD\0\1", 6) + std::string(15, 'x'));  // 21 bytes
  ExpectDataLoss("");
  testing::WriteFileOrDie(ValueFile(), std::string("KMSD\0\1", 6) + std::string(17, 'x'));  // 23 bytes
  ExpectDataLoss("");
  testing::WriteFileOrDie(ValueFile(), std::string("KMSX\0\1", 6) + std::string(16, 'x'));
  ExpectDataLoss("");
  testing::WriteFileOrDie(ValueFile(), std::string("KMSD\0\2", 6) + std::string(16, 'x'));
  ExpectDataLoss("");
}

TEST_F(FileDirValuesTest, PlantedSymlinkIsNotFollowed) {
  // A valid value elsewhere, reachable only through a symlink.
  const std::string elsewhere = tmp_.Join("real-value");
  testing::WriteFileOrDie(elsewhere, std::string("KMSD\0\1", 6) + std::string(16, 'v'));
  ASSERT_EQ(symlink(elsewhere.c_str(), ValueFile().c_str()), 0);
  auto v = store_->Read(dir_.get());
  EXPECT_FALSE(v.ok());
}

TEST_F(FileDirValuesTest, PlantedFifoOrDirectoryIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo(ValueFile().c_str(), 0600), 0);
  ExpectDataLoss("not a regular file");
  ASSERT_EQ(unlink(ValueFile().c_str()), 0);
  ASSERT_EQ(mkdir(ValueFile().c_str(), 0700), 0);
  EXPECT_FALSE(store_->Read(dir_.get()).ok());
}

TEST(XattrDirValuesTest, KeepsTheValueInTheDirectorysXattr) {
  testing::TempDir tmp;
  UniqueFd dir(open(tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir.valid());
  auto store = DirValueStoreFor(format::HeaderMode::kXattr);
  EXPECT_EQ(store->file_name(), nullptr);
  EXPECT_EQ(store->Read(dir.get()).status().code(), StatusCode::kDataLoss);
  ASSERT_TRUE(store->WriteNew(dir.get(), Value(0x30)).ok());
  EXPECT_EQ(store->Read(dir.get()).value(), Value(0x30));
  EXPECT_EQ(getxattr(tmp.path().c_str(), "user.kmsfs", nullptr, 0), 22);
  EXPECT_FALSE(store->WriteNew(dir.get(), Value(0x40)).ok());
  // The free functions are the same store.
  EXPECT_EQ(ReadDirValue(dir.get()).value(), Value(0x30));
}

}  // namespace
}  // namespace kmsfs::core
