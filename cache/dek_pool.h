// DekPool: new files' DEKs, generated and wrapped by the KMS ahead of time, so
// creating a file does not wait for a KMS round trip (the idea of Hadoop KMS's
// EDEK cache).
//
// Each entry is (file id, DEK, wrapped DEK): the file id is 16 random bytes,
// the DEK `dek_size` random bytes in locked memory, and the wrap binds the
// file id (the wrap function puts it in the encryption context), so an entry
// is used for exactly one file.
//
// Refill: `refill_concurrency` background workers keep `target` entries
// ready, each with at most one wrap call in flight, which hides KMS latency
// (at 20 ms per call, 4 in flight give about 200 wraps/s). With a
// `refill_interval`, only as many run at once as the measured latency needs
// (ConcurrencyLimit, fed by completed background wraps). While the wrap
// function fails, workers back off exponentially with jitter: the n-th
// consecutive failure waits a random time in [max(min, b/2), b] with
// b = min(min_backoff * 2^(n-1), max_backoff), so every wait lies in
// [min_backoff, max_backoff]; a success (also a direct one) resets it.
// Waits go through the Clock (a FakeClock passes them instantly).
//
// Take() pops the oldest ready entry without blocking when the pool has one
// and otherwise wraps directly in the caller's thread (stats().direct),
// returning that result or its error. Entries older than max_age (counted
// from the start of their wrap) are discarded and wiped instead of returned,
// so a revoked grant stops new files within max_age too. Drain() wipes the
// ready entries and also discards wraps in flight when they return.
//
// Shutdown: the destructor wakes every worker (also one waiting out a
// backoff), starts no new wrap, and joins the workers. A wrap already in
// flight cannot be interrupted: the destructor waits for it to return (the
// wrap function's own timeout bounds this, e.g. the KMS client's), because it
// may use objects its owner destroys next. Its result is wiped, as are all
// ready entries.
//
// Thread-safety: all methods are thread-safe. The wrap function is called
// from the worker threads and from Take() callers, concurrently.
#ifndef KMSFS_CACHE_DEK_POOL_H_
#define KMSFS_CACHE_DEK_POOL_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fs/base/clock.h"
#include "cache/concurrency_limit.h"
#include "fs/base/mutex.h"
#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"

namespace kmsfs::cache {

struct PooledDek {
  std::array<uint8_t, 16> file_id{};
  SecretBytes dek;
  std::string wrapped_dek;  // KMS cipher_text, as returned
};

struct DekPoolOptions {
  size_t target = 32;                               // Default: 32 entries kept ready; 0 = no pool
  size_t refill_concurrency = 4;                    // Default: 4 wrap calls in flight while refilling (0 acts as 1)
  // Default: 0 = refill_concurrency wraps in flight whenever there is room.
  // Otherwise as many as make one entry per interval at the wraps' measured
  // latency, at most refill_concurrency (see ConcurrencyLimit).
  std::chrono::microseconds refill_interval{0};
  // Default: 1 = a Take that leaves room wakes a sleeping worker at once.
  // Otherwise, while one wrap at a time keeps up (see refill_interval), no
  // wrap runs and entries remain, a sleeping worker is woken only once this
  // much room has opened up, and it then refills to the target: one wake-up
  // per batch of Takes instead of one per Take, which a Take pays on the
  // caller's (the file creation's) thread.
  size_t refill_batch = 1;
  size_t dek_size = 64;                             // Default: 64-byte DEKs
  std::chrono::seconds max_age{300};                // Default: 300 s; 0 = no limit
  std::chrono::milliseconds min_backoff{50};        // Default: 50 ms after the first failure (0 acts as 1 ms)
  std::chrono::milliseconds max_backoff{5000};      // Default: capped at 5 s (never below min_backoff)
};

struct DekPoolStats {
  uint64_t ready = 0;      // entries in the pool now (not yet too old)
  uint64_t taken = 0;      // Take() served from the pool
  uint64_t direct = 0;     // Take() that had to wrap in the caller's thread
  uint64_t wrap_errors = 0;
  uint64_t expired = 0;    // entries discarded for exceeding max_age
};

class DekPool {
 public:
  // Wraps `dek` for the file `file_id`; returns the KMS cipher_text.
  using WrapFn =
      std::function<StatusOr<std::string>(const SecretBytes& dek, const std::array<uint8_t, 16>& file_id)>;

  // Starts the background workers (none when options.target == 0).
  DekPool(DekPoolOptions options, WrapFn wrap, Clock* clock = Clock::Real());
  ~DekPool();  // stops the workers, wipes the entries
  DekPool(const DekPool&) = delete;
  DekPool& operator=(const DekPool&) = delete;

  StatusOr<PooledDek> Take();
  // Discards every ready entry (wiping them), e.g. when access may have changed.
  void Drain();
  DekPoolStats stats() const;
  // Blocks until at least `count` entries are ready or `timeout` (real time)
  // has passed; returns whether they are. For a warm-up at mount, and tests.
  bool WaitForReady(size_t count, std::chrono::milliseconds timeout);

 private:
  struct Ready {
    PooledDek dek;
    Clock::TimePoint made;  // when its wrap started
  };

  void WorkerLoop();
  // Generates a file id and a DEK and wraps them; runs with no lock held.
  StatusOr<PooledDek> MakeEntry() const;
  bool IsStale(Clock::TimePoint made, Clock::TimePoint now) const;
  size_t FreshCountLocked(Clock::TimePoint now) const KMSFS_REQUIRES(mu_);
  void DiscardStaleLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);
  void BackOffLocked() KMSFS_REQUIRES(mu_);
  void ResetBackoffLocked() KMSFS_REQUIRES(mu_);
  // Fan-out without a wake-up per Take: true (and counted in waking_) when a
  // sleeping worker should be notified because the pool has room for more
  // wraps than the workers already awake will start. Notify after unlocking.
  bool ClaimSleeperLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);

  const DekPoolOptions options_;
  const WrapFn wrap_;
  Clock* const clock_;
  const size_t num_workers_;

  mutable Mutex mu_;
  std::condition_variable room_cv_;     // workers sleeping while the pool is full
  std::condition_variable backoff_cv_;  // workers waiting out a backoff: reset, stop
  std::condition_variable ready_cv_;    // WaitForReady: an entry arrived, stop
  std::deque<Ready> ready_ KMSFS_GUARDED_BY(mu_);  // oldest first
  size_t in_flight_ KMSFS_GUARDED_BY(mu_) = 0;     // background wraps running
  size_t sleeping_ KMSFS_GUARDED_BY(mu_) = 0;      // workers waiting for room in the pool
  size_t waking_ KMSFS_GUARDED_BY(mu_) = 0;        // of those, notified but not yet running
  uint64_t generation_ KMSFS_GUARDED_BY(mu_) = 0;  // bumped by Drain: older wraps are discarded
  bool stop_ KMSFS_GUARDED_BY(mu_) = false;
  uint32_t failures_ KMSFS_GUARDED_BY(mu_) = 0;    // consecutive wrap failures
  ConcurrencyLimit refill_limit_ KMSFS_GUARDED_BY(mu_);  // background wraps at once
  Clock::TimePoint retry_at_ KMSFS_GUARDED_BY(mu_){};
  std::mt19937_64 jitter_ KMSFS_GUARDED_BY(mu_);
  DekPoolStats stats_ KMSFS_GUARDED_BY(mu_);

  std::vector<std::thread> workers_;  // last: started once everything above exists
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_DEK_POOL_H_
