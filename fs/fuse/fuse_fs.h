// FuseFs: the kmsfs operations for libfuse's high-level API.
//
// Paths from libfuse are resolved relative to the backing root fd, so the
// backing tree mirrors the plaintext tree. Regular files go through
// core::Volume/CryptFile; everything else (directories, symlinks, FIFOs,
// modes, owners, times, user xattrs) passes straight through. This file is the
// only place where a Status becomes an errno.
//
// Hidden from the mount: BACKING/.kmsfs.json and every file's `user.kmsfs`
// header xattr. The mount root answers getxattr("user.kmsfs.status") with the
// volume's statistics as JSON (read by `kmsfs status`).
//
// Thread-safety: all operations are called concurrently by libfuse's worker
// threads; FuseFs itself holds no mutable state beyond the Volume's.
#ifndef KMSFS_FS_FUSE_FUSE_FS_H_
#define KMSFS_FS_FUSE_FUSE_FS_H_

#define FUSE_USE_VERSION 312
#include <fuse3/fuse.h>

#include <string>

#include "fs/core/volume.h"

namespace kmsfs::fuse {

inline constexpr char kStatusXattrName[] = "user.kmsfs.status";

struct FuseFsOptions {
  // Kernel caching of names and attributes. Default: 1 s each, so `ls -l` of a
  // large tree does not re-ask for every entry; 0 with --shared-storage so
  // another client's changes show immediately.
  double entry_timeout = 1.0;
  double attr_timeout = 1.0;
  double negative_timeout = 0.0;
  // Largest write request the kernel may send. Default: 1 MiB (fewer
  // round trips, whole-request crypto).
  unsigned max_write = 1 << 20;
  // Keep page cache across opens unless mtime/size changed (libfuse auto_cache).
  bool auto_cache = true;
  // Kernel writeback cache: writes land in the page cache and reach the
  // daemon in large batches; the kernel keeps size and O_APPEND offsets.
  // Default: on; off with --shared-storage, where another client may change
  // a file's size under the kernel's feet.
  bool writeback_cache = true;
  // True when the daemon runs as root: new nodes get the caller's owner.
  bool set_owner = false;
};

class FuseFs {
 public:
  FuseFs(core::Volume* volume, FuseFsOptions options) : volume_(volume), options_(options) {}
  core::Volume* volume() const { return volume_; }
  const FuseFsOptions& options() const { return options_; }
  // The operations table; private_data passed to fuse_new must be this FuseFs.
  static const fuse_operations& Operations();
  std::string StatusJson() const;

 private:
  core::Volume* volume_;
  FuseFsOptions options_;
};

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_FUSE_FS_H_
