#include "cache/concurrency_limit.h"

#include <algorithm>

namespace kmsfs::cache {

ConcurrencyLimit::ConcurrencyLimit(size_t max, std::chrono::nanoseconds interval)
    : max_(std::max<size_t>(max, 1)), interval_ns_(interval.count()) {}

size_t ConcurrencyLimit::Allowed() const {
  if (interval_ns_ <= 0) return max_;
  if (count_ == 0) return 1;
  const size_t n = std::min(count_, kWindow);
  const int64_t lowest = *std::min_element(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(n));
  const int64_t wanted = 1 + lowest / interval_ns_;
  return static_cast<uint64_t>(wanted) >= max_ ? max_ : static_cast<size_t>(wanted);
}

void ConcurrencyLimit::NoteLatency(std::chrono::nanoseconds latency) {
  samples_[count_ % kWindow] = std::max<int64_t>(latency.count(), 0);
  ++count_;
}

}  // namespace kmsfs::cache
