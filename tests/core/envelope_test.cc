// Envelope over the in-process FakeKeyWrapper: DEKs and volume keys round
// trip bound to their file / volume, a wrapped key moved to another file,
// volume or key does not unwrap, the KMS's refusals keep their code, and the
// access check answers read-write, read-only and no access as a mount asks.
#include "fs/core/envelope.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <string>

#include "fs/format/block_codec.h"
#include "tests/core/fake_key_wrapper.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;

bool SameBytes(const SecretBytes& a, const SecretBytes& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

format::FileId FileIdOf(uint8_t first) {
  format::FileId id{};
  id[0] = first;
  id[15] = 0x5a;
  return id;
}

class EnvelopeTest : public ::testing::Test {
 protected:
  // The header of a file whose DEK was wrapped by the envelope.
  format::FileHeader WrappedFile(const SecretBytes& dek, const format::FileId& file_id) {
    format::FileHeader h;
    h.file_id = file_id;
    h.key_id = kKeyId;
    auto wrapped = envelope_.WrapDek(kKeyId, dek, file_id);
    EXPECT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    h.wrapped_dek = wrapped.ok() ? *wrapped : "";
    return h;
  }

  // A sealed version 2 config whose volume key the envelope wrapped.
  format::VolumeConfig VersionTwoConfig() {
    format::VolumeConfig c;
    c.key_id = kKeyId;
    c.project_id = "project";
    c.volume_id[0] = 0x42;
    auto wrapped = envelope_.WrapVolumeKey(kKeyId, volume_key_, c.volume_id);
    EXPECT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    c.wrapped_volume_key = wrapped.ok() ? *wrapped : "";
    EXPECT_TRUE(c.Seal(volume_key_).ok());
    return c;
  }

  // A version 1 config: a canary DEK instead of a volume key, no MAC.
  format::VolumeConfig VersionOneConfig() {
    format::VolumeConfig c;
    c.version = 1;
    c.key_id = kKeyId;
    c.project_id = "project";
    c.canary_file_id = FileIdOf(0xca);
    auto wrapped = envelope_.WrapDek(kKeyId, Envelope::NewDek(), c.canary_file_id);
    EXPECT_TRUE(wrapped.ok());
    c.canary_wrapped_dek = wrapped.ok() ? *wrapped : "";
    return c;
  }

  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
  Envelope envelope_{kms_};
  SecretBytes volume_key_ = Envelope::NewVolumeKey();
};

TEST_F(EnvelopeTest, NewKeysHaveTheFormatsSizes) {
  EXPECT_EQ(Envelope::NewDek().size(), format::kDekSize);
  EXPECT_EQ(Envelope::NewVolumeKey().size(), format::kVolumeKeySize);
  EXPECT_FALSE(SameBytes(Envelope::NewDek(), Envelope::NewDek()));
}

TEST_F(EnvelopeTest, DekRoundTripsBoundToItsFile) {
  const SecretBytes dek = Envelope::NewDek();
  const format::FileHeader h = WrappedFile(dek, FileIdOf(1));
  EXPECT_EQ(kms_->ContextOf(h.wrapped_dek),
            (kms::EncryptionContext{{"kmsfs_file_id", format::FileIdHex(FileIdOf(1))}}));
  auto back = envelope_.UnwrapDek(h);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(SameBytes(*back, dek));
}

TEST_F(EnvelopeTest, DekCopiedIntoAnotherFilesHeaderIsRefused) {
  format::FileHeader h = WrappedFile(Envelope::NewDek(), FileIdOf(1));
  h.file_id = FileIdOf(2);  // the wrapped DEK planted in another file's header
  auto back = envelope_.UnwrapDek(h);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.2201");
}

TEST_F(EnvelopeTest, DekUnderAnotherKeyIdIsRefused) {
  format::FileHeader h = WrappedFile(Envelope::NewDek(), FileIdOf(1));
  h.key_id = kOtherKeyId;
  auto back = envelope_.UnwrapDek(h);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.2201");
}

TEST_F(EnvelopeTest, WrappedVolumeKeyDoesNotUnwrapAsAFilesDek) {
  // A volume key wrapped for volume 0x42 presented as a file's DEK: another
  // context and another length.
  const format::VolumeConfig c = VersionTwoConfig();
  format::FileHeader h;
  h.key_id = kKeyId;
  h.wrapped_dek = c.wrapped_volume_key;
  EXPECT_FALSE(envelope_.UnwrapDek(h).ok());
}

TEST_F(EnvelopeTest, RefusalKeepsTheKmsCode) {
  const format::FileHeader h = WrappedFile(Envelope::NewDek(), FileIdOf(1));
  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  auto back = envelope_.UnwrapDek(h);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.0306");
  EXPECT_EQ(kms::KmsHttpStatus(back.status()), 403);
}

TEST_F(EnvelopeTest, AsyncFormsCarryTheirPriorityAndAnswerOnce) {
  const SecretBytes dek = Envelope::NewDek();
  int wrapped_calls = 0;
  std::string wrapped;
  (void)envelope_.WrapDekAsync(kKeyId, dek, FileIdOf(3), kms::Priority::kRefill, [&](StatusOr<std::string> w) {
    ++wrapped_calls;
    ASSERT_TRUE(w.ok());
    wrapped = *w;
  });
  ASSERT_EQ(wrapped_calls, 1);
  format::FileHeader h;
  h.file_id = FileIdOf(3);
  h.key_id = kKeyId;
  h.wrapped_dek = wrapped;
  int unwrapped_calls = 0;
  (void)envelope_.UnwrapDekAsync(h, kms::Priority::kPrefetch, [&](StatusOr<SecretBytes> d) {
    ++unwrapped_calls;
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(SameBytes(*d, dek));
  });
  EXPECT_EQ(unwrapped_calls, 1);
  EXPECT_EQ(kms_->async_priorities(), (std::vector<kms::Priority>{kms::Priority::kRefill, kms::Priority::kPrefetch}));
}

TEST_F(EnvelopeTest, AccessIsReadWriteWhenBothCallsAreAllowed) {
  const format::VolumeConfig c = VersionTwoConfig();
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  EXPECT_EQ(access->access, Access::kReadWrite);
  EXPECT_TRUE(SameBytes(access->volume_key, volume_key_));
  EXPECT_TRUE(access->refusal.ok());
}

TEST_F(EnvelopeTest, AccessWithoutProbeIsReadOnlyAndMakesNoWrap) {
  const format::VolumeConfig c = VersionTwoConfig();
  const int wraps = kms_->wraps.load();
  auto access = envelope_.CheckAccess(c, /*probe_write=*/false);
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  EXPECT_EQ(access->access, Access::kReadOnly);
  EXPECT_EQ(kms_->wraps.load(), wraps);
  EXPECT_EQ(kms_->unwraps.load(), 1);
}

TEST_F(EnvelopeTest, AccessIsReadOnlyWhenWrapIsRefused) {
  const format::VolumeConfig c = VersionTwoConfig();
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  EXPECT_EQ(access->access, Access::kReadOnly);
  EXPECT_TRUE(SameBytes(access->volume_key, volume_key_));
  EXPECT_EQ(access->refusal.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(access->refusal), "KMS.0306");
  EXPECT_EQ(access->refusal.message(), std::string("fake-user (id fake) may not call encrypt-datakey on key ") +
                                           kKeyId + " (KMS.0306: No access permissions.)");
}

TEST_F(EnvelopeTest, AccessIsNoneWhenUnwrapIsRefused) {
  const format::VolumeConfig c = VersionTwoConfig();
  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  const int wraps = kms_->wraps.load();
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  EXPECT_EQ(access->access, Access::kNone);
  EXPECT_EQ(access->volume_key.size(), 0u);
  EXPECT_EQ(access->refusal.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(access->refusal), "KMS.0306");
  EXPECT_NE(access->refusal.message().find("may not call decrypt-datakey on key"), std::string::npos);
  EXPECT_EQ(kms_->wraps.load(), wraps) << "no write probe after a read refusal";
}

TEST_F(EnvelopeTest, AccessCheckFailsOnAConfigChangedWithoutTheVolumeKey) {
  format::VolumeConfig c = VersionTwoConfig();
  c.block_size = 8192;  // not re-sealed
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(access.status().code(), StatusCode::kDataLoss);
}

TEST_F(EnvelopeTest, AccessCheckRefusesAVolumeKeyMovedFromAnotherVolume) {
  format::VolumeConfig c = VersionTwoConfig();
  c.volume_id[0] = 0x43;  // the wrapped key is bound to volume 0x42
  ASSERT_TRUE(c.Seal(volume_key_).ok());
  auto access = envelope_.CheckAccess(c, /*probe_write=*/false);
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(kms::KmsErrorCode(access.status()), "KMS.2201");
}

TEST_F(EnvelopeTest, AccessCheckOfAnUnreachableKmsIsAnError) {
  const format::VolumeConfig c = VersionTwoConfig();
  kms_->down = true;
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(access.status().code(), StatusCode::kUnavailable);
}

TEST_F(EnvelopeTest, WriteProbeThatFailsOtherwiseThanByRefusalIsAnError) {
  const format::VolumeConfig c = VersionTwoConfig();
  kms_->FailWraps(Status::Unavailable("connection reset"));
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(access.status().code(), StatusCode::kUnavailable);
}

TEST_F(EnvelopeTest, VersionOneAccessUnwrapsTheCanaryAndProbesWithAFreshDek) {
  const format::VolumeConfig c = VersionOneConfig();
  auto access = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  EXPECT_EQ(access->access, Access::kReadWrite);
  EXPECT_EQ(access->volume_key.size(), 0u);

  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  auto none = envelope_.CheckAccess(c, /*probe_write=*/true);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->access, Access::kNone);
}

}  // namespace
}  // namespace kmsfs::core
