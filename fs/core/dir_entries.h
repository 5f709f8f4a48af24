// Reading a backing directory's names through its descriptor, for the
// offline walks (fsck, rewrap, headers export and import).
#ifndef KMSFS_FS_CORE_DIR_ENTRIES_H_
#define KMSFS_FS_CORE_DIR_ENTRIES_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace kmsfs::core {

// The entries of the directory `fd`, sorted, "." and ".." left out. A copy
// of `fd` is read, so `fd` stays usable and its offset untouched.
StatusOr<std::vector<std::string>> ListDirEntries(int fd);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_DIR_ENTRIES_H_
