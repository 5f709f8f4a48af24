// Making a volume and moving it to another key, decided in the core
// (volume_init.h, volume_rewrap.h), over the in-process FakeKeyWrapper: what
// is written, what the pin says, and what is refused before anything is.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "fs/core/dir_values.h"
#include "fs/core/header_backup.h"
#include "fs/core/volume_access.h"
#include "fs/core/volume_init.h"
#include "fs/core/volume_rewrap.h"
#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;
using kmsfs::testing::kThirdKeyId;
using kmsfs::testing::ReadFileOrDie;
using kmsfs::testing::WriteFileOrDie;
using kmsfs::testing::TempDir;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// A FakeKeyWrapper that runs `before_wrap` once, inside the next wrap: what
// another local user can do while a command waits for the KMS.
class HookedKeyWrapper : public FakeKeyWrapper {
 public:
  StatusOr<std::string> Wrap(std::string_view key_id, const SecretBytes& key,
                             const kms::EncryptionContext& context) override {
    if (before_wrap) {
      auto hook = std::move(before_wrap);
      before_wrap = nullptr;
      hook();
    }
    return FakeKeyWrapper::Wrap(key_id, key, context);
  }
  std::function<void()> before_wrap;
};

class VolumeLifecycleTest : public ::testing::Test {
 protected:
  static VolumeSettings Settings() {
    VolumeSettings s;
    s.key_id = kKeyId;
    s.project_id = "project";
    return s;
  }

  // A fresh volume at `path` (dir_/vol by default), made by the owner.
  void MakeVolume(const std::string& path = "", VolumeSettings settings = Settings()) {
    auto prepared = PrepareVolumeDir(path.empty() ? vol_ : path, settings);
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    auto config = CreateVolume(*prepared, settings, envelope_, pins_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
  }

  // The user's pin of `path`, if any.
  std::optional<Pin> PinAt(const std::string& path) {
    char real[PATH_MAX];
    if (realpath(path.c_str(), real) == nullptr) return std::nullopt;
    auto pin = pins_.Find(real);
    EXPECT_TRUE(pin.ok());
    return pin.ok() ? *pin : std::nullopt;
  }

  // From now on dir_/vol is a symlink to `target`; the directory that was
  // there is dir_/vol.away.
  void SwapVolFor(const std::string& target) {
    ASSERT_EQ(rename(vol_.c_str(), (vol_ + ".away").c_str()), 0);
    ASSERT_EQ(symlink(target.c_str(), vol_.c_str()), 0);
  }

  UnlockedVolume Unlock(const Pins* pins = nullptr) {
    auto u = UnlockVolume(vol_, envelope_, pins == nullptr ? pins_ : *pins, {});
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return std::move(u).value();
  }

  format::VolumeConfig Stored() {
    auto c = format::VolumeConfig::Load(vol_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }

  Pin PinNow() {
    auto real = Unlock().backing_dir;
    auto pin = pins_.Find(real);
    EXPECT_TRUE(pin.ok() && pin->has_value());
    return **pin;
  }

  TempDir dir_;
  TempDir home_;
  const std::string vol_ = dir_.path() + "/vol";
  Pins pins_{home_.path() + "/pins.json"};
  std::shared_ptr<HookedKeyWrapper> kms_ = std::make_shared<HookedKeyWrapper>();
  Envelope envelope_{kms_};
};

TEST_F(VolumeLifecycleTest, ANewVolumeIsSealedPinnedAndItsRootHasANameValue) {
  MakeVolume();
  const format::VolumeConfig c = Stored();
  EXPECT_EQ(c.version, format::VolumeConfig::kVersion);
  EXPECT_EQ(c.key_id, kKeyId);
  EXPECT_EQ(c.project_id, "project");
  EXPECT_EQ(c.names, format::NameMode::kEncrypted);
  EXPECT_FALSE(c.rewrap.has_value());
  UnlockedVolume u = Unlock();
  EXPECT_FALSE(u.newly_pinned) << "init pins the volume itself";
  EXPECT_EQ(u.pin.key_id, kKeyId);
  EXPECT_TRUE(c.VerifyMac(u.volume_key).ok());
  UniqueFd root(open(vol_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root.valid());
  EXPECT_TRUE(ReadDirValue(root.get()).ok());
}

TEST_F(VolumeLifecycleTest, ANonEmptyDirectoryIsRefusedAndAVolumeIsNamedAsOne) {
  ASSERT_EQ(mkdir(vol_.c_str(), 0700), 0);
  WriteFileOrDie(vol_ + "/notes.txt", "plain");
  auto prepared = PrepareVolumeDir(vol_, Settings());
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(prepared.status().message().find("is not empty"), std::string::npos) << prepared.status().message();
  ASSERT_EQ(unlink((vol_ + "/notes.txt").c_str()), 0);

  MakeVolume();
  auto again = PrepareVolumeDir(vol_, Settings());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already a kmsfs backing directory"), std::string::npos)
      << again.status().message();
}

TEST_F(VolumeLifecycleTest, AVolumeTheKmsRefusesToWrapForLeavesNoConfigAndNoPin) {
  auto prepared = PrepareVolumeDir(vol_, Settings());
  ASSERT_TRUE(prepared.ok());
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto config = CreateVolume(*prepared, Settings(), envelope_, pins_);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(config.status()), "KMS.0306");
  EXPECT_NE(config.status().message().find("fake-user"), std::string::npos) << config.status().message();
  EXPECT_NE(config.status().message().find(kKeyId), std::string::npos) << config.status().message();
  EXPECT_FALSE(Exists(vol_ + "/" + format::kConfigFileName));
  auto pin = pins_.Find(prepared->backing_dir);
  ASSERT_TRUE(pin.ok());
  EXPECT_FALSE(pin->has_value());
}

TEST_F(VolumeLifecycleTest, ARewrapRecordsItsTargetThenMovesTheVolumeAndThePinToIt) {
  MakeVolume();
  UnlockedVolume before = Unlock();
  auto started = BeginVolumeRewrap(before, envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_TRUE(Stored().rewrap.has_value());
  EXPECT_EQ(Stored().rewrap->to_key, kOtherKeyId);
  EXPECT_EQ(Stored().key_id, kKeyId) << "the volume names its old key until every file moved";
  EXPECT_EQ(PinNow().rewrap_key, kOtherKeyId);
  UnlockedVolume during = Unlock();
  EXPECT_TRUE(during.rewrap_trusted);
  EXPECT_EQ(during.AcceptedKeyIds(), (std::vector<std::string>{kKeyId, kOtherKeyId}));

  auto finished = FinishVolumeRewrap(during, *started, pins_);
  ASSERT_TRUE(finished.ok()) << finished.status().ToString();
  EXPECT_EQ(Stored().key_id, kOtherKeyId);
  EXPECT_FALSE(Stored().rewrap.has_value());
  const Pin pin = PinNow();
  EXPECT_EQ(pin.key_id, kOtherKeyId);
  EXPECT_TRUE(pin.rewrap_key.empty());
  UnlockedVolume after = Unlock();
  EXPECT_TRUE(after.volume_key.Equals(before.volume_key)) << "the volume key itself does not change";
}

TEST_F(VolumeLifecycleTest, AnUnfinishedRewrapToAnotherKeyIsNamedAndNotReplaced) {
  MakeVolume();
  ASSERT_TRUE(BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
  auto other = BeginVolumeRewrap(Unlock(), envelope_, pins_, {kThirdKeyId, std::nullopt});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find(kOtherKeyId), std::string::npos) << other.status().message();
  EXPECT_EQ(Stored().rewrap->to_key, kOtherKeyId);
  // Resuming the same target is fine.
  EXPECT_TRUE(BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
}

TEST_F(VolumeLifecycleTest, ATargetThePinDoesNotNameIsNeitherNamedNorResumedWithoutTheUsersWord) {
  MakeVolume();
  ASSERT_TRUE(BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
  // The pin forgets the target: to this user it is as if someone else wrote it.
  Pin pin = PinNow();
  pin.rewrap_key.clear();
  ASSERT_TRUE(pins_.Put(Unlock().backing_dir, pin).ok());
  UnlockedVolume u = Unlock();
  ASSERT_FALSE(u.rewrap_trusted);

  auto refused = BeginVolumeRewrap(u, envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().message().find(kOtherKeyId), std::string::npos)
      << "an untrusted target is never suggested: " << refused.status().message();
  auto wrong_word = BeginVolumeRewrap(u, envelope_, pins_, {kThirdKeyId, std::string(kThirdKeyId)});
  EXPECT_FALSE(wrong_word.ok());
  EXPECT_TRUE(PinNow().rewrap_key.empty());

  auto accepted = BeginVolumeRewrap(u, envelope_, pins_, {kOtherKeyId, std::string(kOtherKeyId)});
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(PinNow().rewrap_key, kOtherKeyId);
}

TEST_F(VolumeLifecycleTest, ARecordedTargetWhoseVolumeKeyIsAnotherIsRefused) {
  MakeVolume();
  UnlockedVolume u = Unlock();
  ASSERT_TRUE(BeginVolumeRewrap(u, envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
  // Someone with the volume key re-MACs a config whose target holds another key.
  format::VolumeConfig planted = Stored();
  auto other_key = envelope_.WrapVolumeKey(kOtherKeyId, Envelope::NewVolumeKey(), planted.volume_id);
  ASSERT_TRUE(other_key.ok());
  planted.rewrap->wrapped_volume_key = *other_key;
  ASSERT_TRUE(planted.Seal(u.volume_key).ok());
  ASSERT_TRUE(planted.Store(vol_).ok());

  auto resumed = BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.status().code(), StatusCode::kDataLoss);
}

TEST_F(VolumeLifecycleTest, ATargetTheKmsRefusesLeavesConfigAndPinAsTheyWere) {
  MakeVolume();
  const std::string config_before = Stored().ToJson();
  const Pin pin_before = PinNow();
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto started = BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(started.status()), "KMS.0306");
  EXPECT_NE(started.status().message().find(kOtherKeyId), std::string::npos) << started.status().message();
  kms_->Heal();
  EXPECT_EQ(Stored().ToJson(), config_before);
  EXPECT_EQ(PinNow(), pin_before);
}

TEST_F(VolumeLifecycleTest, InitNeverWritesThroughADirectorySwappedForASymlinkMeanwhile) {
  for (format::NameMode names : {format::NameMode::kEncrypted, format::NameMode::kPlaintext}) {
    SCOPED_TRACE(std::string(format::NameModeName(names)));
    // Another volume of this user, which the swap points at.
    const std::string other = dir_.path() + "/other-" + std::string(format::NameModeName(names));
    MakeVolume(other);
    const std::string other_config = ReadFileOrDie(other + "/" + format::kConfigFileName);
    const std::optional<Pin> other_pin = PinAt(other);
    ASSERT_TRUE(other_pin.has_value());

    VolumeSettings settings = Settings();
    settings.names = names;
    auto prepared = PrepareVolumeDir(vol_, settings);
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    kms_->before_wrap = [&] { SwapVolFor(other); };
    auto config = CreateVolume(*prepared, settings, envelope_, pins_);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), StatusCode::kFailedPrecondition) << config.status().ToString();
    EXPECT_EQ(ReadFileOrDie(other + "/" + format::kConfigFileName), other_config);
    EXPECT_EQ(PinAt(other), other_pin);
    // The volume was made where the command found an empty directory, unpinned.
    EXPECT_TRUE(Exists(vol_ + ".away/" + format::kConfigFileName));
    EXPECT_FALSE(PinAt(vol_ + ".away").has_value());

    ASSERT_EQ(unlink(vol_.c_str()), 0);
    std::filesystem::remove_all(vol_ + ".away");
  }
}

TEST_F(VolumeLifecycleTest, RewrapNeverWritesThroughADirectorySwappedForASymlinkMeanwhile) {
  const std::string other = dir_.path() + "/other";
  MakeVolume(other);
  MakeVolume();
  const std::string other_config = ReadFileOrDie(other + "/" + format::kConfigFileName);
  const std::optional<Pin> other_pin = PinAt(other);

  // While the target wraps the volume key.
  UnlockedVolume u = Unlock();
  kms_->before_wrap = [&] { SwapVolFor(other); };
  auto started = BeginVolumeRewrap(u, envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), StatusCode::kFailedPrecondition) << started.status().ToString();
  EXPECT_EQ(ReadFileOrDie(other + "/" + format::kConfigFileName), other_config);
  EXPECT_EQ(PinAt(other), other_pin);

  // Between the files and the end: the finish writes where it started.
  ASSERT_EQ(unlink(vol_.c_str()), 0);
  ASSERT_EQ(rename((vol_ + ".away").c_str(), vol_.c_str()), 0);
  UnlockedVolume again = Unlock();
  auto resumed = BeginVolumeRewrap(again, envelope_, pins_, {kOtherKeyId, std::string(kOtherKeyId)});
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  SwapVolFor(other);
  auto finished = FinishVolumeRewrap(again, *resumed, pins_);
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.status().code(), StatusCode::kFailedPrecondition) << finished.status().ToString();
  EXPECT_EQ(ReadFileOrDie(other + "/" + format::kConfigFileName), other_config);
  EXPECT_EQ(PinAt(other), other_pin);
}

TEST_F(VolumeLifecycleTest, HeadersImportNeverWritesThroughAPathSwappedAfterTheUnlock) {
  MakeVolume();
  UnlockedVolume u = Unlock();
  UniqueFd root(open(vol_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto value = ReadDirValue(root.get());
  ASSERT_TRUE(value.ok());
  // An empty directory of the user's, which the path now leads to.
  const std::string elsewhere = dir_.path() + "/elsewhere";
  ASSERT_EQ(mkdir(elsewhere.c_str(), 0700), 0);
  SwapVolFor(elsewhere);
  auto importer = HeaderImporter::New(u, envelope_);
  ASSERT_TRUE(importer.ok()) << importer.status().ToString();
  format::ExportedEntry entry;
  entry.kind = format::ExportedEntry::Kind::kDirectory;
  entry.value = *value;
  (*importer)->ImportDirectory(entry);
  EXPECT_EQ((*importer)->summary().already_there, 1u) << "the volume's own root already has it";
  char buf[64];
  EXPECT_LT(getxattr(elsewhere.c_str(), format::kHeaderXattrName, buf, sizeof buf), 0);
  EXPECT_EQ(errno, ENODATA);
}

TEST_F(VolumeLifecycleTest, ARecordedTargetIsNotTrustedOnFirstUse) {
  MakeVolume();
  ASSERT_TRUE(BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
  // The same volume seen by a user (or machine) with no pin for it yet.
  TempDir fresh_home;
  const Pins fresh(fresh_home.path() + "/pins.json");
  UnlockedVolume u = Unlock(&fresh);
  EXPECT_TRUE(u.newly_pinned);
  EXPECT_FALSE(u.rewrap_trusted);
  EXPECT_EQ(u.AcceptedKeyIds(), (std::vector<std::string>{kKeyId}));
  auto other = BeginVolumeRewrap(u, envelope_, fresh, {kThirdKeyId, std::nullopt});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message().find(kOtherKeyId), std::string::npos) << other.status().message();
  EXPECT_FALSE(BeginVolumeRewrap(u, envelope_, fresh, {kOtherKeyId, std::nullopt}).ok());
}

TEST_F(VolumeLifecycleTest, AKmsThatIsDownWhileATargetIsCheckedIsReportedAsSuch) {
  MakeVolume();
  ASSERT_TRUE(BeginVolumeRewrap(Unlock(), envelope_, pins_, {kOtherKeyId, std::nullopt}).ok());
  UnlockedVolume u = Unlock();
  kms_->down = true;
  auto resumed = BeginVolumeRewrap(u, envelope_, pins_, {kOtherKeyId, std::nullopt});
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.status().code(), StatusCode::kUnavailable) << resumed.status().ToString();
}

TEST_F(VolumeLifecycleTest, ABadBlockSizeAsksNoKmsAndWritesNothing) {
  VolumeSettings settings = Settings();
  settings.block_size = 3;
  auto prepared = PrepareVolumeDir(vol_, settings);
  ASSERT_TRUE(prepared.ok());
  const int wraps = kms_->wraps.load();
  auto config = CreateVolume(*prepared, settings, envelope_, pins_);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(kms_->wraps.load(), wraps);
  EXPECT_TRUE(PrepareVolumeDir(vol_, Settings()).ok()) << "the directory is still empty";
}

TEST_F(VolumeLifecycleTest, InitCanRunAgainAfterTheConfigCouldNotBeWritten) {
  for (format::HeaderMode header : {format::HeaderMode::kXattr, format::HeaderMode::kInline}) {
    SCOPED_TRACE(std::string(format::HeaderModeName(header)));
    VolumeSettings settings = Settings();
    settings.header = header;
    auto prepared = PrepareVolumeDir(vol_, settings);
    ASSERT_TRUE(prepared.ok());
    // Something stands where .kmsfs.json goes by the time it is written.
    const std::string blocker = vol_ + "/" + format::kConfigFileName;
    kms_->before_wrap = [&] { ASSERT_EQ(mkdir(blocker.c_str(), 0700), 0); };
    ASSERT_FALSE(CreateVolume(*prepared, settings, envelope_, pins_).ok());
    ASSERT_EQ(rmdir(blocker.c_str()), 0);
    // The root's name value was taken back: the directory is empty again.
    auto again = PrepareVolumeDir(vol_, settings);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    auto config = CreateVolume(*again, settings, envelope_, pins_);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    std::filesystem::remove_all(vol_);
  }
}

}  // namespace
}  // namespace kmsfs::core
