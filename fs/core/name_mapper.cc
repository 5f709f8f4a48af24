#include "fs/core/name_mapper.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fs/format/volume_config.h"

namespace kmsfs::core {

bool IsVolumeFileName(std::string_view name) {
  const std::string_view config = format::kConfigFileName;
  return name == config || (name.size() > config.size() && name.substr(0, config.size()) == config &&
                            name.substr(config.size()).starts_with(".tmp."));
}

StatusOr<BackingName> PlaintextNames::ToBacking(const Inode& dir, std::string_view name) {
  if (dir.id() == kRootId && IsVolumeFileName(name)) {
    return Status::NotFound("the volume's own file is not part of the tree");
  }
  return BackingName{std::string(name), "", ""};
}

std::optional<std::string> PlaintextNames::FromBacking(const Inode& dir, std::string_view backing) {
  if (dir.id() == kRootId && IsVolumeFileName(backing)) return std::nullopt;
  return std::string(backing);
}

Status NameMapper::RemoveDirectory(const Inode& dir, const BackingName& name) {
  if (unlinkat(dir.fd(), name.name.c_str(), AT_REMOVEDIR) != 0) return Status::FromErrno(errno, "rmdir");
  return Status::Ok();
}

Status NameMapper::Rename(const Inode& from_dir, const BackingName& from, const Inode& to_dir, const BackingName& to,
                          unsigned int flags) {
  if (renameat2(from_dir.fd(), from.name.c_str(), to_dir.fd(), to.name.c_str(), flags) != 0) {
    return Status::FromErrno(errno, "rename");
  }
  return Status::Ok();
}

Status PlaintextNames::MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) {
  if (mkdirat(dir.fd(), name.name.c_str(), mode) != 0) return Status::FromErrno(errno, "mkdir");
  return Status::Ok();
}

}  // namespace kmsfs::core
