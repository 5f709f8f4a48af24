// Opening an entry of a directory listing from a background thread, when the
// entry may have changed since it was listed (key prefetch, readahead).
#ifndef KMSFS_FS_CORE_LISTED_FILE_H_
#define KMSFS_FS_CORE_LISTED_FILE_H_

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace kmsfs::core {

// Opens `name` in `dir_fd` read-only if it is a plain name of a regular file:
// checked with fstatat before the open (so a FIFO or device is never opened)
// and with fstat after. The open never follows a symlink, never blocks (a
// FIFO swapped in between) and leaves the access time alone where the daemon
// may ask for that (it owns the file, or has CAP_FOWNER). An invalid fd means
// there is nothing to open: the entry is gone, was replaced, or is not a
// regular file. Other failures are errors.
StatusOr<UniqueFd> OpenListedRegularFile(int dir_fd, const std::string& name);

// A copy of a listed directory's fd for background work, which outlives the
// caller's handle; invalid (logged at debug level) when the copy fails.
UniqueFd DupDirectoryFd(int dir_fd);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_LISTED_FILE_H_
