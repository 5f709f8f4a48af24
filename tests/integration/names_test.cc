// Encrypted names and symlink targets through a real mount (format v2,
// "names": "encrypted", the default): nothing of a name or target reaches the
// backing directory; every name length and byte, and every target length,
// round-trips; long names and long targets keep their side files in step
// through rename, link and unlink; tampered, moved and swapped names are
// skipped in listings and reported by fsck.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
    return out;
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.insert(name);
  }
  closedir(d);
  return out;
}

// Everything a reader of the backing tree sees: names, symlink targets, file
// contents and every xattr value, concatenated.
std::string EverythingIn(const std::string& root) {
  std::string all;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    all += e.path().filename().string() + "\n";
    if (e.is_symlink()) {
      all += stdfs::read_symlink(e.path()).string() + "\n";
    } else if (e.is_regular_file()) {
      all += ReadFile(path);
    }
    char names[65536];
    const ssize_t n = llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t pos = 0; pos < n;) {
      const std::string name(names + pos);
      std::string value(65536, '\0');
      const ssize_t v = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
      if (v > 0) all += name + "=" + value.substr(0, static_cast<size_t>(v)) + "\n";
      pos += static_cast<ssize_t>(name.size()) + 1;
    }
  }
  return all;
}

std::string BackingName(const MountedVolume& v, const std::string& rel) {
  return stdfs::path(v.BackingPath(rel)).filename().string();
}

class NamesTest : public KmsdMountTest {
 protected:
  CommandResult Fsck(const MountedVolume& v) { return RunKmsfs({"fsck", v.backing_dir()}, v.Env()); }
};

TEST_F(NamesTest, NoNameOrTargetOfAThousandFilesReachesTheBackingDirectory) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "confidential-dir-" + std::to_string(d);
    ASSERT_EQ(mkdir(v->Path(dir).c_str(), 0755), 0);
    for (int f = 0; f < 100; ++f) {
      WriteFileOrDie(v->Path(dir + "/secret-name-" + std::to_string(f) + "-salaries.xlsx"), "x");
    }
    for (int l = 0; l < 5; ++l) {
      ASSERT_EQ(symlink(("../secret-target-" + std::to_string(l)).c_str(), v->Path(dir + "/link" + std::to_string(l)).c_str()), 0);
    }
  }
  // A target too long for a backing symlink, and a long name.
  const std::string long_target = "secret-target-long/" + std::string(3600, 'q');
  ASSERT_EQ(symlink(long_target.c_str(), v->Path("long-link").c_str()), 0);
  WriteFileOrDie(v->Path("secret-name-" + std::string(200, 'L')), "y");
  ASSERT_TRUE(v->Unmount());

  const std::string everything = EverythingIn(v->backing_dir());
  for (const char* needle : {"secret-name", "salaries", "confidential", "secret-target", "qqqqqqqqqqqqqqqq", "LLLLLLLL"}) {
    EXPECT_EQ(everything.find(needle), std::string::npos) << needle << " shows in the backing directory";
  }
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_EQ(Names(v->Path("confidential-dir-3")).size(), 105u);
  EXPECT_EQ(stdfs::read_symlink(v->Path("confidential-dir-7/link2")).string(), "../secret-target-2");
  EXPECT_EQ(stdfs::read_symlink(v->Path("long-link")).string(), long_target);
  EXPECT_EQ(v->Status()["names"], "encrypted");
}

TEST_F(NamesTest, EveryNameLengthAndEveryAllowedByteRoundTrips) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("len").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(v->Path("bytes").c_str(), 0755), 0);
  std::set<std::string> by_length, by_byte;
  for (size_t n = 1; n <= 255; ++n) {
    const std::string name(n, static_cast<char>('a' + n % 26));
    WriteFileOrDie(v->Path("len/" + name), std::to_string(n));
    by_length.insert(name);
  }
  for (int b = 1; b < 256; ++b) {
    if (b == '/') continue;
    const std::string name = "b" + std::string(1, static_cast<char>(b));
    WriteFileOrDie(v->Path("bytes/" + name), "b");
    by_byte.insert(name);
  }
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(Names(v->Path("len")), by_length) << "round " << round;
    EXPECT_EQ(Names(v->Path("bytes")), by_byte) << "round " << round;
    for (size_t n = 1; n <= 255; n += 17) {
      EXPECT_EQ(ReadFile(v->Path("len/" + std::string(n, static_cast<char>('a' + n % 26)))), std::to_string(n));
    }
    ASSERT_TRUE(v->Unmount());
    ASSERT_EQ(v->Mount().exit_code, 0);
  }
  // 256 bytes is one too many, as on any Linux filesystem.
  EXPECT_EQ(open(v->Path("len/" + std::string(256, 'z')).c_str(), O_CREAT | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  ASSERT_TRUE(v->Unmount());
  CommandResult r = Fsck(*v);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(NamesTest, SymlinkTargetsOfEveryLengthRoundTripAndStoredOnesAreRemovedWithTheirLastLink) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  std::vector<size_t> lengths;
  for (size_t n = 1; n <= 4095; n += (n < 300 ? 1 : 37)) lengths.push_back(n);
  lengths.push_back(4095);
  for (size_t n : lengths) {
    const std::string target(n, static_cast<char>('a' + n % 26));
    ASSERT_EQ(symlink(target.c_str(), v->Path("l" + std::to_string(n)).c_str()), 0) << n << std::strerror(errno);
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t n : lengths) {
      const std::string link = v->Path("l" + std::to_string(n));
      EXPECT_EQ(stdfs::read_symlink(link).string(), std::string(n, static_cast<char>('a' + n % 26))) << n;
      struct stat st;
      ASSERT_EQ(lstat(link.c_str(), &st), 0);
      EXPECT_EQ(st.st_size, static_cast<off_t>(n)) << "a symlink's size is its target's length";
    }
    ASSERT_TRUE(v->Unmount());
    ASSERT_EQ(v->Mount().exit_code, 0);
  }
  const std::string store = v->backing_dir() + "/.kmsfs.targets";
  ASSERT_TRUE(stdfs::exists(store));
  EXPECT_FALSE(stdfs::is_empty(store));
  // A hard link keeps a stored target alive; the last name frees it.
  ASSERT_EQ(link(v->Path("l4095").c_str(), v->Path("second-name").c_str()), 0);
  for (size_t n : lengths) ASSERT_EQ(unlink(v->Path("l" + std::to_string(n)).c_str()), 0);
  EXPECT_EQ(stdfs::read_symlink(v->Path("second-name")).string(), std::string(4095, static_cast<char>('a' + 4095 % 26)));
  ASSERT_EQ(unlink(v->Path("second-name").c_str()), 0);
  EXPECT_TRUE(stdfs::is_empty(store)) << "stored targets outlived their symlinks";
}

TEST_F(NamesTest, LongNamesWorkThroughRenameLinkAndUnlinkAndLeaveNoSideFilesBehind) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(v->Path("b").c_str(), 0755), 0);
  const std::string n1(200, 'x'), n2(255, 'y'), n3(180, 'z');
  WriteFileOrDie(v->Path("a/" + n1), "long named");
  ASSERT_EQ(mkdir(v->Path("a/" + n3).c_str(), 0700), 0);
  ASSERT_EQ(symlink("t", v->Path("a/" + n2).c_str()), 0);
  EXPECT_EQ(Names(v->Path("a")), (std::set<std::string>{n1, n2, n3}));
  ASSERT_EQ(rename(v->Path("a/" + n1).c_str(), v->Path("b/" + n2 + "-").c_str()), -1);  // 256 bytes
  EXPECT_EQ(errno, ENAMETOOLONG);
  ASSERT_EQ(rename(v->Path("a/" + n1).c_str(), v->Path("b/" + n2).c_str()), 0);
  ASSERT_EQ(link(v->Path("b/" + n2).c_str(), v->Path("a/" + n1).c_str()), 0);
  ASSERT_EQ(rename(v->Path("a/" + n3).c_str(), v->Path("b/" + n3).c_str()), 0);
  EXPECT_EQ(Names(v->Path("a")), (std::set<std::string>{n1, n2}));
  EXPECT_EQ(Names(v->Path("b")), (std::set<std::string>{n2, n3}));
  EXPECT_EQ(ReadFile(v->Path("a/" + n1)), "long named");
  struct stat st;
  ASSERT_EQ(stat(v->Path("b/" + n2).c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(unlink(v->Path("b/" + n2).c_str()), 0);
  EXPECT_EQ(ReadFile(v->Path("a/" + n1)), "long named");
  ASSERT_TRUE(v->Unmount());
  CommandResult check = Fsck(*v);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  ASSERT_EQ(v->Mount().exit_code, 0);
  for (const std::string dir : {"a", "b"}) {
    for (const std::string& name : Names(v->Path(dir))) ASSERT_EQ(remove(v->Path(dir + "/" + name).c_str()), 0);
  }
  ASSERT_TRUE(v->Unmount());
  for (const auto& e : stdfs::recursive_directory_iterator(v->backing_dir())) {
    EXPECT_FALSE(e.path().filename().string().ends_with(".name")) << "a sidecar outlived its name: " << e.path();
  }
}

TEST_F(NamesTest, RenamingADirectoryLeavesItsChildrenAloneAndInodeNumbersStay) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("old").c_str(), 0755), 0);
  for (int i = 0; i < 20; ++i) WriteFileOrDie(v->Path("old/c" + std::to_string(i)), std::to_string(i));
  std::set<std::string> before;
  for (int i = 0; i < 20; ++i) before.insert(BackingName(*v, "old/c" + std::to_string(i)));
  struct stat a, b;
  ASSERT_EQ(stat(v->Path("old/c7").c_str(), &a), 0);
  ASSERT_EQ(rename(v->Path("old").c_str(), v->Path("new").c_str()), 0);
  std::set<std::string> after;
  for (int i = 0; i < 20; ++i) after.insert(BackingName(*v, "new/c" + std::to_string(i)));
  EXPECT_EQ(before, after);
  ASSERT_EQ(stat(v->Path("new/c7").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  // A file renamed to another directory gets a name encrypted for that one.
  ASSERT_EQ(mkdir(v->Path("other").c_str(), 0755), 0);
  const std::string in_new = BackingName(*v, "new/c7");
  ASSERT_EQ(rename(v->Path("new/c7").c_str(), v->Path("other/c7").c_str()), 0);
  EXPECT_NE(BackingName(*v, "other/c7"), in_new);
  ASSERT_EQ(stat(v->Path("other/c7").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(ReadFile(v->Path("other/c7")), "7");
}

TEST_F(NamesTest, TamperedMovedAndSwappedNamesAreSkippedLoggedAndReportedByFsck) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("one").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(v->Path("two").c_str(), 0755), 0);
  for (const char* f : {"one/a", "one/b", "one/keep", "two/c", "two/keep"}) WriteFileOrDie(v->Path(f), f);
  const std::string one = v->BackingPath("one"), two = v->BackingPath("two");
  const std::string a = v->BackingPath("one/a"), c = v->BackingPath("two/c");
  ASSERT_TRUE(v->Unmount());
  {
    CommandResult clean = Fsck(*v);
    ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  }
  // one/a's backing name gets one character changed; two/c is moved into one.
  std::string tampered = stdfs::path(a).filename().string();
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  ASSERT_EQ(rename(a.c_str(), (one + "/" + tampered).c_str()), 0);
  ASSERT_EQ(rename(c.c_str(), (one + "/" + stdfs::path(c).filename().string()).c_str()), 0);
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_EQ(Names(v->Path("one")), (std::set<std::string>{"b", "keep"}));
  EXPECT_EQ(Names(v->Path("two")), (std::set<std::string>{"keep"}));
  const std::string log = v->ReadLog();
  EXPECT_NE(log.find("skipped backing entry " + tampered), std::string::npos) << log;
  ASSERT_TRUE(v->Unmount());
  CommandResult r = Fsck(*v);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("one/" + tampered + ": name does not decrypt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(stdfs::path(c).filename().string() + ": name does not decrypt"), std::string::npos) << r.out;

  // The two directories' values swapped: none of their names reads.
  char va[64], vb[64];
  const ssize_t la = getxattr(one.c_str(), "user.kmsfs", va, sizeof va);
  const ssize_t lb = getxattr(two.c_str(), "user.kmsfs", vb, sizeof vb);
  ASSERT_GT(la, 0);
  ASSERT_GT(lb, 0);
  ASSERT_EQ(setxattr(one.c_str(), "user.kmsfs", vb, static_cast<size_t>(lb), 0), 0);
  ASSERT_EQ(setxattr(two.c_str(), "user.kmsfs", va, static_cast<size_t>(la), 0), 0);
  ASSERT_EQ(v->Mount().exit_code, 0);
  // Only the entry moved in from two reads in one now, under two's value.
  EXPECT_EQ(Names(v->Path("one")), std::set<std::string>{"c"});
  EXPECT_TRUE(Names(v->Path("two")).empty());
  ASSERT_TRUE(v->Unmount());
  r = Fsck(*v);
  EXPECT_EQ(r.exit_code, 1);
  size_t undecryptable = 0;
  for (size_t at = r.out.find("name does not decrypt"); at != std::string::npos;
       at = r.out.find("name does not decrypt", at + 1)) {
    ++undecryptable;
  }
  EXPECT_EQ(undecryptable, 4u) << "one's b, keep and the tampered a; two's keep: " << r.out;

  // A directory without its value fails its names with EIO, and fsck says so.
  ASSERT_EQ(removexattr(two.c_str(), "user.kmsfs"), 0);
  ASSERT_EQ(v->Mount().exit_code, 0);
  struct stat st;
  EXPECT_EQ(stat(v->Path("two/keep").c_str(), &st), -1);
  EXPECT_EQ(errno, EIO);
  ASSERT_TRUE(v->Unmount());
  r = Fsck(*v);
  EXPECT_NE(r.out.find("two: directory name value"), std::string::npos) << r.out;
}

// A planted symlink whose stored-target reference tries to climb out of the
// target store reads as EIO, and removing it removes nothing else.
TEST_F(NamesTest, APlantedStoredTargetReferenceCannotReachOutsideTheStore) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(symlink(std::string(3500, 'x').c_str(), v->Path("real").c_str()), 0);  // makes the store
  ASSERT_EQ(symlink("t", v->Path("planted").c_str()), 0);
  const std::string planted = v->BackingPath("planted");
  TempDir outside;
  WriteFileOrDie(outside.Join("victim"), "must stay");
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(unlink(planted.c_str()), 0);
  ASSERT_EQ(symlink(("kmsfs.t.../../../../../../.." + outside.Join("victim")).c_str(), planted.c_str()), 0);
  ASSERT_EQ(v->Mount().exit_code, 0);
  char buf[64];
  EXPECT_EQ(readlink(v->Path("planted").c_str(), buf, sizeof buf), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(unlink(v->Path("planted").c_str()), 0);
  EXPECT_EQ(ReadFile(outside.Join("victim")), "must stay");
  EXPECT_EQ(stdfs::read_symlink(v->Path("real")).string(), std::string(3500, 'x'));
}

TEST_F(NamesTest, FsckReportsDanglingAndMismatchedSideFiles) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path(std::string(220, 'p')), "p");
  WriteFileOrDie(v->Path(std::string(230, 'q')), "q");
  const std::string p = v->BackingPath(std::string(220, 'p')), q = v->BackingPath(std::string(230, 'q'));
  ASSERT_TRUE(v->Unmount());
  // p's entry goes (its sidecar stays); q's sidecar gets p's name.
  ASSERT_EQ(unlink(p.c_str()), 0);
  ASSERT_EQ(rename((p + ".name").c_str(), (q + ".name").c_str()), 0);
  WriteFileOrDie(p + ".name", "dangling");
  CommandResult r = Fsck(*v);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("long-name sidecar without its entry"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("long name does not match its sidecar"), std::string::npos) << r.out;
}

TEST_F(NamesTest, TheVolumesOwnFileNameIsAnOrdinaryNameWhenNamesAreEncrypted) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path(".kmsfs.json"), "a user's file");
  EXPECT_EQ(ReadFile(v->Path(".kmsfs.json")), "a user's file");
  EXPECT_EQ(Names(v->mountpoint()), std::set<std::string>{".kmsfs.json"});
  ASSERT_TRUE(v->Unmount());
  EXPECT_NE(ReadFile(v->backing_dir() + "/.kmsfs.json").find("\"volume_key\""), std::string::npos)
      << "the volume's config is untouched";
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(v->Path(".kmsfs.json")), "a user's file");
}

TEST_F(NamesTest, PlaintextNamesVolumeKeepsNamesAsTheyAre) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("visible-name"), "x");
  EXPECT_TRUE(stdfs::exists(v->backing_dir() + "/visible-name"));
  EXPECT_EQ(v->Status()["names"], "plaintext");
}

}  // namespace
}  // namespace kmsfs::testing
