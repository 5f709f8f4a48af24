#include "fs/core/volume_init.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/unique_fd.h"
#include "crypto/random.h"
#include "fs/core/backing_root.h"
#include "fs/core/dir_values.h"
#include "fs/core/volume_access.h"
#include "fs/format/offsets.h"

namespace kmsfs::core {
namespace {

StatusOr<bool> IsEmptyDir(int dir_fd) {
  // Its own open file description: listing moves the offset.
  int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open the backing directory");
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    const int err = errno;
    close(fd);
    return Status::FromErrno(err, "list the backing directory");
  }
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
StatusOr<bool> HasUserXattrs(int dir_fd, const std::string& dir) {
  constexpr char kProbe[] = ".kmsfs-xattr-probe";
  UniqueFd fd(openat(dir_fd, kProbe, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create a probe file in " + dir);
  const char value[] = "probe";
  int rc = fsetxattr(fd.get(), "user.kmsfs.probe", value, sizeof value, 0);
  int err = errno;
  unlinkat(dir_fd, kProbe, 0);
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
  KMSFS_ASSIGN_OR_RETURN(BackingRoot resolved, ResolveBackingRoot(dir));
  PreparedVolumeDir prepared;
  prepared.backing_dir = std::move(resolved.path);
  prepared.root_fd = std::move(resolved.fd);
  const int root = prepared.root_fd.get();
  KMSFS_ASSIGN_OR_RETURN(bool empty, IsEmptyDir(root));
  if (!empty) {
    struct stat st;
    if (fstatat(root, format::kConfigFileName, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return Status::InvalidArgument(dir + " is already a kmsfs backing directory: mount it with 'kmsfs mount " +
                                     dir + " MOUNTPOINT'");
    }
    return Status::InvalidArgument("backing directory " + dir + " is not empty: kmsfs init needs an empty directory");
  }
  prepared.header = settings.header.value_or(format::HeaderMode::kXattr);
  if (prepared.header == format::HeaderMode::kXattr) {
    KMSFS_ASSIGN_OR_RETURN(bool xattrs, HasUserXattrs(root, dir));
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
  if (!format::IsValidBlockSize(config.block_size)) {
    return Status::InvalidArgument("the block size must be a power of two in 512..1048576");
  }
  crypto::RandomBytes(config.volume_id);
  SecretBytes volume_key = Envelope::NewVolumeKey();
  auto wrapped = envelope.WrapVolumeKey(config.key_id, volume_key, config.volume_id);
  if (!wrapped.ok()) return envelope.Failure("encrypt-datakey", config.key_id, wrapped.status());
  config.wrapped_volume_key = *wrapped;
  KMSFS_RETURN_IF_ERROR(config.Seal(volume_key).Annotate("cannot seal the volume config"));
  // Everything Store would refuse, refused before anything is written.
  KMSFS_RETURN_IF_ERROR(config.Validate());
  const int root = prepared.root_fd.get();
  const std::unique_ptr<DirValueStore> dir_values = DirValueStoreFor(config.header);
  if (config.names == format::NameMode::kEncrypted) {
    // The root's name value: the names in it are encrypted with it as
    // associated data, like every directory's.
    format::DirValue value;
    crypto::RandomBytes(value);
    KMSFS_RETURN_IF_ERROR(dir_values->WriteNew(root, value).Annotate("cannot set the root's name value"));
  }
  if (Status s = config.Store(root); !s.ok()) {
    // Taken back unless a config file stands (Store can fail after its
    // rename, on the directory's fsync): a config without its root's value
    // would neither mount nor let init run again.
    struct stat st;
    const bool config_stands =
        fstatat(root, format::kConfigFileName, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (config.names == format::NameMode::kEncrypted && !config_stands) dir_values->RemoveUnused(root);
    return s;
  }
  // The pin is keyed by path: only if the path still leads here.
  KMSFS_RETURN_IF_ERROR(CheckBackingRootAt(prepared.backing_dir, root));
  KMSFS_RETURN_IF_ERROR(pins.Put(prepared.backing_dir, PinOf(config)).Annotate("cannot pin the volume's key"));
  return config;
}

}  // namespace kmsfs::core
