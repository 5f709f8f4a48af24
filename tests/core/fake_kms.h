// FakeKms: an in-process kms::Client for unit tests of the core, with no
// sockets: it "wraps" a DEK by remembering it under a serial number and
// unwraps only with the same key id, context and length, so a wrong binding
// fails as it would at a real KMS. Only the data-key calls are implemented.
// `down` makes them fail as unreachable; `unwrap_gate` can hold unwraps
// inside the call so a test sees what waits on them. Gate is shared by the
// tests that block a worker on purpose.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_TESTS_CORE_FAKE_KMS_H_
#define KMSFS_TESTS_CORE_FAKE_KMS_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/kms_client.h"

namespace kmsfs::testing {

inline constexpr char kKeyId[] = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
inline constexpr char kOtherKeyId[] = "5a1b9c3e-0000-4d9c-b35d-f84bb474a37f";
inline constexpr std::chrono::milliseconds kWait{20000};  // a bound for waits that end far sooner

// A blocking point for fake KMS calls or warm functions: while closed, callers
// wait inside; tests see how many are waiting and open it.
class Gate {
 public:
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --inside_;
  }
  // Blocks until `n` callers wait inside (or kWait passed); returns whether they do.
  bool AwaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return inside_ >= n; });
  }
  int max_inside() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inside_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int inside_ = 0;
  int max_inside_ = 0;
};

// Wraps by remembering: the wrapped form is a serial number in hex. Only the
// data-key calls are implemented; `down` makes them fail as unreachable.
class FakeKms : public kms::Client {
 public:
  std::string PrincipalDescription() const override { return "fake"; }
  StatusOr<std::string> UserId() override { return std::string("fake-user"); }

  StatusOr<std::string> EncryptDataKey(std::string_view key_id, const SecretBytes& dek,
                                       const kms::EncryptionContext& ctx) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    char wrapped[32];
    std::snprintf(wrapped, sizeof wrapped, "%016llx", static_cast<unsigned long long>(++serial_));
    keys_[wrapped] = Stored{std::string(key_id), SecretBytes::CopyFrom({dek.data(), dek.size()}), ctx};
    return std::string(wrapped);
  }
  StatusOr<SecretBytes> DecryptDataKey(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                       const kms::EncryptionContext& ctx) override {
    unwraps.fetch_add(1);
    unwrap_gate.Pass();
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    auto it = keys_.find(std::string(cipher_text));
    if (it == keys_.end() || it->second.key_id != key_id || it->second.ctx != ctx ||
        it->second.dek.size() != dek_length) {
      return Status::DataLoss("fake KMS: no such wrapped key");
    }
    return SecretBytes::CopyFrom({it->second.dek.data(), it->second.dek.size()});
  }

  StatusOr<kms::KeyInfo> CreateKey(const kms::CreateKeyRequest&) override { return No(); }
  StatusOr<kms::KeyInfo> DescribeKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyList> ListKeys(const kms::ListKeysRequest&) override { return No(); }
  StatusOr<kms::KeyInfo> EnableKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyInfo> DisableKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyInfo> ScheduleKeyDeletion(std::string_view, int) override { return No(); }
  StatusOr<kms::KeyInfo> CancelKeyDeletion(std::string_view) override { return No(); }
  Status EnableKeyRotation(std::string_view) override { return No(); }
  StatusOr<std::vector<uint8_t>> GenRandom(int) override { return No(); }
  StatusOr<kms::DataKey> CreateDataKey(std::string_view, size_t, const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> CreateDataKeyWithoutPlaintext(std::string_view, size_t,
                                                      const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> EncryptData(std::string_view, std::string_view, const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> DecryptData(std::string_view, const kms::EncryptionContext&) override { return No(); }
  StatusOr<std::string> CreateGrant(const kms::CreateGrantRequest&) override { return No(); }
  StatusOr<kms::GrantList> ListGrants(const kms::ListGrantsRequest&) override { return No(); }
  Status RevokeGrant(std::string_view, std::string_view) override { return No(); }
  Status RetireGrant(std::string_view, std::string_view) override { return No(); }
  StatusOr<kms::GrantList> ListRetirableGrants(const kms::ListGrantsRequest&) override { return No(); }
  StatusOr<kms::ImportParameters> GetParametersForImport(std::string_view, std::string_view) override {
    return No();
  }
  Status ImportKeyMaterial(const kms::ImportKeyMaterialRequest&) override { return No(); }
  Status DeleteImportedKeyMaterial(std::string_view) override { return No(); }

  std::atomic<bool> down{false};
  std::atomic<int> unwraps{0};
  Gate unwrap_gate;

 private:
  struct Stored {
    std::string key_id;
    SecretBytes dek;
    kms::EncryptionContext ctx;
  };
  static Status No() { return Status::Unimplemented("not in the fake KMS"); }

  std::mutex mu_;
  uint64_t serial_ = 0;
  std::map<std::string, Stored> keys_;
};

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_CORE_FAKE_KMS_H_
