// HeaderCache: the `user.kmsfs` headers of backing files this mount has read
// or written, so that opening a file whose DEK is cached needs no xattr read.
// Once the kernel has dropped a file's xattr block from its cache, that read
// is a disk read of its own (the header does not fit in a 256-byte ext4
// inode), on top of the file's data.
//
// An entry holds only while the backing file's identity and times are what
// they were when its header was read or checked: (dev, ino, ctime, mtime,
// size). Any change to the xattr moves ctime, so a rewrap or an edit of the
// header from elsewhere misses. Headers are not secret (they are on disk);
// the cache only saves I/O. Bounded, least recently used entries go first.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_FS_CORE_HEADER_CACHE_H_
#define KMSFS_FS_CORE_HEADER_CACHE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "fs/format/file_header.h"

namespace kmsfs::core {

class HeaderCache {
 public:
  // `capacity` 0 keeps nothing.
  explicit HeaderCache(size_t capacity) : capacity_(capacity) {}
  HeaderCache(const HeaderCache&) = delete;
  HeaderCache& operator=(const HeaderCache&) = delete;

  // The header recorded for the file `st` describes, if it has not changed since.
  std::optional<format::FileHeader> Find(const struct stat& st);
  // Whether an entry for the file `st` describes is current; unlike Find,
  // neither counted as a hit nor moved up in the order of use.
  bool Current(const struct stat& st) const;
  // Records `header` as the header of the file `st` describes, as of `st`.
  void Put(const struct stat& st, const format::FileHeader& header);
  // Drops the entry of a backing inode (its name is going away, and the
  // number may be reused).
  void Forget(dev_t dev, ino_t ino);

  struct Stats {
    size_t entries = 0;
    uint64_t hits = 0;  // Find calls that returned a header
  };
  Stats stats() const;

 private:
  using Id = std::pair<dev_t, ino_t>;
  struct Stamp {
    timespec ctime;
    timespec mtime;
    off_t size;
    bool operator==(const Stamp& o) const;
  };
  struct Entry {
    Stamp stamp;
    format::FileHeader header;
    std::list<Id>::iterator use;  // position in uses_
  };
  static Stamp StampOf(const struct stat& st);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<Id, Entry> entries_;  // guarded by mu_
  std::list<Id> uses_;           // most recently used first; guarded by mu_
  uint64_t hits_ = 0;            // guarded by mu_
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_HEADER_CACHE_H_
