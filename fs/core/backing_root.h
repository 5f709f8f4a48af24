// The backing directory's root as one descriptor, so that a command acts on
// the directory whose .kmsfs.json it read and nothing else.
//
// Whoever can write a component of the backing directory's path (its parent,
// say) can swap it for a symlink between two lookups of the path. Commands
// therefore resolve the path once (realpath), open it here component by
// component without following any symlink, and then reach the volume only
// through the descriptor: the config, the name values and the files. Only
// the user's pins are keyed by path: CheckBackingRootAt, just before a pin is
// written, says whether the path still leads to that directory.
//
// Thread-safety: free functions.
#ifndef KMSFS_FS_CORE_BACKING_ROOT_H_
#define KMSFS_FS_CORE_BACKING_ROOT_H_

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace kmsfs::core {

// Opens the directory at `absolute_path` (as realpath gives it: no "." or
// ".." components) for reading, following no symlink on the way.
// kFailedPrecondition when a component is a symlink (the path changed since
// it was resolved); kIoError for the rest.
StatusOr<UniqueFd> OpenBackingRoot(const std::string& absolute_path);

// OK when `absolute_path` leads to the directory `root_fd` is open on (same
// device and inode); kFailedPrecondition when it leads elsewhere or nowhere.
Status CheckBackingRootAt(const std::string& absolute_path, int root_fd);

struct BackingRoot {
  std::string path;  // absolute, no symlinks: what pins are keyed by
  UniqueFd fd;
};

// `given` as the user named it (through symlinks of theirs, relative):
// resolved once with realpath, then opened as OpenBackingRoot does.
// kInvalidArgument when it does not exist.
StatusOr<BackingRoot> ResolveBackingRoot(const std::string& given);

// A new descriptor of the same directory (close-on-exec).
StatusOr<UniqueFd> DupBackingRoot(int root_fd);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_BACKING_ROOT_H_
