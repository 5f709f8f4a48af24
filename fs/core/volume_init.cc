#include "fs/core/volume_init.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/unique_fd.h"
#include "crypto/random.h"
#include "fs/core/dir_values.h"
#include "fs/core/volume_access.h"

namespace kmsfs::core {
namespace {

StatusOr<bool> IsEmptyDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open " + dir);
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Found out now rather than on the first file. False when the filesystem
// has none (ENOTSUP).
StatusOr<bool> HasUserXattrs(const std::string& dir) {
  const std::string probe = dir + "/.kmsfs-xattr-probe";
  UniqueFd fd(open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create a probe file in " + dir);
  const char value[] = "probe";
  int rc = fsetxattr(fd.get(), "user.kmsfs.probe", value, sizeof value, 0);
  int err = errno;
  unlink(probe.c_str());
  if (rc != 0) {
    if (err == ENOTSUP) return false;
    return Status::FromErrno(err, "set a user xattr in " + dir);
  }
  return true;
}

}  // namespace

StatusOr<PreparedVolumeDir> PrepareVolumeDir(const std::string& dir, const VolumeSettings& settings) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::FromErrno(ec.value(), "create backing directory " + dir);
  KMSFS_ASSIGN_OR_RETURN(bool empty, IsEmptyDir(dir));
  if (!empty) {
    struct stat st;
    if (stat((dir + "/" + format::kConfigFileName).c_str(), &st) == 0) {
      return Status::InvalidArgument(dir + " is already a kmsfs backing directory: mount it with 'kmsfs mount " +
                                     dir + " MOUNTPOINT'");
    }
    return Status::InvalidArgument("backing directory " + dir + " is not empty: kmsfs init needs an empty directory");
  }
  PreparedVolumeDir prepared;
  prepared.header = settings.header.value_or(format::HeaderMode::kXattr);
  if (prepared.header == format::HeaderMode::kXattr) {
    KMSFS_ASSIGN_OR_RETURN(bool xattrs, HasUserXattrs(dir));
    if (!xattrs && settings.header) {
      return Status::InvalidArgument("the filesystem holding " + dir +
                                     " has no user extended attributes, which --header xattr needs: use --header "
                                     "inline, or a filesystem with them (ext4, xfs, btrfs, tmpfs)");
    }
    if (!xattrs) {
      prepared.header = format::HeaderMode::kInline;
      prepared.header_inline_for_lack_of_xattrs = true;
    }
  }
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr) return Status::FromErrno(errno, "resolve " + dir);
  prepared.backing_dir = real;
  return prepared;
}

StatusOr<format::VolumeConfig> CreateVolume(const PreparedVolumeDir& prepared, const VolumeSettings& settings,
                                            const Envelope& envelope, const Pins& pins) {
  format::VolumeConfig config;
  config.key_id = settings.key_id;
  config.project_id = settings.project_id;
  config.names = settings.names;
  config.header = prepared.header;
  config.suite = settings.suite;
  config.block_size = settings.block_size;
  config.created = settings.created;
  crypto::RandomBytes(config.volume_id);
  SecretBytes volume_key = Envelope::NewVolumeKey();
  auto wrapped = envelope.WrapVolumeKey(config.key_id, volume_key, config.volume_id);
  if (!wrapped.ok()) {
    const Status& s = wrapped.status();
    if (s.code() == StatusCode::kPermissionDenied) {
      return Status(s.code(), envelope.DeniedMessage("encrypt-datakey", config.key_id, s)).WithDetailOf(s);
    }
    return s.Annotate("cannot wrap a key with " + config.key_id);
  }
  config.wrapped_volume_key = *wrapped;
  KMSFS_RETURN_IF_ERROR(config.Seal(volume_key).Annotate("cannot seal the volume config"));
  if (config.names == format::NameMode::kEncrypted) {
    // The root's name value: the names in it are encrypted with it as
    // associated data, like every directory's.
    UniqueFd root(open(prepared.backing_dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) return Status::FromErrno(errno, "open " + prepared.backing_dir);
    format::DirValue value;
    crypto::RandomBytes(value);
    KMSFS_RETURN_IF_ERROR(
        DirValueStoreFor(config.header)->WriteNew(root.get(), value).Annotate("cannot set the root's name value"));
  }
  KMSFS_RETURN_IF_ERROR(config.Store(prepared.backing_dir));
  KMSFS_RETURN_IF_ERROR(pins.Put(prepared.backing_dir, PinOf(config)).Annotate("cannot pin the volume's key"));
  return config;
}

}  // namespace kmsfs::core
