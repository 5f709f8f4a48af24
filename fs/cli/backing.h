// Helpers shared by the commands that act on a backing directory.
#ifndef KMSFS_FS_CLI_BACKING_H_
#define KMSFS_FS_CLI_BACKING_H_

#include <string>

#include "base/status.h"
#include "fs/format/volume_config.h"
#include "kms/kms_client.h"

namespace kmsfs::cli {

// Loads BACKING/.kmsfs.json; a missing directory or config gets a message
// that says what to run.
StatusOr<format::VolumeConfig> LoadBackingConfig(const std::string& backing_dir);

// Whether a kmsfs mount of `backing_dir` is in /proc/mounts.
bool IsMountedBacking(const std::string& backing_dir);


}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_BACKING_H_
