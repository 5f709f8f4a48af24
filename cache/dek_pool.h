// DekPool: new files' DEKs, generated and wrapped by the KMS ahead of time, so
// creating a file does not wait for a KMS round trip (the idea of Hadoop KMS's
// EDEK cache).
//
// Each entry is (file id, DEK, wrapped DEK): the file id is 16 random bytes,
// the DEK `dek_size` random bytes in locked memory, and the wrap binds the
// file id (the wrap function puts it in the encryption context), so an entry
// is used for exactly one file.
//
// Refill: the wrap function only starts a wrap; its result arrives later, on
// any thread (the KMS executor's), so many wraps are in flight without a
// thread each. A refill job on the mount's WorkQueue starts as many as keep
// `target` entries ready or in flight, at most `refill_concurrency` in
// flight, which hides KMS latency (at 20 ms per call, 128 in flight give about
// 6 400 wraps/s). Refills go in batches: the job is posted (by a Take or a
// completed wrap; one waits at a time) only once `refill_batch` entries of
// room have opened up, so a run of new files costs one
// wake-up of the refill job, the KMS executor and the KMS per batch rather
// than per file. While the wraps fail, refills back off
// exponentially with jitter: after the n-th consecutive failure the next
// refill waits a random time in [max(min, b/2), b] with
// b = min(min_backoff * 2^(n-1), max_backoff), so every wait lies in
// [min_backoff, max_backoff]; a success (also a direct one) resets it. The
// wait is a delayed job on the queue's Clock (a FakeClock passes it at once).
//
// Take() pops the oldest ready entry without blocking when the pool has one
// and otherwise wraps directly (WrapKind::kDirect: somebody waits for it) and
// waits for that wrap (stats().direct), returning its result or its error.
// Entries older than max_age (counted from the start of their wrap) are
// discarded and wiped instead of returned, so a revoked grant stops new files
// within max_age too; Tick() (the mount's, once a second) discards them from
// an idle pool and refills. Drain() wipes the ready entries and also discards
// wraps in flight when they return.
//
// Shutdown: the destructor starts no new wrap, closes its work scope (a
// pending refill or backoff is dropped) and waits for the wraps in flight to
// call back, because the wrap function may use objects its owner destroys
// next (the KMS client's timeouts bound the wait). Their results are wiped,
// as are all ready entries.
//
// Thread-safety: all methods are thread-safe. The wrap function is called
// from the work queue's threads and from Take() callers, concurrently.
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

#include "base/clock.h"
#include "base/mutex.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "base/work_queue.h"

namespace kmsfs::cache {

struct PooledDek {
  std::array<uint8_t, 16> file_id{};
  SecretBytes dek;
  std::string wrapped_dek;  // KMS cipher_text, as returned
};

struct DekPoolOptions {
  size_t target = 32;                               // Default: 32 entries kept ready; 0 = no pool
  size_t refill_concurrency = 4;                    // Default: 4 wraps in flight while refilling (0 acts as 1)
  // Default: 1 = a refill starts as soon as there is room. Otherwise it
  // waits until this much room has opened up and then starts wraps for all
  // of it at once (as many as refill_concurrency allows, the rest as slots
  // free up); values above target or refill_concurrency act as the smaller.
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
  enum class WrapKind {
    kDirect,  // Take found the pool empty: a file creation waits for it
    kRefill,  // background
  };
  using FileId = std::array<uint8_t, 16>;
  using WrapDone = std::function<void(StatusOr<std::string>)>;
  // Starts wrapping `dek` for the file `file_id`; `done` runs exactly once
  // with the KMS cipher_text or the error, on any thread, possibly before the
  // function returns. `dek` and `file_id` stay valid until `done` has run.
  using WrapFn = std::function<void(const SecretBytes& dek, const FileId& file_id, WrapKind kind, WrapDone done)>;

  // Starts filling the pool through jobs on `queue` (which must outlive the
  // pool and may be null only when options.target == 0); backoffs wait on
  // the queue's clock.
  DekPool(DekPoolOptions options, WrapFn wrap, WorkQueue* queue);
  ~DekPool();  // stops refilling, waits for the wraps in flight, wipes the entries
  DekPool(const DekPool&) = delete;
  DekPool& operator=(const DekPool&) = delete;

  StatusOr<PooledDek> Take();
  // Discards every ready entry (wiping them), e.g. when access may have changed.
  void Drain();
  // Discards entries that have aged out and refills; the mount calls it about once a second.
  void Tick();
  DekPoolStats stats() const;
  // Blocks until at least `count` entries are ready or `timeout` (real time)
  // has passed; returns whether they are. For a warm-up at mount, and tests.
  bool WaitForReady(size_t count, std::chrono::milliseconds timeout);

 private:
  struct Ready {
    PooledDek dek;
    Clock::TimePoint made;  // when its wrap started
  };

  // A fresh file id and DEK, not yet wrapped.
  PooledDek NewEntry() const;
  // Starts the background wraps a refill may start now (a job on the queue).
  void Refill(bool after_backoff);
  void OnRefillWrapped(std::shared_ptr<PooledDek> entry, uint64_t generation, Clock::TimePoint started,
                       StatusOr<std::string> wrapped);
  // Wraps one entry and waits for it (Take on an empty pool).
  StatusOr<PooledDek> WrapDirectly();
  bool IsStale(Clock::TimePoint made, Clock::TimePoint now) const;
  size_t FreshCountLocked(Clock::TimePoint now) const KMSFS_REQUIRES(mu_);
  // Moves the stale entries out (the caller wipes them once the lock is released).
  std::deque<Ready> TakeStaleLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);
  void BackOffLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);
  void ResetBackoffLocked() KMSFS_REQUIRES(mu_);
  // Posts a refill when a batch of room is open (or a refill the concurrency
  // cut short can go on) and there are free slots for it.
  void MaybeRefillLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);

  const DekPoolOptions options_;
  const WrapFn wrap_;
  Clock* const clock_;
  const size_t max_in_flight_;
  const size_t batch_;  // refill_batch, between 1 and min(target, refill_concurrency)

  mutable Mutex mu_;
  std::condition_variable ready_cv_;  // WaitForReady: an entry arrived, stop
  std::condition_variable idle_cv_;   // the destructor: the last wrap in flight called back
  std::deque<Ready> ready_ KMSFS_GUARDED_BY(mu_);  // oldest first
  size_t in_flight_ KMSFS_GUARDED_BY(mu_) = 0;     // background wraps started and not yet called back
  bool refill_posted_ KMSFS_GUARDED_BY(mu_) = false;   // a refill job waits on the queue
  bool backoff_posted_ KMSFS_GUARDED_BY(mu_) = false;  // a delayed refill waits out a backoff
  uint64_t generation_ KMSFS_GUARDED_BY(mu_) = 0;  // bumped by Drain: older wraps are discarded
  bool stop_ KMSFS_GUARDED_BY(mu_) = false;
  bool cut_short_ KMSFS_GUARDED_BY(mu_) = false;   // the last refill had more room than free slots
  uint32_t failures_ KMSFS_GUARDED_BY(mu_) = 0;    // consecutive wrap failures
  Clock::TimePoint retry_at_ KMSFS_GUARDED_BY(mu_){};
  std::mt19937_64 jitter_ KMSFS_GUARDED_BY(mu_);
  DekPoolStats stats_ KMSFS_GUARDED_BY(mu_);

  std::unique_ptr<WorkQueue::Scope> jobs_;  // last: its jobs use everything above
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_DEK_POOL_H_
