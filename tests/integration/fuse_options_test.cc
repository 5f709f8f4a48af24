// Issue 18: "allow_other alone; a backing path with a comma". What the kernel
// was actually given, read back from /proc/self/mountinfo: -o allow_other
// always brings default_permissions (another user is held to the modes the
// files show), and a backing path is only ever the mount's source, never
// extra options, whatever characters it holds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

struct MountInfo {
  bool found = false;
  std::string mount_options;  // per mount point: rw,nosuid,...
  std::string fs_type;        // fuse.kmsfs
  std::string source;         // as the kernel shows it (octal escapes kept)
  std::string super_options;  // per superblock: user_id=0,...,allow_other
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string MountinfoEscape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

MountInfo FindMount(const std::string& mountpoint) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  MountInfo info;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() < 10 || f[4] != MountinfoEscape(mountpoint)) continue;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size()) continue;
    info = {true, f[5], f[dash + 1], f[dash + 2], f[dash + 3]};
  }
  return info;
}

bool HasOption(const std::string& options, const std::string& name) {
  std::istringstream in(options);
  for (std::string o; std::getline(in, o, ',');) {
    if (o == name) return true;
  }
  return false;
}

class FuseOptionsTest : public KmsdMountTest {
 protected:
  // A volume whose backing directory is `backing` (made and initialised here).
  std::unique_ptr<MountedVolume> VolumeAt(const std::string& backing, std::vector<std::string> mount_args = {}) {
    const auto env = KmsEnv(*kmsd_, DefaultTestUsers()[0]);
    CommandResult key = RunKmsfs({"key", "create"}, env);
    EXPECT_EQ(key.exit_code, 0) << key.err;
    EXPECT_EQ(mkdir(backing.c_str(), 0755), 0) << backing;
    CommandResult init = RunKmsfs({"init", backing, "--key", TrimTrailing(key.out), "--plaintext-names"}, env);
    EXPECT_EQ(init.exit_code, 0) << init.err;
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.key_id = TrimTrailing(key.out);
    o.backing_dir = backing;
    o.mount_args = std::move(mount_args);
    return MountedVolume::Start(o);
  }
  TempDir dirs_;
};

TEST_F(FuseOptionsTest, AllowOtherAloneBringsDefaultPermissions) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  auto v = StartVolume({"-o", "allow_other"});
  ASSERT_NE(v, nullptr);
  const MountInfo info = FindMount(v->mountpoint());
  ASSERT_TRUE(info.found) << v->mountpoint();
  EXPECT_EQ(info.fs_type, "fuse.kmsfs");
  EXPECT_TRUE(HasOption(info.super_options, "allow_other")) << info.super_options;
  EXPECT_TRUE(HasOption(info.super_options, "default_permissions")) << info.super_options;

  ASSERT_TRUE(TryWriteFile(v->Path("private"), "root only"));
  ASSERT_EQ(chmod(v->Path("private").c_str(), 0600), 0);
  ASSERT_TRUE(TryWriteFile(v->Path("public"), "everyone"));
  ASSERT_EQ(chmod(v->Path("public").c_str(), 0644), 0);
  chmod(stdfs::path(v->mountpoint()).parent_path().c_str(), 0755);
  auto open_as_nobody = [&](const std::string& path, int flags) {
    return RunAsNobody([&] {
      const int fd = open(path.c_str(), flags);
      if (fd < 0) return errno;
      close(fd);
      return 0;
    });
  };
  EXPECT_EQ(open_as_nobody(v->Path("private"), O_RDONLY), EACCES);
  EXPECT_EQ(open_as_nobody(v->Path("public"), O_RDONLY), 0);
  EXPECT_EQ(open_as_nobody(v->Path("public"), O_WRONLY), EACCES);
  EXPECT_EQ(RunAsNobody([&] { return unlink(v->Path("public").c_str()) == 0 ? 0 : errno; }), EACCES);
  EXPECT_EQ(ReadFile(v->Path("private")), "root only");
  // The mount's status (backing directory, key, volume, counters) is the
  // mounting user's, not every local user's.
  char status[8192];
  EXPECT_GT(getxattr(v->mountpoint().c_str(), "user.kmsfs.status", status, sizeof status), 0);
  EXPECT_EQ(RunAsNobody([&] {
              char buf[8192];
              return getxattr(v->mountpoint().c_str(), "user.kmsfs.status", buf, sizeof buf) >= 0 ? 0 : errno;
            }),
            EACCES);
}

// The backing path reaches libfuse inside fsname=...; unescaped, a comma in
// it would end the value and start options of the attacker's choosing.
TEST_F(FuseOptionsTest, ABackingPathWithACommaOrABackslashIsOnlyTheSource) {
  for (const std::string name : {"b,allow_other", "b,allow_other,suid,dev", "b\\,allow_other", "back\\slash"}) {
    SCOPED_TRACE(name);
    const std::string backing = dirs_.Join(name);
    auto v = VolumeAt(backing);
    ASSERT_NE(v, nullptr);
    const MountInfo info = FindMount(v->mountpoint());
    ASSERT_TRUE(info.found);
    EXPECT_EQ(info.source, MountinfoEscape(backing));
    EXPECT_FALSE(HasOption(info.super_options, "allow_other")) << info.super_options;
    EXPECT_TRUE(HasOption(info.mount_options, "nosuid")) << info.mount_options;
    EXPECT_TRUE(HasOption(info.mount_options, "nodev")) << info.mount_options;
    // It works, and is the mounting user's alone.
    ASSERT_TRUE(TryWriteFile(v->Path("f"), "through " + name));
    EXPECT_EQ(ReadFile(v->Path("f")), "through " + name);
    EXPECT_TRUE(stdfs::exists(backing + "/f"));
    if (geteuid() == 0) {
      chmod(dirs_.path().c_str(), 0755);
      chmod(stdfs::path(v->mountpoint()).parent_path().c_str(), 0755);
      struct stat st;
      EXPECT_EQ(RunAsNobody([&] { return stat(v->Path("f").c_str(), &st) == 0 ? 0 : errno; }), EACCES)
          << "another user reached a mount made without allow_other";
    }
    ASSERT_TRUE(v->Unmount());
  }
}

// A mount point inside the backing directory would make the daemon serve its
// own tree through itself (and the backing entries it makes appear in it).
TEST_F(FuseOptionsTest, AMountPointInsideTheBackingDirectoryIsRefused) {
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.mount = false;
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  for (const std::string& inner : {v->backing_dir() + "/mnt", v->backing_dir()}) {
    SCOPED_TRACE(inner);
    std::error_code ec;
    stdfs::create_directories(inner, ec);
    CommandResult r = RunKmsfs({"mount", v->backing_dir(), inner}, v->Env());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("must not be inside the backing directory"), std::string::npos) << r.err;
    EXPECT_FALSE(FindMount(inner).found);
  }
}

// The daemon, root here, appends to --log-file: a symlink planted at that
// path, a hard link to another file, or a file of another user would let a
// local user make root append to a file of their choosing.
TEST_F(FuseOptionsTest, ALogFileThatIsASymlinkALinkOrAnotherUsersIsRefused) {
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.mount = false;
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  const std::string victim = dirs_.Join("authorized_keys");
  WriteFileOrDie(victim, "root's own line\n");
  ASSERT_EQ(chmod(victim.c_str(), 0600), 0);
  const std::string via_symlink = dirs_.Join("log-symlink");
  ASSERT_EQ(symlink(victim.c_str(), via_symlink.c_str()), 0);
  const std::string via_link = dirs_.Join("log-hardlink");
  ASSERT_EQ(link(victim.c_str(), via_link.c_str()), 0);
  const std::string others = dirs_.Join("log-of-nobody");
  WriteFileOrDie(others, "");
  ASSERT_EQ(chown(others.c_str(), 65534, 65534), 0);
  for (const std::string& log : {via_symlink, via_link, others}) {
    SCOPED_TRACE(log);
    CommandResult r = RunKmsfs({"mount", v->backing_dir(), v->mountpoint(), "--log-file", log}, v->Env());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("log file"), std::string::npos) << r.err;
    EXPECT_FALSE(FindMount(v->mountpoint()).found);
  }
  EXPECT_EQ(ReadFile(victim), "root's own line\n");
  EXPECT_EQ(ReadFile(others), "");
  // A fresh path works.
  CommandResult r = RunKmsfs({"mount", v->backing_dir(), v->mountpoint(), "--log-file", dirs_.Join("fresh.log")}, v->Env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(FindMount(v->mountpoint()).found);
  RunCommand({"/bin/fusermount3", "-u", v->mountpoint()});
}

}  // namespace
}  // namespace kmsfs::testing
