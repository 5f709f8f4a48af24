// Kernel readahead for a FUSE mount.
//
// The kernel gives every FUSE mount a backing-device readahead of 128 KiB and
// lets the FUSE_INIT reply only lower it, so sequential reads arrive as
// 128 KiB requests, one or two in flight, however large max_readahead is.
// Raising /sys/class/bdi/MAJ:MIN/read_ahead_kb of the mount's device lets the
// kernel ask for 1 MiB at a time with more requests in flight, which keeps
// the disk busy where 128 KiB requests left it waiting between them
// (docs/design/kernel-caching.md). Writing that file needs root; without it
// the default stays.
//
// Thread-safety: stateless functions.
#ifndef KMSFS_FS_FUSE_READAHEAD_H_
#define KMSFS_FS_FUSE_READAHEAD_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kmsfs::fuse {

// The "MAJ:MIN" device of the newest mount on `mountpoint` (an absolute path
// without symlinks) in /proc/self/mountinfo text, or nullopt.
std::optional<std::string> MountDevice(std::string_view mountinfo, std::string_view mountpoint);

// Sets the readahead of the mount on `mountpoint` to `kib` KiB unless it is
// already at least that. Reads /proc/self/mountinfo, never the mount itself,
// so it is safe before the session serves requests.
Status RaiseMountReadahead(const std::string& mountpoint, unsigned kib);

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_READAHEAD_H_
