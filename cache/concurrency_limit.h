// ConcurrencyLimit: how many calls to a remote service to keep in flight so
// that, at its latency, one completes about every `interval` (Little's law):
// 1 + latency / interval, at most `max`. Against a KMS on the same machine
// that answers at once this is one call at a time, as further calls in
// flight only compete with it for the CPU; against one tens of milliseconds
// away it is `max`. An interval of 0 always allows `max`.
//
// The latency used is the lowest of the last kWindow calls: the service's
// own round trip, not the queueing our concurrent calls add to it (a mean
// would grow with the concurrency it sets, and climb on a busy local KMS).
// It rises once kWindow calls in a row were slow, and falls with the first
// fast one. Before the first sample one call is allowed.
//
// Thread-safety: none; the owner guards it with its own lock.
#ifndef KMSFS_CACHE_CONCURRENCY_LIMIT_H_
#define KMSFS_CACHE_CONCURRENCY_LIMIT_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace kmsfs::cache {

class ConcurrencyLimit {
 public:
  static constexpr size_t kWindow = 16;

  ConcurrencyLimit(size_t max, std::chrono::nanoseconds interval);

  size_t Allowed() const;
  // A call that completed after `latency`.
  void NoteLatency(std::chrono::nanoseconds latency);

 private:
  const size_t max_;
  const int64_t interval_ns_;
  std::array<int64_t, kWindow> samples_{};  // the last calls' latencies, ns
  size_t count_ = 0;                          // samples noted so far (all of them)
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_CONCURRENCY_LIMIT_H_
