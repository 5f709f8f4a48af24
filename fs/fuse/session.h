// Session: mounts a FuseFs, serves it with a multi-threaded loop until it is
// unmounted (fusermount3 -u, umount, SIGTERM/SIGINT/SIGHUP), then tears down.
#ifndef KMSFS_FS_FUSE_SESSION_H_
#define KMSFS_FS_FUSE_SESSION_H_

#include <functional>
#include <string>
#include <vector>

#include "fs/base/status.h"
#include "fs/fuse/device_io.h"
#include "fs/fuse/fuse_fs.h"

namespace kmsfs::fuse {

struct SessionOptions {
  std::string mountpoint;
  std::string fsname;                    // shown as the source in /proc/mounts
  std::vector<std::string> mount_opts;   // -o values, e.g. "ro", "allow_other"
  DeviceIoOptions device_io;             // how threads wait for requests
  // Called once: OK when the kernel mount is in place (requests queue until the
  // loop starts), or the reason it could not be made.
  std::function<void(const Status&)> on_mounted;
  // Called about once a second while serving (cache expiry).
  std::function<void()> on_tick;
};

// Blocks until unmounted. Returns an error only if the mount could not be made
// (on_mounted has then been called with the same error).
Status ServeMount(FuseFs* fs, const SessionOptions& options);

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_SESSION_H_
