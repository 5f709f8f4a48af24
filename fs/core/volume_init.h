// Making a volume (`kmsfs init`) in two steps, so that a directory that
// cannot become one is refused before any KMS connection:
//
//  1. PrepareVolumeDir: the directory exists (made if missing) and is opened
//     once (backing_root.h: whoever can write its parent may swap the path
//     for a symlink to another volume; every later step goes through the
//     descriptor); it is empty (not even a dot file: a volume must not mix
//     with plaintext files), and the header mode is settled: xattr headers
//     need user xattrs, and without them a volume that did not ask for xattr
//     headers keeps them inline.
//  2. CreateVolume: a random volume id and volume key; the key is wrapped
//     under the CMK (proving the caller may write; mounts unwrap it to prove
//     they may read) and keys the config's MAC and, with encrypted names, the
//     root directory's name value. The config is checked before anything is
//     written; .kmsfs.json is written last (a name value written before a
//     failed write is taken back, so init can be run again), then the user's
//     pin, only if the path still leads to the directory.
//
// Thread-safety: free functions.
#ifndef KMSFS_FS_CORE_VOLUME_INIT_H_
#define KMSFS_FS_CORE_VOLUME_INIT_H_

#include <optional>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/envelope.h"
#include "fs/core/pins.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

struct VolumeSettings {
  std::string key_id;
  std::string project_id;  // recorded so mounts without one use it
  format::NameMode names = format::NameMode::kEncrypted;
  // Unset: xattr headers where the filesystem has user xattrs, else inline.
  std::optional<format::HeaderMode> header;
  crypto::CipherSuite suite = crypto::CipherSuite::kAes256Gcm;
  uint32_t block_size = 4096;
  std::string created;  // RFC 3339 UTC, informational
};

struct PreparedVolumeDir {
  std::string backing_dir;  // absolute, no symlinks
  UniqueFd root_fd;         // the directory found empty
  format::HeaderMode header = format::HeaderMode::kXattr;
  // The filesystem has no user xattrs, so headers are inline though the
  // settings did not ask.
  bool header_inline_for_lack_of_xattrs = false;
};

// Step 1 above. kInvalidArgument when `dir` is not empty (saying whether it
// already is a volume) or xattr headers were asked on a filesystem without
// user xattrs; kIoError when it cannot be made or read.
StatusOr<PreparedVolumeDir> PrepareVolumeDir(const std::string& dir, const VolumeSettings& settings);

// Step 2 above; returns the stored config. kInvalidArgument for settings no
// config can hold (nothing written), kPermissionDenied (naming who, the key
// and the operation) when the KMS refuses the wrap, kFailedPrecondition when
// the path was swapped meanwhile (the volume is made in the directory that
// was found empty, and not pinned).
StatusOr<format::VolumeConfig> CreateVolume(const PreparedVolumeDir& prepared, const VolumeSettings& settings,
                                            const Envelope& envelope, const Pins& pins);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_INIT_H_
