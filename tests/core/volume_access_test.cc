// UnlockVolume and ChooseMountAccess over the in-process FakeKeyWrapper: the
// access a mount finds (read-write, read-only, none) and what it makes of
// -o ro / -o rw, decided in the core; the pin is checked before any KMS call.
#include "fs/core/volume_access.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;
using kmsfs::testing::TempDir;

UnlockOptions Probe(bool probe_write) {
  UnlockOptions o;
  o.probe_write = probe_write;
  return o;
}

class VolumeAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    format::VolumeConfig c;
    c.key_id = kKeyId;
    c.project_id = "project";
    c.volume_id[0] = 0x42;
    auto wrapped = envelope_.WrapVolumeKey(kKeyId, volume_key_, c.volume_id);
    ASSERT_TRUE(wrapped.ok());
    c.wrapped_volume_key = *wrapped;
    ASSERT_TRUE(c.Seal(volume_key_).ok());
    ASSERT_TRUE(c.Store(dir_.path()).ok());
    calls_before_ = kms_->wraps.load() + kms_->unwraps.load();
  }

  int CallsSinceSetUp() const { return kms_->wraps.load() + kms_->unwraps.load() - calls_before_; }

  TempDir dir_;
  TempDir home_;
  Pins pins_{home_.path() + "/pins.json"};
  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
  Envelope envelope_{kms_};
  SecretBytes volume_key_ = Envelope::NewVolumeKey();
  int calls_before_ = 0;
};

TEST_F(VolumeAccessTest, OwnerUnlocksReadWriteAndPinsOnFirstUse) {
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(true));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->access, Access::kReadWrite);
  EXPECT_TRUE(u->writable);
  EXPECT_TRUE(u->newly_pinned);
  EXPECT_EQ(u->pin.key_id, kKeyId);
  auto mount = ChooseMountAccess(*u, MountRequest::kEither);
  ASSERT_TRUE(mount.ok());
  EXPECT_FALSE(mount->read_only);
  EXPECT_TRUE(mount->downgraded_because.empty());
}

TEST_F(VolumeAccessTest, RefusedWrapMakesAReadOnlyMountWithTheReason) {
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(true));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->access, Access::kReadOnly);
  EXPECT_FALSE(u->writable);
  EXPECT_EQ(kms::KmsErrorCode(u->write_refusal), "KMS.0306");
  auto mount = ChooseMountAccess(*u, MountRequest::kEither);
  ASSERT_TRUE(mount.ok());
  EXPECT_TRUE(mount->read_only);
  EXPECT_EQ(mount->downgraded_because, std::string("fake-user (id fake) may not call encrypt-datakey on key ") +
                                           kKeyId + " (KMS.0306: No access permissions.)");
}

TEST_F(VolumeAccessTest, RefusedWrapRefusesAnExplicitReadWriteMount) {
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(true));
  ASSERT_TRUE(u.ok());
  auto mount = ChooseMountAccess(*u, MountRequest::kReadWrite);
  ASSERT_FALSE(mount.ok());
  EXPECT_EQ(mount.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(mount.status()), "KMS.0306");
  EXPECT_NE(mount.status().message().find("cannot be mounted read-write; drop '-o rw' to mount it read-only"),
            std::string::npos)
      << mount.status().message();
}

TEST_F(VolumeAccessTest, ExplicitReadOnlyMountDoesNotProbeWriting) {
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(false));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(CallsSinceSetUp(), 1) << "only the volume key's unwrap";
  auto mount = ChooseMountAccess(*u, MountRequest::kReadOnly);
  ASSERT_TRUE(mount.ok());
  EXPECT_TRUE(mount->read_only);
  EXPECT_TRUE(mount->downgraded_because.empty());
}

TEST_F(VolumeAccessTest, RefusedUnwrapIsNoAccessNamingUserKeyAndCode) {
  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(true));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(u.status()), "KMS.0306");
  EXPECT_EQ(u.status().message(), std::string("fake-user (id fake) may not call decrypt-datakey on key ") + kKeyId +
                                      " (KMS.0306: No access permissions.)");
  EXPECT_EQ(kms_->wraps.load(), 1) << "no write probe after a refusal (the one wrap is SetUp's)";
}

TEST_F(VolumeAccessTest, PinnedToAnotherKeyRefusesBeforeAnyKmsCall) {
  Pin other;
  other.key_id = kOtherKeyId;
  char real[PATH_MAX];
  ASSERT_NE(realpath(dir_.path().c_str(), real), nullptr);
  ASSERT_TRUE(pins_.Put(real, other).ok());
  auto u = UnlockVolume(dir_.path(), envelope_, pins_, Probe(true));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CallsSinceSetUp(), 0);
}

}  // namespace
}  // namespace kmsfs::core
