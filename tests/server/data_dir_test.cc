#include "kms/server/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/server/require_root.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using ::kmsfs::testing::ReadFileOrDie;
using ::kmsfs::testing::TempDir;
using ::kmsfs::testing::WriteFileOrDie;

std::string ErrorOf(const std::string& path) {
  auto d = DataDir::Open(path);
  return d.ok() ? "" : d.status().message();
}

TEST(KmsdDataDirTest, CreatesAMissingDirectoryPrivate) {
  TempDir t;
  auto d = DataDir::Open(t.Join("a/b/data"));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(t.Join("a/b/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 022, 0u);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST(KmsdDataDirTest, RefusesADirectoryOthersMayWrite) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.Join("d").c_str(), 0700), 0);
  ASSERT_EQ(::chmod(t.Join("d").c_str(), 0777), 0);
  EXPECT_NE(ErrorOf(t.Join("d")).find("has mode 0777: group or others may write it"), std::string::npos)
      << ErrorOf(t.Join("d"));
  ASSERT_EQ(::chmod(t.Join("d").c_str(), 0770), 0);
  EXPECT_NE(ErrorOf(t.Join("d")).find("0770"), std::string::npos);
  ASSERT_EQ(::chmod(t.Join("d").c_str(), 0755), 0);
  EXPECT_EQ(ErrorOf(t.Join("d")), "") << "readable is fine: the files in it are private";
}

TEST(KmsdDataDirTest, RefusesADirectoryOfAnotherUser) {
  KMSD_REQUIRE_ROOT();
  TempDir t;
  ASSERT_EQ(::mkdir(t.Join("d").c_str(), 0700), 0);
  ASSERT_EQ(::chown(t.Join("d").c_str(), 4321, 4321), 0);
  EXPECT_NE(ErrorOf(t.Join("d")).find("owned by uid 4321, not by kmsd's user (uid 0)"), std::string::npos)
      << ErrorOf(t.Join("d"));
}

TEST(KmsdDataDirTest, RefusesASymbolicLinkAsTheDirectoryOrAsAFileInIt) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.Join("real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(t.Join("real").c_str(), t.Join("link").c_str()), 0);
  EXPECT_NE(ErrorOf(t.Join("link")).find("is a symbolic link"), std::string::npos);
  WriteFileOrDie(t.Join("victim"), "x");
  for (const char* name : {"root.key", "kmsd.db", "kmsd.db-wal", "admin.token", "audit.log"}) {
    ASSERT_EQ(::symlink(t.Join("victim").c_str(), t.Join(std::string("real/") + name).c_str()), 0);
    EXPECT_NE(ErrorOf(t.Join("real")).find(std::string(name) + " is a symbolic link"), std::string::npos) << name;
    ASSERT_EQ(::unlink(t.Join(std::string("real/") + name).c_str()), 0);
  }
}

TEST(KmsdDataDirTest, RefusesFilesOthersMayReadOrThatAnotherUserOwns) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.Join("d").c_str(), 0700), 0);
  WriteFileOrDie(t.Join("d/kmsd.db"), "x");
  ASSERT_EQ(::chmod(t.Join("d/kmsd.db").c_str(), 0644), 0);
  EXPECT_NE(ErrorOf(t.Join("d")).find("kmsd.db has mode 0644"), std::string::npos) << ErrorOf(t.Join("d"));
  ASSERT_EQ(::chmod(t.Join("d/kmsd.db").c_str(), 0600), 0);
  EXPECT_EQ(ErrorOf(t.Join("d")), "");
  KMSD_REQUIRE_ROOT();
  ASSERT_EQ(::chown(t.Join("d/kmsd.db").c_str(), 4321, 4321), 0);
  EXPECT_NE(ErrorOf(t.Join("d")).find("is owned by uid 4321"), std::string::npos) << ErrorOf(t.Join("d"));
}

TEST(KmsdDataDirTest, PrivateFilesReplaceAtomicallyWithoutFollowingLinks) {
  TempDir t;
  auto d = DataDir::Open(t.Join("d"));
  ASSERT_TRUE(d.ok());
  WriteFileOrDie(t.Join("victim"), "untouched");
  // A link planted where the temporary file goes is removed, not followed.
  ASSERT_EQ(::symlink(t.Join("victim").c_str(), t.Join("d/admin.token.new").c_str()), 0);
  ASSERT_TRUE(d->WritePrivateFile("admin.token", "secret-1").ok());
  ASSERT_TRUE(d->WritePrivateFile("admin.token", "secret-2").ok());
  EXPECT_EQ(ReadFileOrDie(t.Join("d/admin.token")), "secret-2");
  EXPECT_EQ(ReadFileOrDie(t.Join("victim")), "untouched");
  struct stat st {};
  ASSERT_EQ(::lstat(t.Join("d/admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_NE(::access(t.Join("d/admin.token.new").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace kmsfs::kms::server
