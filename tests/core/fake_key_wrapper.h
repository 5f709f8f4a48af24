// FakeKeyWrapper: an in-process core::KeyWrapper for unit tests of the core,
// with no kmsd and no sockets. It "wraps" a key by remembering it under a
// serial number and unwraps only as the KMS would (kms/server, spec §4.5):
// with the key id and encryption context it was wrapped with (otherwise 400
// KMS.2201) and the same length (400 KMS.2204), both kDataLoss as
// kms::HttpClient reports them for decrypt-datakey. It can be
// made unreachable (`down`: kUnavailable) or to refuse (FailWraps /
// FailUnwraps with, e.g., Refusal(): 403 KMS.0306, kPermissionDenied); it
// counts calls and the priorities asynchronous calls came with;
// `unwrap_gate` can hold unwraps inside the call so a test sees what waits
// on them.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_TESTS_CORE_FAKE_KEY_WRAPPER_H_
#define KMSFS_TESTS_CORE_FAKE_KEY_WRAPPER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "fs/core/key_wrapper.h"
#include "kms/kms_client.h"
#include "tests/testutil/gate.h"

namespace kmsfs::testing {

inline constexpr char kKeyId[] = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
inline constexpr char kOtherKeyId[] = "5a1b9c3e-0000-4d9c-b35d-f84bb474a37f";
inline constexpr char kThirdKeyId[] = "9e8d7c6b-0000-4d9c-b35d-f84bb474a37f";
inline constexpr std::chrono::milliseconds kWait{20000};  // a bound for waits that end far sooner

class FakeKeyWrapper : public core::KeyWrapper {
 public:
  // What kmsd answers a caller without a grant: 403 KMS.0306.
  static Status Refusal() {
    return kms::WithKmsError(Status(StatusCode::kPermissionDenied, "No access permissions."), "KMS.0306", 403);
  }

  StatusOr<std::string> Wrap(std::string_view key_id, const SecretBytes& key,
                             const kms::EncryptionContext& context) override {
    wraps.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    if (wrap_error_) return *wrap_error_;
    char wrapped[32];
    std::snprintf(wrapped, sizeof wrapped, "%016llx", static_cast<unsigned long long>(++serial_));
    keys_[wrapped] = Stored{std::string(key_id), SecretBytes::CopyFrom(key.span()), context};
    return std::string(wrapped);
  }
  StatusOr<SecretBytes> Unwrap(std::string_view key_id, std::string_view wrapped, size_t length,
                               const kms::EncryptionContext& context) override {
    unwraps.fetch_add(1);
    unwrap_gate.Pass();
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    if (unwrap_error_) return *unwrap_error_;
    auto it = keys_.find(std::string(wrapped));
    if (it == keys_.end() || it->second.key_id != key_id || it->second.context != context) {
      return kms::WithKmsError(Status::DataLoss("Failed to decrypt the data key."), "KMS.2201", 400);
    }
    if (it->second.key.size() != length) {
      return kms::WithKmsError(Status::DataLoss("Data key length mismatch."), "KMS.2204", 400);
    }
    return SecretBytes::CopyFrom(it->second.key.span());
  }
  kms::CallHandle WrapAsync(std::string_view key_id, const SecretBytes& key, const kms::EncryptionContext& context,
                            kms::Priority priority, kms::Callback<std::string> done) override {
    Record(priority);
    done(Wrap(key_id, key, context));
    return kms::CallHandle();
  }
  kms::CallHandle UnwrapAsync(std::string_view key_id, std::string_view wrapped, size_t length,
                              const kms::EncryptionContext& context, kms::Priority priority,
                              kms::Callback<SecretBytes> done) override {
    Record(priority);
    done(Unwrap(key_id, wrapped, length, context));
    return kms::CallHandle();
  }
  std::string Principal() const override { return "fake-user (id fake)"; }

  // Every later wrap / unwrap fails with `error` until Heal().
  void FailWraps(Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    wrap_error_ = std::move(error);
  }
  void FailUnwraps(Status error) {
    std::lock_guard<std::mutex> lock(mu_);
    unwrap_error_ = std::move(error);
  }
  void Heal() {
    std::lock_guard<std::mutex> lock(mu_);
    wrap_error_.reset();
    unwrap_error_.reset();
  }
  // The priorities of the asynchronous calls so far, in order.
  std::vector<kms::Priority> async_priorities() {
    std::lock_guard<std::mutex> lock(mu_);
    return priorities_;
  }
  // Blocks until `n` asynchronous calls were made (or kWait passed); returns whether they were.
  bool AwaitAsyncCalls(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return async_cv_.wait_for(lock, kWait, [&] { return priorities_.size() >= n; });
  }
  // The encryption context `wrapped` was wrapped with (empty if unknown).
  kms::EncryptionContext ContextOf(std::string_view wrapped) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(std::string(wrapped));
    return it == keys_.end() ? kms::EncryptionContext{} : it->second.context;
  }

  std::atomic<bool> down{false};
  std::atomic<int> wraps{0};
  std::atomic<int> unwraps{0};
  Gate unwrap_gate;

 private:
  struct Stored {
    std::string key_id;
    SecretBytes key;
    kms::EncryptionContext context;
  };
  void Record(kms::Priority priority) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      priorities_.push_back(priority);
    }
    async_cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable async_cv_;
  uint64_t serial_ = 0;
  std::map<std::string, Stored> keys_;
  std::optional<Status> wrap_error_;
  std::optional<Status> unwrap_error_;
  std::vector<kms::Priority> priorities_;
};

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_CORE_FAKE_KEY_WRAPPER_H_
