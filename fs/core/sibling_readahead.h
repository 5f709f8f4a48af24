// SiblingReadahead: starts the disk reads of the files a reader will open
// next, while it opens a listed directory's files in the order they were
// listed (grep -r, cp -r, tar, a backup, a build reading its sources).
//
// Why: with the kernel's caches cold, each file's first block is read from
// disk only when its READ request comes, so a reader of many small files
// waits one disk read per file, one after another. The kernel's readahead
// works within a file, never across files, so a cold read of a tree of small
// files costs a disk wait per file that a warm one does not
// (docs/design/readahead.md).
//
// How: NoteListing(dir, names) remembers a directory's regular files in
// listing order. NoteOpen(dir, name) finds the name's place: an open at the
// place right after the previous open in that directory (or at the first
// place) continues a sequential run. From the run's second open on, it asks
// for the files after it: 4 ahead, then twice as many with each further open,
// up to `files_ahead`. Any other open starts a new run, so a single open
// after `ls` reads nothing ahead, and random access nothing at all. Jobs on
// the mount's WorkQueue, one at a time, take each file asked for, open it
// read-only (O_NOFOLLOW|O_NONBLOCK|O_NOATIME where permitted; regular files
// only, checked before and after the open, so a FIFO or device is never
// opened) and call posix_fadvise(WILLNEED) on its first `bytes_per_file`:
// the kernel queues the reads and returns at once.
//
// Bounds: at most kMaxDirectories listings and kMaxNames names in them (the
// oldest listings are dropped; a larger directory is not remembered); a
// listing older than `lifetime` reads nothing ahead, and ForgetStale (the
// mount's tick) closes its directory; at most `max_queued` files wait,
// further ones are dropped (counted). Errors are never reported: readahead
// is a hint, and the open that follows reports its own.
//
// Thread-safety: all methods are thread-safe. The fetch function runs on the
// work queue's threads, one call at a time.
#ifndef KMSFS_FS_CORE_SIBLING_READAHEAD_H_
#define KMSFS_FS_CORE_SIBLING_READAHEAD_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/unique_fd.h"
#include "base/work_queue.h"

namespace kmsfs::core {

struct SiblingReadaheadOptions {
  size_t files_ahead = 32;                  // Default: 32 files at most ahead of the reader; 0 = off
  uint64_t bytes_per_file = 128 * 1024;     // Default: the first 128 KiB of each (the kernel's own first window)
  size_t max_queued = 1024;                 // Default: 1024 files waiting at most
  std::chrono::seconds lifetime{30};        // Default: a listing reads ahead for 30 s
};

struct SiblingReadaheadStats {
  uint64_t asked = 0;    // files queued for reading ahead
  uint64_t dropped = 0;  // files not read ahead because the queue was full
  uint64_t listings = 0; // directories remembered now
};

class SiblingReadahead {
 public:
  // Reads ahead one file: `dir_fd` is the listed directory, `name` an entry.
  using Fetch = std::function<void(int dir_fd, const std::string& name, uint64_t bytes)>;

  static constexpr size_t kMaxDirectories = 256;
  static constexpr size_t kMaxNames = 256 * 1024;

  // Reads ahead through jobs on `queue`, which must outlive this object (off
  // when null).
  SiblingReadahead(SiblingReadaheadOptions options, WorkQueue* queue);
  // For tests: `fetch` instead of the open-and-fadvise above.
  SiblingReadahead(SiblingReadaheadOptions options, WorkQueue* queue, Fetch fetch);
  // Drops what is queued and waits for a fetch under way.
  ~SiblingReadahead();
  SiblingReadahead(const SiblingReadahead&) = delete;
  SiblingReadahead& operator=(const SiblingReadahead&) = delete;

  bool enabled() const { return jobs_ != nullptr; }

  // `dir_key` names the directory (any string unique per directory);
  // `dir_fd` is dup'd. Replaces an earlier listing of the same directory.
  void NoteListing(int dir_fd, const std::string& dir_key, std::vector<std::string> names);
  // An open for reading of `name` in the directory `dir_key`.
  void NoteOpen(const std::string& dir_key, const std::string& name);

  // Forgets listings older than `lifetime`: each holds its directory open,
  // and a deleted directory's inode is freed only once no fd holds it.
  void ForgetStale();

  // Blocks until nothing is queued or being fetched, or `timeout` passed.
  bool WaitIdle(std::chrono::milliseconds timeout);
  SiblingReadaheadStats stats() const;

  // The default fetch (public for its test).
  static void OpenAndAdvise(int dir_fd, const std::string& name, uint64_t bytes);

 private:
  struct Listing {
    std::shared_ptr<UniqueFd> dir;
    std::vector<std::string> names;
    std::unordered_map<std::string_view, size_t> place;  // views into `names`
    std::chrono::steady_clock::time_point when;
    size_t next_open = 0;   // the place that continues the run
    size_t run = 0;         // sequential opens so far
    size_t asked_until = 0; // places below this were asked for already
  };
  struct Item {
    std::shared_ptr<UniqueFd> dir;
    std::string name;
  };

  // The job: reads one queued file ahead, then posts itself again while files wait.
  void FetchOne();
  // Drops the oldest listings until `more` names fit.
  void MakeRoomLocked(size_t more) KMSFS_REQUIRES(mu_);
  // Forgets one listing, keeping names_held_ in step; returns the next.
  std::map<std::string, Listing>::iterator EraseLocked(std::map<std::string, Listing>::iterator it)
      KMSFS_REQUIRES(mu_);

  const SiblingReadaheadOptions options_;
  const Fetch fetch_;

  mutable Mutex mu_;
  std::condition_variable idle_;
  std::map<std::string, Listing> listings_ KMSFS_GUARDED_BY(mu_);
  std::deque<Item> queue_ KMSFS_GUARDED_BY(mu_);
  bool posted_ KMSFS_GUARDED_BY(mu_) = false;  // a fetch job is queued or running
  bool stopping_ KMSFS_GUARDED_BY(mu_) = false;
  size_t names_held_ KMSFS_GUARDED_BY(mu_) = 0;
  SiblingReadaheadStats stats_ KMSFS_GUARDED_BY(mu_);
  std::unique_ptr<WorkQueue::Scope> jobs_;  // last: its jobs use everything above
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_SIBLING_READAHEAD_H_
