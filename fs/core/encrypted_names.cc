#include "fs/core/encrypted_names.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fs/base/hex.h"
#include "fs/base/logging.h"
#include "fs/base/unique_fd.h"
#include "fs/crypto/kdf.h"

namespace kmsfs::core {
namespace {

constexpr char kTempPrefix[] = "kmsfs.tmp.";
constexpr size_t kMaxSidecar = 1024;
constexpr size_t kMaxStoredTargetFile = 8192;

std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Reads a small regular file `name` of `dir_fd` whole (never following a
// symlink, never blocking on a FIFO), at most `max` bytes.
StatusOr<std::string> ReadSmallFile(int dir_fd, const std::string& name, size_t max) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + name);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + name);
  if (!S_ISREG(st.st_mode)) return Status::DataLoss(name + " is not a regular file");
  std::string out(max + 1, '\0');
  KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), out.data(), out.size(), 0));
  if (n > max) return Status::DataLoss(name + " is too large");
  out.resize(n);
  return out;
}

// Writes `content` as the new file `name` of `dir_fd`, exclusively.
Status WriteNewFile(int dir_fd, const std::string& name, std::string_view content) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + name);
  Status s = PwriteFull(fd.get(), content.data(), content.size(), 0);
  if (!s.ok()) unlinkat(dir_fd, name.c_str(), 0);
  return s;
}

bool IsInternal(std::string_view backing) {
  // Encoded names are base64url: no '.' ever. Everything with one is the
  // volume's own (its config, long names' sidecars, temporaries, the target
  // store) or was not made by kmsfs.
  return backing.find('.') != std::string_view::npos;
}

}  // namespace

StatusOr<format::DirValue> ReadDirValue(int dir_fd) {
  uint8_t buf[format::kDirValueXattrSize + 1];
  const ssize_t n = getxattr(ProcPath(dir_fd).c_str(), format::kHeaderXattrName, buf, sizeof buf);
  if (n < 0) {
    if (errno == ENODATA) return Status::DataLoss("directory has no name value (xattr user.kmsfs)");
    if (errno == ERANGE) return Status::DataLoss("directory name value is too large");
    return Status::FromErrno(errno, "read directory name value");
  }
  return format::DecodeDirValue({buf, static_cast<size_t>(n)});
}

Status WriteNewDirValue(int dir_fd) {
  format::DirValue value;
  crypto::RandomBytes(value);
  const std::vector<uint8_t> encoded = format::EncodeDirValue(value);
  if (setxattr(ProcPath(dir_fd).c_str(), format::kHeaderXattrName, encoded.data(), encoded.size(), XATTR_CREATE) !=
      0) {
    return Status::FromErrno(errno, "set directory name value");
  }
  return Status::Ok();
}

EncryptedNames::EncryptedNames(std::unique_ptr<format::NameCodec> codec, int root_fd)
    : codec_(std::move(codec)), root_fd_(root_fd) {}

StatusOr<format::DirValue> EncryptedNames::DirValueOf(const Inode& dir) {
  if (!dir.is_dir()) return Status::FromErrno(ENOTDIR, "name");
  if (auto cached = std::static_pointer_cast<const format::DirValue>(dir.mapper_state())) return *cached;
  KMSFS_ASSIGN_OR_RETURN(format::DirValue value, ReadDirValue(dir.fd()));
  dir.set_mapper_state(std::make_shared<const format::DirValue>(value));
  return value;
}

StatusOr<BackingName> EncryptedNames::ToBacking(const Inode& dir, std::string_view name) {
  KMSFS_ASSIGN_OR_RETURN(format::DirValue value, DirValueOf(dir));
  KMSFS_ASSIGN_OR_RETURN(std::string encoded, codec_->Encrypt(value, name));
  BackingName out;
  out.name = format::NameCodec::StoredName(encoded);
  if (out.name != encoded) {
    out.sidecar = format::NameCodec::SidecarName(out.name);
    out.encoded = std::move(encoded);
  }
  return out;
}

void EncryptedNames::LogSkipped(const Inode& dir, std::string_view backing, const Status& why) {
  const std::string key = std::to_string(dir.dev()) + ":" + std::to_string(dir.ino()) + "/" + std::string(backing);
  {
    MutexLock lock(&mu_);
    if (logged_.size() > 4096 || !logged_.insert(key).second) return;
  }
  KMSFS_LOG(kWarning) << "skipped backing entry " << backing << " in directory inode " << dir.ino() << ": "
                      << why.message() << " (tampered, or moved from another directory; kmsfs fsck lists these)";
}

std::optional<std::string> EncryptedNames::FromBacking(const Inode& dir, std::string_view backing) {
  std::string encoded;
  if (format::NameCodec::IsLongName(backing)) {
    auto sidecar = ReadSmallFile(dir.fd(), format::NameCodec::SidecarName(backing), kMaxSidecar);
    if (!sidecar.ok()) {
      LogSkipped(dir, backing, sidecar.status());
      return std::nullopt;
    }
    // The stored name is the hash of the sidecar's name: a swapped sidecar
    // shows as a mismatch, not as another name.
    if (format::NameCodec::StoredName(*sidecar) != backing) {
      LogSkipped(dir, backing, Status::DataLoss("long name does not match its sidecar"));
      return std::nullopt;
    }
    encoded = std::move(sidecar).value();
  } else if (IsInternal(backing)) {
    return std::nullopt;
  } else {
    encoded = std::string(backing);
  }
  auto value = DirValueOf(dir);
  if (!value.ok()) {
    LogSkipped(dir, backing, value.status());
    return std::nullopt;
  }
  auto name = codec_->Decrypt(*value, encoded);
  if (!name.ok()) {
    LogSkipped(dir, backing, name.status());
    return std::nullopt;
  }
  return std::move(name).value();
}

Status EncryptedNames::BeforeCreate(const Inode& dir, const BackingName& name) {
  if (name.sidecar.empty()) return Status::Ok();
  Status s = WriteNewFile(dir.fd(), name.sidecar, name.encoded);
  // The same name's sidecar holds the same bytes: one left by a crash or by
  // another name of a hard-linked file in this directory is as good.
  if (!s.ok() && s.sys_errno() == EEXIST) {
    auto existing = ReadSmallFile(dir.fd(), name.sidecar, kMaxSidecar);
    if (existing.ok() && *existing == name.encoded) return Status::Ok();
  }
  return s;
}

void EncryptedNames::AfterRemove(const Inode& dir, const BackingName& name) {
  if (!name.sidecar.empty()) unlinkat(dir.fd(), name.sidecar.c_str(), 0);
}

Status EncryptedNames::MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) {
  // Made under a temporary name with its value set, then renamed into place:
  // the named directory never exists without its value.
  uint8_t random[8];
  crypto::RandomBytes(random);
  const std::string temp = kTempPrefix + HexEncode(random);
  if (mkdirat(dir.fd(), temp.c_str(), mode) != 0) return Status::FromErrno(errno, "mkdir");
  auto undo = [&](const Status& s) {
    unlinkat(dir.fd(), temp.c_str(), AT_REMOVEDIR);
    return s;
  };
  UniqueFd made(openat(dir.fd(), temp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!made.valid()) return undo(Status::FromErrno(errno, "open new directory"));
  if (Status s = WriteNewDirValue(made.get()); !s.ok()) return undo(s);
  if (renameat2(dir.fd(), temp.c_str(), dir.fd(), name.name.c_str(), RENAME_NOREPLACE) != 0) {
    return undo(Status::FromErrno(errno, "mkdir"));
  }
  return Status::Ok();
}

StatusOr<std::string> EncryptedNames::ToBackingTarget(std::string_view target) {
  KMSFS_ASSIGN_OR_RETURN(std::string encoded, codec_->EncryptTarget(target));
  if (encoded.size() <= format::kMaxStoredTarget) return encoded;
  // Too long for a symlink: kept in the target store, named by its hash.
  if (mkdirat(root_fd_, format::kTargetStoreDir, 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "make the symlink target store");
  }
  UniqueFd store(openat(root_fd_, format::kTargetStoreDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!store.valid()) return Status::FromErrno(errno, "open the symlink target store");
  const std::string id = format::NameCodec::TargetId(encoded);
  KMSFS_RETURN_IF_ERROR(WriteNewFile(store.get(), id, encoded));
  return format::kStoredTargetPrefix + id;
}

StatusOr<std::string> EncryptedNames::FromBackingTarget(std::string_view stored) {
  const std::string_view prefix = format::kStoredTargetPrefix;
  if (!stored.starts_with(prefix)) return codec_->DecryptTarget(stored);
  const std::string id(stored.substr(prefix.size()));
  if (!format::NameCodec::IsTargetId(id)) return Status::DataLoss("symlink names a bad stored target");
  UniqueFd store(openat(root_fd_, format::kTargetStoreDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!store.valid()) return Status::DataLoss("the symlink target store is missing");
  auto encoded = ReadSmallFile(store.get(), id, kMaxStoredTargetFile);
  if (!encoded.ok()) return Status::DataLoss("stored symlink target: " + encoded.status().message());
  if (format::NameCodec::TargetId(*encoded) != id) return Status::DataLoss("stored symlink target does not match its id");
  return codec_->DecryptTarget(*encoded);
}

uint64_t EncryptedNames::TargetSizeOf(int fd, uint64_t stored_size) {
  uint64_t encoded_size = stored_size;
  const size_t stored_form = std::strlen(format::kStoredTargetPrefix) + 43;
  if (stored_size == stored_form) {
    // As long as a stored target's reference: look, and size the stored one.
    char buf[128];
    const ssize_t n = readlinkat(fd, "", buf, sizeof buf);
    const std::string_view stored(buf, n > 0 ? static_cast<size_t>(n) : 0);
    if (stored.starts_with(format::kStoredTargetPrefix)) {
      UniqueFd store(openat(root_fd_, format::kTargetStoreDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat st;
      const std::string id(stored.substr(std::strlen(format::kStoredTargetPrefix)));
      if (!format::NameCodec::IsTargetId(id) || !store.valid() || fstatat(store.get(), id.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return stored_size;
      encoded_size = static_cast<uint64_t>(st.st_size);
    }
  }
  return codec_->TargetPlainSize(encoded_size);
}

void EncryptedNames::ReleaseTarget(std::string_view stored) {
  const std::string_view prefix = format::kStoredTargetPrefix;
  if (!stored.starts_with(prefix)) return;
  const std::string id(stored.substr(prefix.size()));
  if (!format::NameCodec::IsTargetId(id)) return;
  UniqueFd store(openat(root_fd_, format::kTargetStoreDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (store.valid()) unlinkat(store.get(), id.c_str(), 0);
}

}  // namespace kmsfs::core
