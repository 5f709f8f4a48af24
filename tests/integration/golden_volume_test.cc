// A volume written by the release before format version 2 (tests/golden/v1:
// its backing directory with xattrs, and its kmsd's data) mounts with this
// build and reads back exactly what that release wrote; it takes new files,
// and fsck finds it clean.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/hex.h"
#include "crypto/hash.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

const std::string kGolden = std::string(KMSFS_SOURCE_DIR) + "/tests/golden/v1";

std::string Sha256Hex(const std::string& data) {
  return HexEncode(crypto::Sha256({reinterpret_cast<const uint8_t*>(data.data()), data.size()}));
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(GoldenVolumeTest, AVolumeOfTheReleaseBeforeFormatTwoMountsAndReadsBackUnchanged) {
  KMSFS_REQUIRE_FUSE();
  TempDir t;
  for (const char* archive : {"backing.tar", "kmsd-data.tar"}) {
    CommandResult r = RunCommand({"/bin/tar", "--xattrs", "--xattrs-include=user.*", "-C", t.path(), "-xpf",
                                  kGolden + "/" + archive});
    ASSERT_EQ(r.exit_code, 0) << archive << ": " << r.err;
  }
  KmsdProcess::Options ko;
  ko.data_dir = t.Join("kmsd-data");
  ko.users = {DefaultTestUsers()[0]};  // alice, as in users.json
  auto kmsd = KmsdProcess::Start(ko);
  ASSERT_NE(kmsd, nullptr);
  MountedVolume::Options o;
  o.kmsd = kmsd.get();
  o.user = DefaultTestUsers()[0];
  o.key_id = Trim(ReadFile(kGolden + "/key_id.txt"));
  o.backing_dir = t.Join("backing");
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->Status()["format_version"], 1);
  EXPECT_EQ(v->Status()["names"], "plaintext");

  std::istringstream manifest(ReadFile(kGolden + "/manifest.txt"));
  int checked = 0;
  for (std::string line; std::getline(manifest, line);) {
    std::istringstream fields(line);
    std::string kind, rel, third, fourth;
    fields >> kind >> rel >> third >> fourth;
    const std::string path = rel == "." ? v->mountpoint() : v->Path(rel.substr(2));  // "./x"
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0) << rel;
    if (kind == "file") {
      EXPECT_EQ(st.st_mode & 07777, std::stoul(third, nullptr, 8)) << rel;
      EXPECT_EQ(Sha256Hex(ReadFile(path)), fourth) << rel;
    } else if (kind == "link") {
      EXPECT_EQ(stdfs::read_symlink(path).string(), third) << rel;
    } else if (kind == "dir") {
      EXPECT_EQ(st.st_mode & 07777, std::stoul(third, nullptr, 8)) << rel;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 15);
  struct stat a, b;
  ASSERT_EQ(stat(v->Path("docs/readme.txt").c_str(), &a), 0);
  ASSERT_EQ(stat(v->Path("docs/hardlink.txt").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);

  WriteFileOrDie(v->Path("docs/new.txt"), "written by this build");
  ASSERT_TRUE(v->Unmount());
  CommandResult fsck = RunKmsfs({"fsck", v->backing_dir()}, v->Env());
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(v->Path("docs/new.txt")), "written by this build");
}

}  // namespace
}  // namespace kmsfs::testing
