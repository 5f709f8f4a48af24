// packaging/: the systemd units pass `systemd-analyze verify` without a
// warning and kmsd's sandbox scores low exposure; the Debian package built by
// CPack installs into a scratch root (never this machine's package database),
// its programs run from PATH, its postinst makes the kmsd user, and it is
// removed without a trace.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

const std::string kSourceDir = KMSFS_SOURCE_DIR;

// The unit template with its placeholders filled in for this build tree.
void WriteUnit(const std::string& template_name, const std::string& out_path) {
  std::string text = ReadFileOrDie(kSourceDir + "/packaging/systemd/" + template_name + ".in");
  text = std::regex_replace(text, std::regex("@KMSFS_BINDIR@"), BuildDir());
  text = std::regex_replace(text, std::regex("@KMSFS_FUSERMOUNT@"), "/bin/fusermount3");
  WriteFileOrDie(out_path, text);
}

TEST(PackagingTest, UnitsPassSystemdAnalyzeVerifyWithoutWarnings) {
  TempDir dir;
  WriteUnit("kmsd.service", dir.Join("kmsd.service"));
  WriteUnit("kmsfs@.service", dir.Join("kmsfs@data.service"));
  CommandResult r = RunCommand({"/usr/bin/systemd-analyze", "verify", "--man=no", dir.Join("kmsd.service"),
                                dir.Join("kmsfs@data.service")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "systemd-analyze found problems";
}

TEST(PackagingTest, VerifyCatchesABrokenUnit) {
  TempDir dir;
  WriteUnit("kmsd.service", dir.Join("kmsd.service"));
  std::string text = ReadFileOrDie(dir.Join("kmsd.service"));
  text = std::regex_replace(text, std::regex("Type=exec"), "Type=execc");
  WriteFileOrDie(dir.Join("kmsd.service"), text);
  CommandResult r = RunCommand({"/usr/bin/systemd-analyze", "verify", "--man=no", dir.Join("kmsd.service")});
  EXPECT_NE(r.err.find("execc"), std::string::npos) << r.err;
}

TEST(PackagingTest, KmsdUnitIsTightlySandboxed) {
  TempDir dir;
  WriteUnit("kmsd.service", dir.Join("kmsd.service"));
  const std::string unit = ReadFileOrDie(dir.Join("kmsd.service"));
  for (const char* line : {"User=kmsd", "StateDirectory=kmsd", "StateDirectoryMode=0700", "ProtectSystem=strict",
                           "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "LimitCORE=0"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  CommandResult r =
      RunCommand({"/usr/bin/systemd-analyze", "security", "--offline=yes", "--no-pager", dir.Join("kmsd.service")});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(Overall exposure level for kmsd\.service: (\d+\.\d))")))
      << r.out << r.err;
  EXPECT_LE(std::stod(m[1]), 2.0) << r.out;
}

class DebianPackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CommandResult r = RunCommand({"/usr/bin/cpack", "-G", "DEB", "--config", BuildDir() + "/CPackConfig.cmake", "-B",
                                  out_.path()},
                                 {}, 600);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const auto& e : std::filesystem::directory_iterator(out_.path())) {
      if (e.path().extension() == ".deb") deb_ = e.path();
    }
    ASSERT_FALSE(deb_.empty()) << r.out;
  }
  std::string Field(const std::string& name) {
    return TrimTrailing(RunCommand({"/usr/bin/dpkg-deb", "-f", deb_, name}).out);
  }
  // dpkg working on `root` alone: its own package database, maintainer
  // scripts run on this machine with DPKG_ROOT set (they touch only the root).
  CommandResult Dpkg(const std::string& root, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/dpkg", "--root=" + root, "--log=/dev/null",
                                     "--force-script-chrootless", "--force-depends"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  TempDir out_;
  std::string deb_;
};

TEST_F(DebianPackageTest, DeclaresItsRuntimeDependencies) {
  EXPECT_EQ(Field("Package"), "kmsfs");
  const std::string depends = Field("Depends");
  for (const char* dep : {"fuse3", "libfuse3-3", "libcurl4", "libsodium23", "libssl3", "libsqlite3-0"}) {
    EXPECT_NE(depends.find(dep), std::string::npos) << dep << " missing from: " << depends;
  }
  // Each one is a real package, installed here (the programs run on this machine).
  std::istringstream list(depends);
  for (std::string dep; std::getline(list, dep, ',');) {
    dep = dep.substr(dep.find_first_not_of(' '));
    dep = dep.substr(0, dep.find(' '));
    CommandResult r = RunCommand({"/usr/bin/dpkg-query", "-W", "-f=${Status}", dep});
    EXPECT_NE(r.out.find("install ok installed"), std::string::npos) << dep << ": " << r.out << r.err;
  }
  const std::string contents = RunCommand({"/usr/bin/dpkg-deb", "-c", deb_}).out;
  for (const char* path : {"./usr/bin/kmsfs", "./usr/bin/kmsd", "./usr/lib/systemd/system/kmsd.service",
                           "./usr/lib/systemd/system/kmsfs@.service", "./usr/lib/sysusers.d/kmsd.conf",
                           "./usr/share/man/man1/kmsfs.1", "./usr/share/man/man8/kmsd.8"}) {
    EXPECT_NE(contents.find(path), std::string::npos) << path << " missing from:\n" << contents;
  }
}

TEST_F(DebianPackageTest, InstallsRunsFromPathAndRemovesCleanly) {
  TempDir scratch;
  const std::string root = scratch.Join("root");
  for (const char* d : {"/var/lib/dpkg/info", "/var/lib/dpkg/updates", "/etc"}) {
    std::filesystem::create_directories(root + d);
  }
  WriteFileOrDie(root + "/var/lib/dpkg/status", "");
  WriteFileOrDie(root + "/var/lib/dpkg/available", "");

  CommandResult r = Dpkg(root, {"-i", deb_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(Dpkg(root, {"-s", "kmsfs"}).out.find("Status: install ok installed"), std::string::npos);
  const std::string path = root + "/usr/bin:" + std::getenv("PATH");
  r = RunCommand({"/bin/sh", "-c", "kmsfs --version"}, {{"PATH", path}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kmsfs 0.1.0\n");
  r = RunCommand({"/bin/sh", "-c", "command -v kmsd && kmsd --help"}, {{"PATH", path}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find(root + "/usr/bin/kmsd"), 0u) << r.out;
  EXPECT_NE(r.out.find("Usage: kmsd"), std::string::npos) << r.out;
  // The postinst made the kmsd system user, in the scratch root only.
  EXPECT_NE(ReadFile(root + "/etc/passwd").find("kmsd:"), std::string::npos);

  r = Dpkg(root, {"--purge", "kmsfs"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Dpkg(root, {"-s", "kmsfs"}).exit_code, 1);
  // Every file is gone (dpkg removes the directories it made, too).
  if (std::filesystem::exists(root + "/usr")) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/usr")) {
      EXPECT_TRUE(e.is_directory()) << e.path() << " left behind";
    }
  }
}

}  // namespace
}  // namespace kmsfs::testing
