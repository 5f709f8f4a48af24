#include "fs/core/encrypted_names.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/hex.h"
#include "base/logging.h"
#include "base/unique_fd.h"
#include "crypto/random.h"

namespace kmsfs::core {
namespace {

constexpr char kTempPrefix[] = "kmsfs.tmp.";
constexpr size_t kMaxSidecar = 1024;
constexpr size_t kMaxStoredTargetFile = 8192;


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

// A fresh name for a directory on its way in or out, never a name of the tree.
std::string TempName() {
  uint8_t random[8];
  crypto::RandomBytes(random);
  return kTempPrefix + HexEncode(random);
}

bool IsInternal(std::string_view backing) {
  // Encoded names are base64url: no '.' ever. Everything with one is the
  // volume's own (its config, long names' sidecars, temporaries, the target
  // store) or was not made by kmsfs.
  return backing.find('.') != std::string_view::npos;
}

}  // namespace

EncryptedNames::EncryptedNames(std::unique_ptr<format::NameCodec> codec, int root_fd,
                               std::unique_ptr<DirValueStore> values)
    : codec_(std::move(codec)), root_fd_(root_fd), values_(std::move(values)) {}

StatusOr<format::DirValue> EncryptedNames::DirValueOf(const Inode& dir) {
  if (!dir.is_dir()) return Status::FromErrno(ENOTDIR, "name");
  if (auto cached = std::static_pointer_cast<const format::DirValue>(dir.mapper_state())) return *cached;
  KMSFS_ASSIGN_OR_RETURN(format::DirValue value, values_->Read(dir.fd()));
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
  const std::string temp = TempName();
  if (mkdirat(dir.fd(), temp.c_str(), mode) != 0) return Status::FromErrno(errno, "mkdir");
  UniqueFd made(openat(dir.fd(), temp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  auto undo = [&](const Status& s) {
    if (values_->file_name() != nullptr && made.valid()) unlinkat(made.get(), values_->file_name(), 0);
    unlinkat(dir.fd(), temp.c_str(), AT_REMOVEDIR);
    return s;
  };
  if (!made.valid()) return undo(Status::FromErrno(errno, "open new directory"));
  format::DirValue value;
  crypto::RandomBytes(value);
  if (Status s = values_->WriteNew(made.get(), value); !s.ok()) return undo(s);
  if (renameat2(dir.fd(), temp.c_str(), dir.fd(), name.name.c_str(), RENAME_NOREPLACE) != 0) {
    return undo(Status::FromErrno(errno, "mkdir"));
  }
  return Status::Ok();
}

StatusOr<std::string> EncryptedNames::MoveAsideIfEmpty(int dir_fd, const std::string& name) {
  UniqueFd victim(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!victim.valid()) return Status::FromErrno(errno == ELOOP ? ENOTDIR : errno, "rmdir");
  DIR* d = fdopendir(victim.get());
  if (d == nullptr) return Status::FromErrno(errno, "rmdir");
  victim.Release();  // the stream owns it now
  bool empty = true;
  errno = 0;
  while (dirent* e = readdir(d)) {
    const std::string_view entry = e->d_name;
    if (entry == "." || entry == ".." || entry == values_->file_name()) continue;
    empty = false;
    break;
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return Status::FromErrno(err, "rmdir");
  if (!empty) return Status::FromErrno(ENOTEMPTY, "rmdir");
  // The kernel holds the directory's lock for the whole rmdir or rename, so
  // nothing made through the mount appears in it between this check and the
  // removal.
  const std::string temp = TempName();
  if (renameat2(dir_fd, name.c_str(), dir_fd, temp.c_str(), RENAME_NOREPLACE) != 0) {
    return Status::FromErrno(errno, "rmdir");
  }
  return temp;
}

Status EncryptedNames::RemoveAside(int dir_fd, const std::string& temp) {
  UniqueFd aside(openat(dir_fd, temp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (aside.valid() && unlinkat(aside.get(), values_->file_name(), 0) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove directory name value");
  }
  if (unlinkat(dir_fd, temp.c_str(), AT_REMOVEDIR) != 0) return Status::FromErrno(errno, "rmdir");
  return Status::Ok();
}

Status EncryptedNames::RemoveDirectory(const Inode& dir, const BackingName& name) {
  if (values_->file_name() == nullptr) return NameMapper::RemoveDirectory(dir, name);
  KMSFS_ASSIGN_OR_RETURN(std::string temp, MoveAsideIfEmpty(dir.fd(), name.name));
  if (Status s = RemoveAside(dir.fd(), temp); !s.ok()) {
    // The name is gone as asked; what is left is a temporary directory
    // that fsck reports.
    KMSFS_LOG(kWarning) << "rmdir left " << temp << " in directory inode " << dir.ino() << ": " << s.message();
  }
  return Status::Ok();
}

Status EncryptedNames::Rename(const Inode& from_dir, const BackingName& from, const Inode& to_dir,
                              const BackingName& to, unsigned int flags) {
  // Only a rename that would replace a directory needs room made: the
  // target holds its value file, so the backing filesystem sees it as not
  // empty.
  struct stat from_st, to_st;
  const bool replaces_dir = values_->file_name() != nullptr && (flags & (RENAME_EXCHANGE | RENAME_NOREPLACE)) == 0 &&
                            fstatat(to_dir.fd(), to.name.c_str(), &to_st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISDIR(to_st.st_mode) &&
                            fstatat(from_dir.fd(), from.name.c_str(), &from_st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISDIR(from_st.st_mode) &&
                            (from_st.st_dev != to_st.st_dev || from_st.st_ino != to_st.st_ino);
  if (!replaces_dir) return NameMapper::Rename(from_dir, from, to_dir, to, flags);
  KMSFS_ASSIGN_OR_RETURN(std::string temp, MoveAsideIfEmpty(to_dir.fd(), to.name));
  if (renameat2(from_dir.fd(), from.name.c_str(), to_dir.fd(), to.name.c_str(), RENAME_NOREPLACE) != 0) {
    const Status s = Status::FromErrno(errno, "rename");
    if (renameat2(to_dir.fd(), temp.c_str(), to_dir.fd(), to.name.c_str(), RENAME_NOREPLACE) != 0) {
      KMSFS_LOG(kWarning) << "rename could not put back " << temp << " in directory inode " << to_dir.ino();
    }
    return s;
  }
  if (Status s = RemoveAside(to_dir.fd(), temp); !s.ok()) {
    KMSFS_LOG(kWarning) << "rename left " << temp << " in directory inode " << to_dir.ino() << ": " << s.message();
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
