#include "cache/concurrency_limit.h"

#include <algorithm>
#include <cstdint>

namespace kmsfs::cache {

ConcurrencyLimit::ConcurrencyLimit(size_t max, std::chrono::nanoseconds interval)
    : max_(std::max<size_t>(max, 1)), interval_ns_(static_cast<double>(interval.count())) {}

size_t ConcurrencyLimit::Allowed() const {
  if (interval_ns_ <= 0) return max_;
  if (mean_ns_ < 0) return 1;
  const double wanted = 1 + mean_ns_ / interval_ns_;
  return wanted >= static_cast<double>(max_) ? max_ : static_cast<size_t>(wanted);
}

void ConcurrencyLimit::NoteLatency(std::chrono::nanoseconds latency) {
  const double sample = static_cast<double>(std::max<int64_t>(latency.count(), 0));
  mean_ns_ = mean_ns_ < 0 ? sample : mean_ns_ + (sample - mean_ns_) / 8;
}

}  // namespace kmsfs::cache
