// kmsfs doctor BACKING_DIR [MOUNTPOINT]: a row per check, with what to do
// about each failure; exit 1 when something failed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

using DoctorTest = KmsdMountTest;

// The RESULT and DETAIL of the row `check` ("" with a failure if none).
std::string Row(const std::string& out, const std::string& check) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(check + "  ", 0) != 0) continue;
    const size_t at = line.find_first_not_of(' ', check.size());
    return at == std::string::npos ? "" : line.substr(at);
  }
  ADD_FAILURE() << "no row '" << check << "' in\n" << out;
  return "";
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST_F(DoctorTest, HealthyMountedVolumePassesEveryCheck) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "x");
  CommandResult r = RunKmsfs({"doctor", v->backing_dir(), v->mountpoint()}, v->Env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(StartsWith(r.out, "CHECK")) << r.out;
  for (const char* check : {"volume", "backing filesystem", "connection settings", "KMS and credentials", "key",
                            "key rights", "mount"}) {
    EXPECT_TRUE(StartsWith(Row(r.out, check), "ok")) << check << "\n" << r.out;
  }
  EXPECT_NE(Row(r.out, "backing filesystem").find("user xattrs yes, O_TMPFILE yes"), std::string::npos) << r.out;
  EXPECT_NE(Row(r.out, "key").find(v->key_id() + " is enabled"), std::string::npos) << r.out;
  EXPECT_NE(Row(r.out, "key rights").find("read and write"), std::string::npos) << r.out;
  EXPECT_NE(Row(r.out, "mount").find("alive, read-write"), std::string::npos) << r.out;
}

TEST_F(DoctorTest, EachFailureNamesItsFix) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Unmount());
  // The mount is gone: the row says how to mount it.
  CommandResult r = RunKmsfs({"doctor", v->backing_dir(), v->mountpoint()}, v->Env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(StartsWith(Row(r.out, "mount"), "FAILED")) << r.out;
  EXPECT_NE(Row(r.out, "mount").find("run 'kmsfs mount "), std::string::npos) << r.out;
  EXPECT_TRUE(StartsWith(Row(r.out, "key rights"), "ok")) << r.out;

  // The KMS is not reachable: that row fails with what to check, and the
  // checks that need it are skipped.
  auto env = v->Env();
  env["KMSFS_KMS_ENDPOINT"] = "http://127.0.0.1:1";
  env["OS_AUTH_URL"] = "http://127.0.0.1:1/v3";
  r = RunKmsfs({"doctor", v->backing_dir()}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(StartsWith(Row(r.out, "KMS and credentials"), "FAILED")) << r.out;
  EXPECT_NE(Row(r.out, "KMS and credentials").find("check the endpoint, the network and TLS"), std::string::npos)
      << r.out;
  EXPECT_TRUE(StartsWith(Row(r.out, "key"), "skipped")) << r.out;
  EXPECT_TRUE(StartsWith(Row(r.out, "volume"), "ok")) << r.out;

  // A wrong password.
  env = v->Env();
  env["OS_PASSWORD"] = "not-the-password";
  r = RunKmsfs({"doctor", v->backing_dir()}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(StartsWith(Row(r.out, "KMS and credentials"), "FAILED")) << r.out;

  // Not a volume at all.
  TempDir empty;
  r = RunKmsfs({"doctor", empty.path()}, v->Env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(StartsWith(Row(r.out, "volume"), "FAILED")) << r.out;
  EXPECT_NE(Row(r.out, "volume").find("kmsfs init"), std::string::npos) << r.out;
}

// The daemon's own log, read where the mount says it writes it: a clean
// mount says so, and an error there is shown with its line.
TEST_F(DoctorTest, ErrorsInTheDaemonLogAreShownWithTheirLine) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  CommandResult r = RunKmsfs({"doctor", v->backing_dir(), v->mountpoint()}, v->Env());
  EXPECT_TRUE(StartsWith(Row(r.out, "daemon log"), "ok")) << r.out;
  EXPECT_NE(Row(r.out, "daemon log").find("0 errors"), std::string::npos) << r.out;
  EXPECT_NE(Row(r.out, "daemon log").find(v->log_file()), std::string::npos) << r.out;
  // A backing file without a header: opening it fails and the daemon logs why.
  WriteFileOrDie(v->backing_dir() + "/no-header", "not sealed");
  EXPECT_LT(open(v->Path("no-header").c_str(), O_RDONLY | O_CLOEXEC), 0);
  r = RunKmsfs({"doctor", v->backing_dir(), v->mountpoint()}, v->Env());
  const std::string row = Row(r.out, "daemon log");
  EXPECT_TRUE(StartsWith(row, "warning")) << r.out;
  EXPECT_NE(row.find("no-header"), std::string::npos) << r.out;
}

TEST_F(DoctorTest, UsageErrorsExitTwo) {
  CommandResult r = RunKmsfs({"doctor"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: kmsfs doctor BACKING_DIR [MOUNTPOINT]"), std::string::npos) << r.err;
  r = RunKmsfs({"doctor", "/a", "/b", "/c"}, {});
  EXPECT_EQ(r.exit_code, 2);
  r = RunKmsfs({"doctor", "/a", "--frobnicate"}, {});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace kmsfs::testing
