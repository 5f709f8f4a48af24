#include "fs/core/name_mapper.h"

#include <sys/stat.h>

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

Status PlaintextNames::MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) {
  if (mkdirat(dir.fd(), name.name.c_str(), mode) != 0) return Status::FromErrno(errno, "mkdir");
  return Status::Ok();
}

}  // namespace kmsfs::core
