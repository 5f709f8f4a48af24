// Retry policy for KMS and IAM calls: bounded attempts, exponential backoff
// with full jitter.
//
// Only failures that may heal by themselves are retried: the network (no
// connection, timeout, reset), HTTP 429 and HTTP 5xx. A 4xx answer is the
// service's final word and is never retried here (the one exception, a token
// refresh after 401/403 KMS.0303, is handled by the caller, not by this loop).
//
// The wait itself is the caller's: the KMS executor waits a backoff out on a
// timer of its event loop, so no thread sleeps. Tests can take the waits out
// (on_backoff) and still see every delay chosen.
//
// Thread-safety: RetryPolicy is a value; Backoff is one object per call.
#ifndef KMSFS_KMS_RETRY_H_
#define KMSFS_KMS_RETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>

namespace kmsfs::kms {

struct RetryPolicy {
  // Total tries per call, the first one included. Default: 4. 1 disables retries.
  int max_attempts = 4;
  // Upper bound of the first backoff. Default: 100 ms.
  std::chrono::milliseconds initial_backoff{100};
  // Upper bound of any backoff. Default: 2 s.
  std::chrono::milliseconds max_backoff{2000};
  // Growth of the bound per retry. Default: 2.
  double multiplier = 2.0;
  // Tests only: when set, each backoff delay is handed to this function
  // instead of being waited out, and the retry goes out at once. It runs on
  // the KMS executor's thread and must not block.
  std::function<void(std::chrono::milliseconds)> on_backoff;
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

 private:
  const RetryPolicy& policy_;
  int retries_ = 0;
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_RETRY_H_
