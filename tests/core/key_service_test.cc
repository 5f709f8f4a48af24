// KeyService over the in-process FakeKeyWrapper: which KMS calls it makes, at
// which priority, bound to which file, and what a refusal or a foreign header
// becomes — without a kmsd.
#include "fs/core/key_service.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <string>
#include <vector>

#include "base/work_queue.h"
#include "tests/core/fake_key_wrapper.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;
using kmsfs::testing::kWait;

constexpr crypto::CipherSuite kSuite = crypto::CipherSuite::kAes256Gcm;

class KeyServiceTest : public ::testing::Test {
 protected:
  // A service without a pool: every create wraps directly.
  std::unique_ptr<KeyService> Service(KeyServiceOptions options = {}) {
    return std::make_unique<KeyService>(kKeyId, std::vector<std::string>{kKeyId}, kSuite, 4096, Envelope(kms_),
                                        options);
  }

  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
};

TEST_F(KeyServiceTest, NewFileWrapsItsDekAtInteractivePriorityBoundToItsFileId) {
  auto keys = Service();
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(kms_->async_priorities(), std::vector<kms::Priority>{kms::Priority::kInteractive});
  EXPECT_EQ(file->header.key_id, kKeyId);
  EXPECT_EQ(kms_->ContextOf(file->header.wrapped_dek),
            (kms::EncryptionContext{{"kmsfs_file_id", format::FileIdHex(file->header.file_id)}}));
  EXPECT_EQ(file->key.key().size(), format::kDekSize);
}

TEST_F(KeyServiceTest, PoolRefillsWrapAtRefillPriority) {
  WorkQueue queue;
  KeyServiceOptions options;
  options.pool.target = 3;
  auto keys = std::make_unique<KeyService>(kKeyId, std::vector<std::string>{kKeyId}, kSuite, 4096, Envelope(kms_),
                                           options, &queue);
  // The first create finds the pool empty (or a refill under way) and
  // starts the refill.
  ASSERT_TRUE(keys->NewFile().ok());
  ASSERT_TRUE(kms_->AwaitAsyncCalls(3));
  const std::vector<kms::Priority> priorities = kms_->async_priorities();
  EXPECT_GE(std::count(priorities.begin(), priorities.end(), kms::Priority::kRefill), 2);
  keys.reset();  // stops the pool before the queue goes
}

TEST_F(KeyServiceTest, KeyForUnwrapsOnceThenServesTheCache) {
  KeyServiceOptions options;
  options.cache.ttl = std::chrono::seconds(60);
  auto keys = Service(options);
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok());
  auto other = Service(options);  // a fresh cache: the key must come from the KMS
  auto first = other->KeyFor(file->header);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(sodium_memcmp(first->key().data(), file->key.key().data(), format::kDekSize), 0);
  auto second = other->KeyFor(file->header);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(kms_->unwraps.load(), 1);
  EXPECT_EQ(other->stats().kms_calls, 1u);
}

TEST_F(KeyServiceTest, BackgroundLoadUnwrapsAtTheGivenPriority) {
  auto keys = Service();
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok());
  auto other = Service();
  bool loaded = false;
  other->LoadInBackground(file->header, kms::Priority::kPrefetch,
                          [&](StatusOr<cache::DekCache::Handle> key) { loaded = key.ok(); });
  ASSERT_TRUE(kms_->AwaitAsyncCalls(2));
  EXPECT_TRUE(loaded);
  EXPECT_EQ(kms_->async_priorities().back(), kms::Priority::kPrefetch);
}

TEST_F(KeyServiceTest, RefusalIsPermissionDeniedNamingUserAndKeyWithTheKmsCode) {
  auto keys = Service();
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok());
  auto other = Service();
  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  auto key = other->KeyFor(file->header);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(key.status()), "KMS.0306");
  EXPECT_NE(key.status().message().find("fake-user (id fake)"), std::string::npos) << key.status().message();
  EXPECT_NE(key.status().message().find(kKeyId), std::string::npos);
  EXPECT_EQ(other->stats().kms_errors, 1u);
}

TEST_F(KeyServiceTest, UnreachableKmsIsUnavailable) {
  auto keys = Service();
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok());
  auto other = Service();
  kms_->down = true;
  auto key = other->KeyFor(file->header);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kUnavailable);
}

TEST_F(KeyServiceTest, ForeignHeaderIsRefusedBeforeAnyKmsCall) {
  auto keys = Service();
  auto file = keys->NewFile();
  ASSERT_TRUE(file.ok());
  format::FileHeader foreign = file->header;
  foreign.key_id = kOtherKeyId;
  auto other = Service();
  auto key = other->KeyFor(foreign);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(kms_->unwraps.load(), 0);
  EXPECT_EQ(other->stats().foreign_headers, 1u);
}

TEST_F(KeyServiceTest, ReadOnlyServiceNeverWraps) {
  KeyServiceOptions options;
  options.read_only = true;
  auto keys = Service(options);
  auto file = keys->NewFile();
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(kms_->wraps.load(), 0);
}

}  // namespace
}  // namespace kmsfs::core
