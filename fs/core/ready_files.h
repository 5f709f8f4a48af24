// ReadyFiles: nameless backing files made ahead, with their headers already
// set, in the directories where files are being created, so that a create
// only links one in.
//
// Why: a new file's backing inode is made nameless (O_TMPFILE) and gets its
// header xattr before it is linked, so no named file ever lacks a header.
// The O_TMPFILE open and the header's fsetxattr (ext4 allocates an xattr
// block: the header does not fit in a 256-byte inode) took about 20 us of
// each CREATE request, during which the creating program waits. Twelve
// alternating runs of 5 000 creates (journaled loop ext4) took a median of
// 0.92 s making each file in its request and 0.81 s linking one made ahead.
//
// How: Take(dir, mode) hands out a file made in `dir` if one is ready; once
// half of the directory's stock is gone, a worker thread makes it up again
// (the first create in a directory finds none: it is made in the request,
// as before). The stock grows with the creates a directory has seen, one
// more than their number up to `per_directory`: most directories of an
// unpacked tree get only a few files, and a file made for nothing costs an
// inode and an xattr block made and freed. Files are made in the directory
// they will be linked into, so they get that directory's group (setgid) and,
// on the backing filesystem, its block group. They are made with the mode
// the directory's last create asked for; the caller sets the times when it
// takes one, and the mode if it differs. A file also comes with its block
// codec (key derivation and cipher setup, 13 us of a CREATE on a busy core),
// built by the worker. A directory whose new files would inherit a default
// ACL gets none (the ACL depends on the mode at creation): `make` refuses
// it, and the directory is not asked again.
//
// Bounds: at most `max_directories` directories hold files (the one used
// longest ago gives its files up); a file older than `max_age` is not handed
// out (its birth time would be too early), and DropStale (the mount's tick)
// gives it up. A file given up is closed (its inode goes with the fd) and
// its DEK, never linked to any name, is kept for the next file made, for
// max_age at most: a DEK leaves memory at most 2 x max_age after the pool
// handed it out (plus a tick), so revocation bounds stay as the pool's.
//
// Thread-safety: all methods are thread-safe. `make` runs on the worker.
#ifndef KMSFS_FS_CORE_READY_FILES_H_
#define KMSFS_FS_CORE_READY_FILES_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "cache/dek_pool.h"
#include "cache/mutex.h"
#include "fs/base/status.h"
#include "fs/base/unique_fd.h"
#include "fs/format/block_codec.h"

namespace kmsfs::core {

struct ReadyFilesOptions {
  size_t per_directory = 8;                 // Default: 8 files kept ready per directory; 0 = off (no thread)
  size_t max_directories = 16;              // Default: 16 directories at most hold ready files
  std::chrono::milliseconds max_age{1000};  // Default: a file is handed out within 1 s of being made
};

struct ReadyFilesStats {
  uint64_t made = 0;     // files made ahead
  uint64_t used = 0;     // of those, files a create linked in
  uint64_t dropped = 0;  // files given up (too old, or their directory was)
};

class ReadyFiles {
 public:
  struct File {
    UniqueFd fd;            // nameless, header set
    cache::PooledDek dek;   // the DEK its header wraps
    std::chrono::steady_clock::time_point made;
    mode_t mode = 0;                          // its permission bits as made
    std::unique_ptr<format::BlockCodec> codec;  // built from dek; null: the taker builds one
  };
  // Makes one nameless file with its header in `dir_rel`, with permission
  // bits `mode` where it can, from `dek` if it holds one (a DEK of a file
  // given up) or else a fresh one.
  // kFailedPrecondition: never make files in this directory.
  using Make =
      std::function<StatusOr<File>(const std::string& dir_rel, mode_t mode, std::optional<cache::PooledDek> dek)>;

  ReadyFiles(ReadyFilesOptions options, Make make);
  // Stops the worker and closes every ready file.
  ~ReadyFiles();
  ReadyFiles(const ReadyFiles&) = delete;
  ReadyFiles& operator=(const ReadyFiles&) = delete;

  bool enabled() const { return options_.per_directory > 0; }

  // A file made in `dir_rel`, if one is ready; the worker makes the
  // directory's files up again once half are gone, from now on with `mode`.
  std::optional<File> Take(const std::string& dir_rel, mode_t mode);
  // Gives every ready file up: a directory was renamed or removed, so a path
  // may now name another directory.
  void Forget();
  // Gives up files older than max_age and forgets DEKs kept longer than that.
  void DropStale();
  ReadyFilesStats stats() const;

  // For tests: blocks until the worker has nothing to do, or `timeout` passed.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Directory {
    std::deque<File> files;
    size_t making = 0;  // files the worker is making for it now
    uint64_t last_used = 0;
    mode_t mode = 0600;  // the last create's, for the files made next
    uint64_t taken = 0;  // creates that asked here since the directory was added
    bool evicted = false;  // given up while a file was being made for it: goes when that comes
  };

  void Work();
  // Closes `file` and keeps its DEK for a file made later.
  void GiveUpLocked(File file) KMSFS_REQUIRES(mu_);
  // How many files `dir` is kept stocked with.
  size_t TargetOf(const Directory& dir) const;
  // The directory with the fewest files among those short of their target.
  std::map<std::string, Directory>::iterator ShortestLocked() KMSFS_REQUIRES(mu_);
  // The worker waits, and no Take has woken it since (or there is no worker).
  bool IdleLocked() KMSFS_REQUIRES(mu_);

  const ReadyFilesOptions options_;
  const Make make_;

  mutable cache::Mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, Directory> dirs_ KMSFS_GUARDED_BY(mu_);
  std::set<std::string> refused_ KMSFS_GUARDED_BY(mu_);  // directories make refused
  // DEKs of files given up, oldest first, with when they were given up.
  std::deque<std::pair<std::chrono::steady_clock::time_point, cache::PooledDek>> spare_deks_ KMSFS_GUARDED_BY(mu_);
  uint64_t clock_ KMSFS_GUARDED_BY(mu_) = 0;  // orders last_used
  uint64_t generation_ KMSFS_GUARDED_BY(mu_) = 0;  // bumped by Forget
  bool stopping_ KMSFS_GUARDED_BY(mu_) = false;
  // The worker waits for a wake with nothing to make; false once Take wakes it.
  bool worker_waits_ KMSFS_GUARDED_BY(mu_) = false;
  ReadyFilesStats stats_ KMSFS_GUARDED_BY(mu_);
  std::thread worker_;  // last: starts once the state above exists
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_READY_FILES_H_
