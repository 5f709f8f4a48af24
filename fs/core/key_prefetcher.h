// KeyPrefetcher: loads the DEKs of a listed directory's files in the
// background, so that the opens which usually follow a listing (ls then
// cat *, a backup, a build, a grep -r) find their key cached instead of each
// waiting in turn for a decrypt-datakey round trip.
//
// Work: Prefetch(dir, names) queues the names with a dup of the directory's
// fd and returns at once. Up to `concurrency` names are worked on at once,
// oldest first (with an `interval`, only as many as the KMS's latency
// needs). Each one is a job on the mount's WorkQueue that: skips the name
// unless it is a regular file (checked with fstatat before any open, so a
// FIFO or device is never opened, and again with fstat after); opens it
// read-only with O_NOFOLLOW|O_NONBLOCK (and O_NOATIME where permitted); reads
// its header; and hands the header to the warm function, which checks it
// belongs to the volume, skips a key already cached and otherwise starts
// loading it into the DEK cache the way an open would (same cache entry, same
// single flight), asynchronously: the KMS call is in flight on the KMS
// executor at prefetch priority, no thread waits for it. So at most
// `concurrency` KMS calls are in flight for prefetching.
//
// Bounds: at most `max_queued` names wait at once, over all directories;
// names beyond that are dropped (counted), never blocked on. A failure of
// kind kUnavailable (the KMS is unreachable) drops every name still queued,
// so listing a large tree while the KMS is down does not queue thousands of
// doomed calls, each with its retries; a later listing tries again.
//
// Errors never reach a user: they are counted, and the first one of each
// Prefetch call is logged (debug level; info when the KMS is unreachable).
// The open that follows reports the real error, as without prefetching.
//
// Shutdown: the destructor drops the queue and the jobs not yet started and
// waits for the names in flight: the warm function's calls cannot be
// interrupted here, and they use objects the owner destroys next (the KMS
// client's timeouts bound the wait). Destroy the prefetcher first.
//
// Thread-safety: all methods are thread-safe. The warm function is called
// from the work queue's threads, concurrently; its `done` may run anywhere.
#ifndef KMSFS_FS_CORE_KEY_PREFETCHER_H_
#define KMSFS_FS_CORE_KEY_PREFETCHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/concurrency_limit.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "base/work_queue.h"
#include "fs/format/file_header.h"
#include "base/clock.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

struct KeyPrefetcherOptions {
  size_t concurrency = 16;   // Default: 16 names (each one KMS call at most) worked on at once; 0 = off
  size_t max_queued = 4096;  // Default: 4096 names waiting at most; further names are dropped
  // Default: 0 = `concurrency` at once while names wait. Otherwise only as
  // many as load one key per interval at the KMS's measured latency
  // (cache::ConcurrencyLimit, fed by the calls that loaded a key).
  std::chrono::microseconds interval{0};
  // Where the volume keeps file headers. Default: the xattr.
  format::HeaderMode header = format::HeaderMode::kXattr;
  // Measures each call's latency for `interval`. Default: the real clock.
  const Clock* clock = Clock::Real();
};

struct KeyPrefetchStats {
  uint64_t queued = 0;          // names accepted into the queue
  uint64_t loaded = 0;          // keys loaded into the cache (one KMS call each)
  uint64_t skipped_cached = 0;  // key already cached, or loaded meanwhile by an open
  uint64_t skipped = 0;         // not a regular file, gone, or a header of another key or suite
  uint64_t failed = 0;          // unreadable file or header, KMS error: the open will say
  uint64_t dropped = 0;         // never tried: queue full, KMS unreachable, shutting down
  uint64_t pending = 0;         // waiting in the queue now
  uint64_t in_flight = 0;       // being worked on now
};

class KeyPrefetcher {
 public:
  enum class Outcome { kLoaded, kAlreadyCached, kSkipped };
  using WarmDone = std::function<void(StatusOr<Outcome>)>;
  // Given the header of a regular file, makes sure its key gets cached and
  // calls `done` once (on any thread, possibly before returning). kSkipped:
  // the header does not belong to the volume. An error is counted as a
  // failure; kUnavailable also drops the queue.
  using WarmFn = std::function<void(const format::FileHeader& header, WarmDone done)>;

  // Works through jobs on `queue`, which must outlive the prefetcher; off
  // when options.concurrency is 0 or `queue` is null.
  KeyPrefetcher(KeyPrefetcherOptions options, WorkQueue* queue, WarmFn warm);
  ~KeyPrefetcher();  // drops the queue, waits for the names in flight
  KeyPrefetcher(const KeyPrefetcher&) = delete;
  KeyPrefetcher& operator=(const KeyPrefetcher&) = delete;

  bool enabled() const { return jobs_ != nullptr; }

  // Queues `names` (entries of the directory open as `dir`, no slashes) for
  // prefetching. Never blocks on the KMS. `dir_for_logs` names the directory
  // in log lines. A no-op when disabled.
  void Prefetch(UniqueFd dir, std::vector<std::string> names, std::string dir_for_logs = "");
  KeyPrefetchStats stats() const;
  // Blocks until nothing is queued or in flight, or `timeout` (real time)
  // has passed; returns whether it is idle. For tests and benchmarks.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  // One Prefetch call: the directory and where its log line went.
  struct Batch {
    UniqueFd dir;
    std::string dir_for_logs;
    bool logged = false;  // guarded by mu_ (the analysis cannot name it here)
  };
  struct Item {
    std::shared_ptr<Batch> batch;
    std::string name;
  };
  // Starts jobs for queued names while the limit allows.
  void PumpLocked() KMSFS_REQUIRES(mu_);
  // The job: opens and checks one name, reads its header and starts warming its key.
  void Process(Item item);
  void Finish(const Item& item, Clock::TimePoint started, StatusOr<Outcome> outcome);
  // Counts every queued name as dropped; returns the items so they are freed
  // (closing their directory fds) after the lock is released.
  std::deque<Item> DropQueuedLocked() KMSFS_REQUIRES(mu_);

  const KeyPrefetcherOptions options_;
  const WarmFn warm_;

  mutable Mutex mu_;
  std::condition_variable idle_cv_;  // WaitIdle, the destructor: nothing queued or in flight
  std::deque<Item> queue_ KMSFS_GUARDED_BY(mu_);  // oldest first
  size_t in_flight_ KMSFS_GUARDED_BY(mu_) = 0;     // jobs posted, and their warms until done
  uint64_t posted_ KMSFS_GUARDED_BY(mu_) = 0;      // jobs posted
  uint64_t started_ KMSFS_GUARDED_BY(mu_) = 0;     // of those, jobs that ran
  cache::ConcurrencyLimit limit_ KMSFS_GUARDED_BY(mu_);  // names worked on at once
  bool stop_ KMSFS_GUARDED_BY(mu_) = false;
  KeyPrefetchStats stats_ KMSFS_GUARDED_BY(mu_);

  std::unique_ptr<WorkQueue::Scope> jobs_;  // last: its jobs use everything above
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_KEY_PREFETCHER_H_
