// KmsdMountTest: a fixture with a kmsd of its own, for tests that mount
// volumes of the first test user (DefaultTestUsers()[0]) as they need them.
// Skips where FUSE is unavailable (never under CI=true; see process.h).
#ifndef KMSFS_TESTS_TESTUTIL_KMSD_MOUNT_TEST_H_
#define KMSFS_TESTS_TESTUTIL_KMSD_MOUNT_TEST_H_

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"

namespace kmsfs::testing {

class KmsdMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
  }
  // A fresh backing directory, initialised and mounted with `mount_args`.
  std::unique_ptr<MountedVolume> StartVolume(std::vector<std::string> mount_args = {}) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.mount_args = std::move(mount_args);
    return MountedVolume::Start(o);
  }
  // The same with plaintext names, for tests that reach backing objects by
  // their plaintext names.
  std::unique_ptr<MountedVolume> StartPlaintextNamesVolume(std::vector<std::string> mount_args = {}) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.mount_args = std::move(mount_args);
    o.init_args = {"--plaintext-names"};
    return MountedVolume::Start(o);
  }
  std::unique_ptr<KmsdProcess> kmsd_;
};

// Mounting `v` (unmounted) with `flag` set to each of `bad` is a usage error
// (exit code 2) whose message names the flag.
inline void ExpectMountUsageErrors(MountedVolume& v, const std::string& flag, std::initializer_list<const char*> bad) {
  for (const char* value : bad) {
    CommandResult r = v.Mount({flag, value});
    EXPECT_EQ(r.exit_code, 2) << flag << " " << value << ": " << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  }
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_KMSD_MOUNT_TEST_H_
