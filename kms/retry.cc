#include "kms/retry.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>

#include "base/secret_bytes.h"

namespace kmsfs::kms {

bool IsRetryableHttpStatus(int http_status) { return http_status == 429 || (http_status >= 500 && http_status <= 599); }

std::chrono::milliseconds Backoff::Next(int64_t retry_after_seconds) {
  const double max_ms = static_cast<double>(std::max<int64_t>(0, policy_.max_backoff.count()));
  const double initial_ms = static_cast<double>(std::max<int64_t>(0, policy_.initial_backoff.count()));
  const double growth = std::pow(std::max(1.0, policy_.multiplier), retries_);
  ++retries_;
  if (retry_after_seconds >= 0) {
    return std::chrono::milliseconds(
        static_cast<int64_t>(std::min(max_ms, static_cast<double>(retry_after_seconds) * 1000.0)));
  }
  const double bound = std::min(max_ms, initial_ms * growth);
  const auto bound_ms = static_cast<uint32_t>(std::clamp(bound, 0.0, 4.0e9));
  EnsureSodiumInitialized();
  return std::chrono::milliseconds(randombytes_uniform(bound_ms + 1));
}

}  // namespace kmsfs::kms
