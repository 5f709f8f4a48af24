// Grants: who may mount, read-only access, sharing, revocation, retirement,
// multi-user mounts and two mounts of one backing directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

class GrantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = DefaultTestUsers()[0];
    bob_ = DefaultTestUsers()[1];
    carol_ = DefaultTestUsers()[2];
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.init_args = {"--plaintext-names"};
    o.user = alice_;
    alice_vol_ = MountedVolume::Start(o);
    ASSERT_NE(alice_vol_, nullptr);
    ASSERT_TRUE(TryWriteFile(alice_vol_->Path("shared.txt"), "from alice"));
  }

  // A second mount of alice's backing directory as `user` (not mounted yet).
  std::unique_ptr<MountedVolume> VolumeFor(const KmsdUser& user, std::vector<std::string> mount_args = {}) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.user = user;
    o.key_id = alice_vol_->key_id();
    o.backing_dir = alice_vol_->backing_dir();
    o.mount = false;
    o.mount_args = std::move(mount_args);
    return MountedVolume::Start(o);
  }

  std::string Grant(const KmsdUser& grantee, const std::string& access, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"grant", "create", alice_vol_->backing_dir(), "--grantee", grantee.id,
                                     "--access", access};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = RunKmsfs(args, alice_vol_->Env());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return TrimTrailing(r.out);
  }

  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser alice_, bob_, carol_;
  std::unique_ptr<MountedVolume> alice_vol_;
};

TEST_F(GrantsTest, ReadGrantMountsReadOnlyAndWriteGrantSharesBothWays) {
  auto bob = VolumeFor(bob_);
  ASSERT_NE(bob, nullptr);
  CommandResult r = bob->Mount();
  ASSERT_EQ(r.exit_code, 1) << "bob has no grant yet: " << r.err;

  Grant(bob_, "read");
  r = bob->Mount();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("read-only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("encrypt-datakey"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(bob->Path("shared.txt")), "from alice");
  int err = 0;
  EXPECT_FALSE(TryWriteFile(bob->Path("new.txt"), "x", &err));
  EXPECT_EQ(err, EROFS);
  ASSERT_TRUE(bob->Unmount());

  Grant(bob_, "write");
  r = bob->Mount();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("read-write"), std::string::npos) << r.out;
  ASSERT_TRUE(TryWriteFile(bob->Path("from-bob.txt"), "bob wrote this"));
  ASSERT_TRUE(bob->Unmount());
  // Alice reads bob's file (a fresh lookup: her mount has not seen the name).
  EXPECT_EQ(ReadFile(alice_vol_->Path("from-bob.txt")), "bob wrote this");
}

TEST_F(GrantsTest, ExplicitReadWriteMountIsRefusedWithOnlyReadAccess) {
  Grant(bob_, "read");
  auto bob = VolumeFor(bob_);
  ASSERT_NE(bob, nullptr);
  CommandResult r = bob->Mount({"-o", "rw"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("encrypt-datakey"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bob_.name), std::string::npos) << r.err;
}

TEST_F(GrantsTest, RevocationStopsUnopenedFilesWithinCacheTtlAndFreshMountsAtOnce) {
  ASSERT_TRUE(TryWriteFile(alice_vol_->Path("cold.txt"), "not yet read by bob"));
  const std::string grant_id = Grant(bob_, "read");
  auto bob = VolumeFor(bob_, {"--cache-ttl", "2"});
  ASSERT_NE(bob, nullptr);
  ASSERT_EQ(bob->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(bob->Path("shared.txt")), "from alice");  // key now cached

  CommandResult r = RunKmsfs({"grant", "revoke", alice_vol_->backing_dir(), grant_id}, alice_vol_->Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  int err = 0;
  ReadFile(bob->Path("cold.txt"), &err);
  EXPECT_EQ(err, EACCES) << "a key not cached needs the KMS, which now refuses";
  // Past the TTL (2 s, swept each second) the cached key is gone too.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ReadFile(bob->Path("shared.txt"), &err);
  EXPECT_EQ(err, EACCES);
  ASSERT_TRUE(bob->Unmount());
  r = bob->Mount();
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

// Issue 18: "revocation of a write grant stops creates within the bound and
// an open handle keeps working". Pre-wrapped DEKs age out with --cache-ttl,
// so bob's mount stops making files within the TTL (plus the once-a-second
// sweep), while a handle he opened before keeps its DEK for its lifetime.
TEST_F(GrantsTest, RevokingAWriteGrantStopsCreatesWithinTheBoundWhileAnOpenHandleKeepsWorking) {
  const std::string grant_id = Grant(bob_, "write");
  auto bob = VolumeFor(bob_, {"--cache-ttl", "2"});
  ASSERT_NE(bob, nullptr);
  ASSERT_EQ(bob->Mount().exit_code, 0);
  ASSERT_TRUE(TryWriteFile(bob->Path("held"), "bob's handle"));
  const int fd = open(bob->Path("held").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(TryWriteFile(bob->Path("before"), "made before the revocation"));

  CommandResult r = RunKmsfs({"grant", "revoke", alice_vol_->backing_dir(), grant_id}, alice_vol_->Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto revoked = std::chrono::steady_clock::now();
  const auto bound = std::chrono::seconds(2 + 2);
  int err = 0;
  int made = 0;
  for (;;) {
    if (!TryWriteFile(bob->Path("after" + std::to_string(made)), "x", &err)) break;
    ++made;
    ASSERT_LT(std::chrono::steady_clock::now() - revoked, bound) << made << " files made after the revocation";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::steady_clock::now() - revoked;
  EXPECT_TRUE(err == EACCES || err == EIO) << std::strerror(err);
  EXPECT_LT(took, bound);
  RecordProperty("creates_stopped_after_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  int again = 0;
  EXPECT_FALSE(TryWriteFile(bob->Path("later"), "x", &again));
  EXPECT_FALSE(std::filesystem::exists(alice_vol_->BackingPath("later")));

  // The handle opened before keeps reading and writing, past the TTL too.
  char buf[64] = {};
  EXPECT_EQ(pwrite(fd, "KEPT", 4, 0), 4);
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 12);
  EXPECT_EQ(std::string(buf, 12), "KEPTs handle");
  EXPECT_EQ(pwrite(fd, " and more", 9, 12), 9);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(close(fd), 0);
  EXPECT_EQ(ReadFile(alice_vol_->Path("held")), "KEPTs handle and more");
  for (int i = 0; i < made; ++i) EXPECT_EQ(ReadFile(alice_vol_->Path("after" + std::to_string(i))), "x");
}

TEST_F(GrantsTest, RetiringPrincipalRetiresAGrant) {
  const std::string grant_id = Grant(bob_, "read", {"--retiring", carol_.id, "--name", "for-bob"});
  CommandResult r = RunKmsfs({"grant", "list", alice_vol_->backing_dir()}, alice_vol_->Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(grant_id), std::string::npos);
  EXPECT_NE(r.out.find(bob_.id), std::string::npos);
  EXPECT_NE(r.out.find("decrypt-datakey"), std::string::npos);
  EXPECT_NE(r.out.find("for-bob"), std::string::npos);
  // Bob may not retire it (he is not the retiring principal and holds no retire-grant).
  r = RunKmsfs({"grant", "retire", alice_vol_->backing_dir(), grant_id}, KmsEnv(*kmsd_, bob_));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = RunKmsfs({"grant", "retire", alice_vol_->backing_dir(), grant_id}, KmsEnv(*kmsd_, carol_));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bob = VolumeFor(bob_);
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->Mount().exit_code, 1);
}

TEST_F(GrantsTest, DefaultMasterKeyRefusesGrantsWithAClearError) {
  const auto env = alice_vol_->Env();
  CommandResult r = RunKmsfs({"key", "list"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string default_key;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("/default") != std::string::npos) default_key = line.substr(0, 36);
  }
  ASSERT_FALSE(default_key.empty()) << r.out;
  TempDir dir;
  r = RunKmsfs({"init", dir.Join("b"), "--key", default_key}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunKmsfs({"grant", "create", dir.Join("b"), "--grantee", bob_.id}, env);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("KMS.0211"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("default master key"), std::string::npos) << r.err;
}

TEST_F(GrantsTest, TwoMountsOfOneBackingDirectorySeeEachOthersChanges) {
  Grant(bob_, "write");
  auto bob = VolumeFor(bob_, {"--shared-storage"});
  ASSERT_NE(bob, nullptr);
  ASSERT_EQ(bob->Mount().exit_code, 0);
  ASSERT_TRUE(TryWriteFile(bob->Path("ping"), "ping from bob"));
  EXPECT_EQ(ReadFile(alice_vol_->Path("ping")), "ping from bob");
  ASSERT_TRUE(TryWriteFile(alice_vol_->Path("ping"), "pong from alice, longer"));
  EXPECT_EQ(ReadFile(bob->Path("ping")), "pong from alice, longer");
  ASSERT_EQ(unlink(alice_vol_->Path("ping").c_str()), 0);
  // Alice's mount (not --shared-storage) answers an unlink before its worker
  // removes the backing file: another mount sees the name go moments later.
  struct stat st;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (stat(bob->Path("ping").c_str(), &st) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(stat(bob->Path("ping").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  // Bob's, with --shared-storage, removes it before answering.
  ASSERT_TRUE(TryWriteFile(bob->Path("pong"), "from bob"));
  ASSERT_EQ(unlink(bob->Path("pong").c_str()), 0);
  EXPECT_FALSE(std::filesystem::exists(bob->BackingPath("pong")));
}

// Local Unix permissions on top of KMS access, with allow_other and
// default_permissions: another uid is held to the file's mode bits.
TEST_F(GrantsTest, AllowOtherWithDefaultPermissionsChecksUnixModes) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  auto multi = VolumeFor(alice_, {"-o", "allow_other,default_permissions"});
  ASSERT_NE(multi, nullptr);
  ASSERT_EQ(multi->Mount().exit_code, 0);
  ASSERT_TRUE(TryWriteFile(multi->Path("private"), "root only"));
  ASSERT_EQ(chmod(multi->Path("private").c_str(), 0600), 0);
  ASSERT_TRUE(TryWriteFile(multi->Path("public"), "everyone"));
  ASSERT_EQ(chmod(multi->Path("public").c_str(), 0644), 0);
  // mkdtemp made the test directory 0700; let the other uid walk to the mount.
  chmod(std::filesystem::path(multi->mountpoint()).parent_path().c_str(), 0755);
  chmod(multi->mountpoint().c_str(), 0755);
  auto open_as_nobody = [&](const std::string& path) {
    return RunAsNobody([&] { return open(path.c_str(), O_RDONLY) >= 0 ? 0 : errno; });
  };
  EXPECT_EQ(open_as_nobody(multi->Path("private")), EACCES);
  EXPECT_EQ(open_as_nobody(multi->Path("public")), 0);
}

}  // namespace
}  // namespace kmsfs::testing
