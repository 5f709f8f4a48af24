#include "fs/cli/backing.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include <cerrno>

namespace kmsfs::cli {

StatusOr<format::VolumeConfig> LoadBackingConfig(const std::string& backing_dir) {
  struct stat st;
  if (stat(backing_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("backing directory " + backing_dir + " does not exist or is not a directory");
  }
  const std::string config_path = backing_dir + "/" + format::kConfigFileName;
  if (stat(config_path.c_str(), &st) != 0) {
    return Status::InvalidArgument(backing_dir + " is not a kmsfs backing directory (no " +
                                   format::kConfigFileName + "): run 'kmsfs init " + backing_dir +
                                   " --key KEY_ID' first");
  }
  auto config = format::VolumeConfig::Load(backing_dir);
  if (!config.ok()) return config.status().Annotate("cannot read " + config_path);
  return config;
}

bool IsMountedBacking(const std::string& backing_dir) {
  char real[PATH_MAX];
  if (realpath(backing_dir.c_str(), real) == nullptr) return false;
  std::ifstream mounts("/proc/mounts");
  std::string source, target, type;
  std::string rest;
  while (mounts >> source >> target >> type && std::getline(mounts, rest)) {
    if (type == "fuse.kmsfs" && source == real) return true;
  }
  return false;
}

}  // namespace kmsfs::cli
