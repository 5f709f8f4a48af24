// RewrapFile: one step of `kmsfs rewrap`: moves one file's DEK from the
// volume's key to the rewrap target by replacing its header (one xattr
// write, or one 512-byte write at offset 0 for an inline header), so the file
// is always readable under its old or its new key. The data is not touched.
//
// A header that names neither the volume's key nor the target is refused
// before any KMS call: unwrapping it would let whoever planted it choose a
// key this user's credentials act on, and its DEK would then be wrapped
// under the target.
//
// Thread-safety: free function; files may be rewrapped concurrently.
#ifndef KMSFS_FS_CORE_FILE_REWRAP_H_
#define KMSFS_FS_CORE_FILE_REWRAP_H_

#include <string>

#include "base/status.h"
#include "fs/core/envelope.h"
#include "fs/core/volume_check.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

enum class RewrapOutcome {
  kRewrapped,        // the header now names `to_key`
  kAlreadyOnTarget,  // it did already (a resumed rewrap)
};

// Errors say what failed for this file, for a "PATH: reason" line: it cannot
// be opened, its header cannot be read or written, it is foreign, or the KMS
// refused the unwrap or the wrap (with the KMS's status).
StatusOr<RewrapOutcome> RewrapFile(const FileToCheck& file, const format::VolumeConfig& config,
                                   const std::string& to_key, const Envelope& envelope);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_FILE_REWRAP_H_
