#include "fs/core/name_mapper.h"

#include "fs/format/volume_config.h"

namespace kmsfs::core {

bool IsVolumeFileName(std::string_view name) {
  const std::string_view config = format::kConfigFileName;
  return name == config || (name.size() > config.size() && name.substr(0, config.size()) == config &&
                            name.substr(config.size()).starts_with(".tmp."));
}

StatusOr<std::string> PlaintextNames::ToBacking(const Inode& dir, std::string_view name) {
  if (dir.id() == kRootId && IsVolumeFileName(name)) {
    return Status::NotFound("the volume's own file is not part of the tree");
  }
  return std::string(name);
}

std::optional<std::string> PlaintextNames::FromBacking(const Inode& dir, std::string_view backing) {
  if (dir.id() == kRootId && IsVolumeFileName(backing)) return std::nullopt;
  return std::string(backing);
}

}  // namespace kmsfs::core
