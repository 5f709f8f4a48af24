// ConcurrencyLimit: how many calls to a remote service to keep in flight so
// that, at its measured latency, one completes about every `interval`
// (Little's law): 1 + mean latency / interval, at most `max`. Against a KMS
// on the same machine that answers at once this is one call at a time, as
// further calls in flight only compete with it for the CPU; against one tens
// of milliseconds away it is `max`. An interval of 0 always allows `max`.
//
// The mean is a moving average with a short memory (1/8 per call), so the
// limit follows the service within a few calls when it slows down or
// recovers. Before the first sample one call is allowed.
//
// Thread-safety: none; the owner guards it with its own lock.
#ifndef KMSFS_CACHE_CONCURRENCY_LIMIT_H_
#define KMSFS_CACHE_CONCURRENCY_LIMIT_H_

#include <chrono>
#include <cstddef>

namespace kmsfs::cache {

class ConcurrencyLimit {
 public:
  ConcurrencyLimit(size_t max, std::chrono::nanoseconds interval);

  size_t Allowed() const;
  // A call that completed after `latency`.
  void NoteLatency(std::chrono::nanoseconds latency);

 private:
  const size_t max_;
  const double interval_ns_;
  double mean_ns_ = -1;  // < 0: no sample yet
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_CONCURRENCY_LIMIT_H_
