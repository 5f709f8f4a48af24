// Session: mounts a LowLevelFs, serves it with libfuse's multi-threaded loop
// until it is unmounted (fusermount3 -u, umount, SIGTERM/SIGINT/SIGHUP), then
// tears down.
#ifndef KMSFS_FS_FUSE_SESSION_H_
#define KMSFS_FS_FUSE_SESSION_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "fs/fuse/lowlevel_fs.h"

namespace kmsfs::fuse {

struct SessionOptions {
  std::string mountpoint;
  std::string fsname;                    // shown as the source in /proc/mounts
  std::vector<std::string> mount_opts;   // -o values, e.g. "ro", "allow_other"
  // Called once: OK when the kernel mount is in place (requests queue until the
  // loop starts), or the reason it could not be made.
  std::function<void(const Status&)> on_mounted;
};

// `value` escaped for a FUSE -o option list: libfuse splits options at
// commas and takes a backslash as an escape, so a backing directory whose
// name holds a comma cannot add options of its own.
std::string EscapeOptionValue(std::string_view value);

// Blocks until unmounted. Returns an error only if the mount could not be made
// (on_mounted has then been called with the same error).
Status ServeMount(LowLevelFs* fs, const SessionOptions& options);

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_SESSION_H_
