// Retry policy for KMS and IAM calls: bounded attempts, exponential backoff
// with full jitter.
//
// Only failures that may heal by themselves are retried: the network (no
// connection, timeout, reset), HTTP 429 and HTTP 5xx. A 4xx answer is the
// service's final word and is never retried here (the one exception, a token
// refresh after 401/403 KMS.0303, is handled by the caller, not by this loop).
//
// The sleep is injectable so unit tests can run many retries without waiting.
//
// Thread-safety: RetryPolicy is a value; Backoff is one object per call.
#ifndef KMSFS_KMS_RETRY_H_
#define KMSFS_KMS_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>

namespace kmsfs::kms {

using SleepFunction = std::function<void(std::chrono::milliseconds)>;

struct RetryPolicy {
  // Total tries per call, the first one included. Default: 4. 1 disables retries.
  int max_attempts = 4;
  // Upper bound of the first backoff. Default: 100 ms.
  std::chrono::milliseconds initial_backoff{100};
  // Upper bound of any backoff. Default: 2 s.
  std::chrono::milliseconds max_backoff{2000};
  // Growth of the bound per retry. Default: 2.
  double multiplier = 2.0;
  // How to wait; null means std::this_thread::sleep_for. Tests inject a recorder.
  SleepFunction sleep;
};

// True for the HTTP statuses worth another try: 429 and every 5xx.
bool IsRetryableHttpStatus(int http_status);

// Backoff delays for one call. "Full jitter": the n-th delay (n = 0, 1, ...)
// is uniform in [0, min(max_backoff, initial_backoff * multiplier^n)].
class Backoff {
 public:
  explicit Backoff(const RetryPolicy& policy) : policy_(policy) {}

  // The delay before the next retry; advances the exponent. A server hint
  // (Retry-After, in seconds; negative when absent) replaces the jitter but is
  // still capped by max_backoff.
  std::chrono::milliseconds Next(int64_t retry_after_seconds = -1);
  // Waits `delay` with the policy's sleep function.
  void Sleep(std::chrono::milliseconds delay) const;

 private:
  const RetryPolicy& policy_;
  int retries_ = 0;
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_RETRY_H_
