// DeferredUnlinks: removes backing files on a worker thread after the unlink
// has been answered, so `rm -r` does not wait for the backing filesystem.
//
// Why: the unlink of a backing file (ext4 freeing its blocks and the
// header's xattr block) took a median 24 us of the ~80 us each file of
// `rm -rf` costs through the mount, on the caller's critical path. With the
// writeback cache the kernel follows every unlink with a SETATTR and a FORGET
// of the inode; the worker removes the file meanwhile, on the other core.
//
// How: Defer(rel) queues the name and returns; the caller answers the
// unlink. Settle() returns once every unlink queued before it is done,
// removing itself what the worker has not started: the mount calls it before
// any request that looks at names, link counts or free space (lookup, create,
// rename, readdir, rmdir, statfs, ...), so no request sees a name whose
// unlink was answered. Only unlinks, reads and writes through open handles,
// and releases pass without settling.
//
// What it cannot keep: the unlink is answered before it is done, so a failure
// of the backing unlinkat comes too late to report. Volume::Unlink checks
// first what would make it fail (the name exists, is no directory, and its
// directory is writable on a read-write filesystem) and unlinks at once when
// in doubt; a failure left (an append-only file, a disk error) is logged and
// counted in `failed`, and the file stays. Like any unlink not followed by an
// fsync of its directory, one still queued at a crash does not happen.
//
// Bounds: at most `max_pending` names wait; Defer refuses more (the caller
// unlinks at once). The destructor settles, then joins the worker.
//
// Thread-safety: all methods are thread-safe.
#ifndef KMSFS_FS_CORE_DEFERRED_UNLINKS_H_
#define KMSFS_FS_CORE_DEFERRED_UNLINKS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "cache/mutex.h"

namespace kmsfs::core {

struct DeferredUnlinksOptions {
  size_t max_pending = 1024;  // Default: 1024 names waiting at most; 0 = off (no thread, Defer refuses)
};

struct DeferredUnlinksStats {
  uint64_t deferred = 0;  // unlinks answered before they were done
  uint64_t failed = 0;    // of those, unlinks that then failed (the file stayed)
};

class DeferredUnlinks {
 public:
  // Removes one name; returns 0 or an errno value.
  using Remove = std::function<int(const std::string& rel)>;

  // Removes names relative to `root_fd`, which must outlive this object.
  DeferredUnlinks(int root_fd, DeferredUnlinksOptions options);
  // For tests: `remove` instead of unlinkat(root_fd, rel, 0).
  DeferredUnlinks(DeferredUnlinksOptions options, Remove remove);
  ~DeferredUnlinks();
  DeferredUnlinks(const DeferredUnlinks&) = delete;
  DeferredUnlinks& operator=(const DeferredUnlinks&) = delete;

  // Queues the removal of `rel`. False if off or full: the caller removes it.
  bool Defer(std::string rel);
  // Returns once every removal queued before the call is done.
  void Settle();
  DeferredUnlinksStats stats() const;

 private:
  void Work();
  // Pops the oldest name and removes it with mu_ released; holds mu_ again on return.
  void RemoveFrontLocked(cache::MutexLock& lock) KMSFS_REQUIRES(mu_);

  const DeferredUnlinksOptions options_;
  const Remove remove_;

  // queued_ - done_ is what Settle waits for; read without the lock first,
  // so a mount with nothing queued settles with one atomic load.
  std::atomic<uint64_t> queued_{0};
  std::atomic<uint64_t> done_{0};
  mutable cache::Mutex mu_;
  std::condition_variable wake_;
  std::condition_variable settled_;
  std::deque<std::string> queue_ KMSFS_GUARDED_BY(mu_);
  uint64_t started_ KMSFS_GUARDED_BY(mu_) = 0;  // names taken off the queue, in queue order
  bool stopping_ KMSFS_GUARDED_BY(mu_) = false;
  uint64_t failed_ KMSFS_GUARDED_BY(mu_) = 0;
  std::thread worker_;  // last: starts once the state above exists
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_DEFERRED_UNLINKS_H_
