#include "fs/core/file_rewrap.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"
#include "fs/core/header_io.h"

namespace kmsfs::core {

StatusOr<RewrapOutcome> RewrapFile(const FileToCheck& file, const format::VolumeConfig& config,
                                   const std::string& to_key, const Envelope& envelope) {
  // An inline header is rewritten in the file's data; an xattr needs no write access to it.
  const int access = config.header == format::HeaderMode::kInline ? O_RDWR : O_RDONLY;
  UniqueFd fd(openat(file.dir->get(), file.backing_name.c_str(), access | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return Status(StatusCode::kIoError, std::string("cannot open: ") + std::strerror(errno));
  KMSFS_ASSIGN_OR_RETURN(format::FileHeader header, ReadFileHeader(fd.get(), config.header));
  if (header.key_id == to_key) return RewrapOutcome::kAlreadyOnTarget;
  if (header.key_id != config.key_id) {
    return Status::DataLoss("foreign header: names key " + header.key_id + ", not the volume's key " +
                            config.key_id);
  }
  auto dek = envelope.UnwrapDek(header);
  if (!dek.ok()) {
    return Status(dek.status().code(), "unwrap with " + header.key_id + ": " + dek.status().ToString())
        .WithDetailOf(dek.status());
  }
  auto wrapped = envelope.WrapDek(to_key, *dek, header.file_id);
  if (!wrapped.ok()) {
    return Status(wrapped.status().code(), "wrap with " + to_key + ": " + wrapped.status().ToString())
        .WithDetailOf(wrapped.status());
  }
  format::FileHeader updated = header;
  updated.version = format::FileHeader::kVersion;
  updated.key_id = to_key;
  updated.wrapped_dek = *wrapped;
  KMSFS_RETURN_IF_ERROR(WriteFileHeader(fd.get(), updated, config.header));
  return RewrapOutcome::kRewrapped;
}

}  // namespace kmsfs::core
