// KmsKeyWrapper against the real kmsd: what the fake of the core's unit tests
// (tests/core/fake_key_wrapper.h) stands in for. Wrapped keys round trip,
// synchronously and through the client's executor; kmsd refuses another
// context, another key and a caller without a grant with the codes the fake
// imitates; and the Envelope's access check over it answers read-write,
// read-only (a decrypt-only grant) and no access.
#include "fs/core/key_wrapper.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "fs/core/envelope.h"
#include "fs/format/block_codec.h"
#include "kms/http_kms_client.h"
#include "tests/testutil/kmsd_process.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::KmsdProcess;
using kmsfs::testing::KmsdUser;

constexpr auto kPatience = std::chrono::seconds(20);  // a bound for waits that end far sooner

bool SameBytes(const SecretBytes& a, const SecretBytes& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

const kms::EncryptionContext kContext = {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}};

// One asynchronous answer, waited for with a deadline.
template <typename T>
class Answer {
 public:
  kms::Callback<T> Callback() {
    return [this](StatusOr<T> value) {
      std::lock_guard<std::mutex> lock(mu_);
      value_.emplace(std::move(value));
      ++calls_;
      cv_.notify_all();
    };
  }
  std::optional<StatusOr<T>> Await() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kPatience, [&] { return value_.has_value(); })) return std::nullopt;
    return std::move(value_);
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<StatusOr<T>> value_;
  int calls_ = 0;
};

class KmsKeyWrapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = Client("alice");
    bob_ = Client("bob");
    ASSERT_NE(alice_, nullptr);
    ASSERT_NE(bob_, nullptr);
    kms::CreateKeyRequest req;
    req.key_alias = "wrapper";
    auto info = alice_->CreateKey(req);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    key_id_ = info->key_id;
  }

  const KmsdUser& User(const std::string& name) {
    for (const KmsdUser& u : users_) {
      if (u.name == name) return u;
    }
    ADD_FAILURE() << "no test user " << name;
    return users_.front();
  }

  std::shared_ptr<kms::Client> Client(const std::string& name) {
    const KmsdUser& u = User(name);
    kms::ConnectionConfig c;
    c.endpoint = kmsd_->endpoint();
    c.project_id = u.project_id;
    c.auth_url = kmsd_->endpoint() + "/v3";
    c.username = u.name;
    c.domain = u.domain;
    c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(u.password.data()), u.password.size()});
    auto client = kms::HttpClient::New(std::move(c));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::shared_ptr<kms::Client>(std::move(client).value()) : nullptr;
  }

  void GrantBob(std::vector<std::string> operations) {
    kms::CreateGrantRequest req;
    req.key_id = key_id_;
    req.grantee_principal = User("bob").id;
    req.operations = std::move(operations);
    auto id = alice_->CreateGrant(req);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
  }

  // A sealed version 2 config whose volume key alice wrapped.
  format::VolumeConfig Config() {
    format::VolumeConfig c;
    c.key_id = key_id_;
    c.project_id = User("alice").project_id;
    c.volume_id[0] = 0x42;
    auto wrapped = Envelope::OverKms(alice_).WrapVolumeKey(key_id_, volume_key_, c.volume_id);
    EXPECT_TRUE(wrapped.ok()) << wrapped.status().ToString();
    c.wrapped_volume_key = wrapped.ok() ? *wrapped : "";
    EXPECT_TRUE(c.Seal(volume_key_).ok());
    return c;
  }

  std::vector<KmsdUser> users_ = kmsfs::testing::DefaultTestUsers();
  std::unique_ptr<KmsdProcess> kmsd_;
  std::shared_ptr<kms::Client> alice_, bob_;
  std::string key_id_;
  SecretBytes volume_key_ = Envelope::NewVolumeKey();
};

TEST_F(KmsKeyWrapperTest, WrapThenUnwrapRoundTrips) {
  KmsKeyWrapper wrapper(alice_);
  const SecretBytes dek = Envelope::NewDek();
  auto wrapped = wrapper.Wrap(key_id_, dek, kContext);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  auto back = wrapper.Unwrap(key_id_, *wrapped, dek.size(), kContext);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(SameBytes(*back, dek));
}

TEST_F(KmsKeyWrapperTest, AsyncFormsRoundTripThroughTheExecutorAndAnswerOnce) {
  KmsKeyWrapper wrapper(alice_);
  const SecretBytes dek = Envelope::NewDek();
  Answer<std::string> wrapped;
  (void)wrapper.WrapAsync(key_id_, dek, kContext, kms::Priority::kRefill, wrapped.Callback());
  auto w = wrapped.Await();
  ASSERT_TRUE(w.has_value()) << "no answer in time";
  ASSERT_TRUE(w->ok()) << w->status().ToString();
  Answer<SecretBytes> unwrapped;
  (void)wrapper.UnwrapAsync(key_id_, **w, dek.size(), kContext, kms::Priority::kPrefetch, unwrapped.Callback());
  auto u = unwrapped.Await();
  ASSERT_TRUE(u.has_value()) << "no answer in time";
  ASSERT_TRUE(u->ok()) << u->status().ToString();
  EXPECT_TRUE(SameBytes(**u, dek));
  EXPECT_EQ(wrapped.calls(), 1);
  EXPECT_EQ(unwrapped.calls(), 1);
}

TEST_F(KmsKeyWrapperTest, KmsdRefusesAnotherContextAsTheFakeDoes) {
  KmsKeyWrapper wrapper(alice_);
  const SecretBytes dek = Envelope::NewDek();
  auto wrapped = wrapper.Wrap(key_id_, dek, kContext);
  ASSERT_TRUE(wrapped.ok());
  const kms::EncryptionContext other = {{"kmsfs_file_id", "ffeeddccbbaa99887766554433221100"}};
  auto back = wrapper.Unwrap(key_id_, *wrapped, dek.size(), other);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.2201");
}

TEST_F(KmsKeyWrapperTest, KmsdRefusesAnotherKeyIdAsTheFakeDoes) {
  KmsKeyWrapper wrapper(alice_);
  kms::CreateKeyRequest req;
  req.key_alias = "other";
  auto other = alice_->CreateKey(req);
  ASSERT_TRUE(other.ok());
  const SecretBytes dek = Envelope::NewDek();
  auto wrapped = wrapper.Wrap(key_id_, dek, kContext);
  ASSERT_TRUE(wrapped.ok());
  auto back = wrapper.Unwrap(other->key_id, *wrapped, dek.size(), kContext);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.2201");
}

TEST_F(KmsKeyWrapperTest, CallerWithoutAGrantIsRefusedWithTheKmsCode) {
  auto wrapped = KmsKeyWrapper(alice_).Wrap(key_id_, Envelope::NewDek(), kContext);
  ASSERT_TRUE(wrapped.ok());
  auto back = KmsKeyWrapper(bob_).Unwrap(key_id_, *wrapped, format::kDekSize, kContext);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(back.status()), "KMS.0306");
  EXPECT_EQ(kms::KmsHttpStatus(back.status()), 403);
}

TEST_F(KmsKeyWrapperTest, PrincipalNamesTheUser) {
  ASSERT_TRUE(KmsKeyWrapper(alice_).Wrap(key_id_, Envelope::NewDek(), kContext).ok());  // logs in
  EXPECT_NE(KmsKeyWrapper(alice_).Principal().find("alice"), std::string::npos);
}

TEST_F(KmsKeyWrapperTest, AccessCheckAnswersReadWriteReadOnlyAndNone) {
  const format::VolumeConfig config = Config();
  auto owner = Envelope::OverKms(alice_).CheckAccess(config, /*probe_write=*/true);
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  EXPECT_EQ(owner->access, Access::kReadWrite);
  EXPECT_TRUE(SameBytes(owner->volume_key, volume_key_));

  auto stranger = Envelope::OverKms(bob_).CheckAccess(config, /*probe_write=*/true);
  ASSERT_TRUE(stranger.ok()) << stranger.status().ToString();
  EXPECT_EQ(stranger->access, Access::kNone);
  EXPECT_EQ(kms::KmsErrorCode(stranger->refusal), "KMS.0306");
  EXPECT_NE(stranger->refusal.message().find("may not call decrypt-datakey on key " + key_id_), std::string::npos)
      << stranger->refusal.message();

  GrantBob({"decrypt-datakey"});
  auto reader = Envelope::OverKms(bob_).CheckAccess(config, /*probe_write=*/true);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->access, Access::kReadOnly);
  EXPECT_TRUE(SameBytes(reader->volume_key, volume_key_));
  EXPECT_EQ(kms::KmsErrorCode(reader->refusal), "KMS.0306");
  EXPECT_NE(reader->refusal.message().find("may not call encrypt-datakey"), std::string::npos);
}

}  // namespace
}  // namespace kmsfs::core
