// LowLevelFs: the kmsfs operations for libfuse's low-level API. Each
// operation takes the kernel's request apart, calls the volume's tree or an
// open file, and answers: a reply is sent only once what it reports has
// happened. This is the only place where a Status becomes an errno; nothing
// here parses or rewrites FUSE messages.
//
// Node ids are the tree's (core::InodeTable); the kernel's lookup counts are
// kept exactly (every entry replied counts one, forget subtracts).
//
// The mount root answers getxattr("user.kmsfs.status") with the volume's
// counters as JSON (read by `kmsfs status`).
//
// Thread-safety: the operations are called concurrently by libfuse's
// workers; LowLevelFs holds no mutable state of its own.
#ifndef KMSFS_FS_FUSE_LOWLEVEL_FS_H_
#define KMSFS_FS_FUSE_LOWLEVEL_FS_H_

#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>

#include "fs/core/volume.h"

namespace kmsfs::fuse {

inline constexpr char kStatusXattrName[] = "user.kmsfs.status";

struct LowLevelFsOptions {
  // Kernel caching of names and attributes. Default: 1 s each, so `ls -l` of
  // a large tree does not re-ask for every entry; 0 with --shared-storage so
  // another client's changes show immediately.
  double entry_timeout = 1.0;
  double attr_timeout = 1.0;
  // Largest write (and read-ahead) request. Default: 1 MiB: fewer round
  // trips, whole-request crypto.
  unsigned max_write = 1 << 20;
  // Keep a file's page cache across opens; the kernel drops it when it sees
  // the size or mtime change (FUSE_CAP_AUTO_INVAL_DATA). Default: on.
  bool keep_cache = true;
  // Kernel writeback cache: writes land in the page cache and reach the
  // daemon in large batches; the kernel keeps size and O_APPEND offsets.
  // Default: on; off with --shared-storage, where another client may change
  // a file's size under the kernel's feet.
  bool writeback_cache = true;
};

class LowLevelFs {
 public:
  LowLevelFs(core::Volume* volume, LowLevelFsOptions options) : volume_(volume), options_(options) {}
  LowLevelFs(const LowLevelFs&) = delete;
  LowLevelFs& operator=(const LowLevelFs&) = delete;

  core::Volume* volume() const { return volume_; }
  const LowLevelFsOptions& options() const { return options_; }
  // The operations table; the userdata given to fuse_session_new must be this LowLevelFs.
  static const fuse_lowlevel_ops& Operations();

 private:
  core::Volume* const volume_;
  const LowLevelFsOptions options_;
};

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_LOWLEVEL_FS_H_
