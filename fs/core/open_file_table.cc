#include "fs/core/open_file_table.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "fs/format/block_codec.h"

namespace kmsfs::core {
namespace {

StatusOr<std::shared_ptr<CryptFile>> MakeCryptFile(UniqueFd fd, format::FileHeader header,
                                                   cache::DekCache::Handle key, format::HeaderMode mode) {
  KMSFS_ASSIGN_OR_RETURN(auto codec, format::BlockCodec::New(header.suite, header.block_size, key.key(), header.file_id));
  return std::make_shared<CryptFile>(std::move(fd), std::move(header), std::move(codec), std::move(key),
                                     DataOffset(mode));
}

// Gives the nameless file `fd` the name `name` in `dir_fd`. AT_EMPTY_PATH
// needs CAP_DAC_READ_SEARCH; without it, the link goes through /proc.
int LinkNameless(int fd, int dir_fd, const std::string& name) {
  int rc = linkat(fd, "", dir_fd, name.c_str(), AT_EMPTY_PATH);
  if (rc != 0 && (errno == EPERM || errno == ENOENT)) {
    char proc_path[64];
    std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    rc = linkat(AT_FDCWD, proc_path, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW);
  }
  return rc;
}

// The mode the kernel asked for, once the owner is set: giving a file to
// another owner clears its set-user-ID and set-group-ID bits.
Status SetOwnerKeepingMode(int fd, Owner owner, mode_t mode) {
  if (owner.any() && fchown(fd, owner.uid, owner.gid) != 0) return Status::FromErrno(errno, "chown new file");
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat new file");
  if ((st.st_mode & 07777) != (mode & 07777) && fchmod(fd, mode & 07777) != 0) {
    return Status::FromErrno(errno, "chmod new file");
  }
  return Status::Ok();
}

}  // namespace

std::shared_ptr<CryptFile> OpenFileTable::FindSharing(const struct stat& st, const format::FileHeader& header) {
  MutexLock lock(&mu_);
  auto it = files_.find({st.st_dev, st.st_ino});
  if (it == files_.end()) return nullptr;
  std::shared_ptr<CryptFile> open = it->second.lock();
  if (open == nullptr) {
    files_.erase(it);
    return nullptr;
  }
  return open->header() == header ? open : nullptr;
}

std::shared_ptr<CryptFile> OpenFileTable::ShareOrRegister(const struct stat& st, std::shared_ptr<CryptFile> file) {
  MutexLock lock(&mu_);
  std::weak_ptr<CryptFile>& slot = files_[{st.st_dev, st.st_ino}];
  // Another thread may have opened the same inode meanwhile: share its object
  // if it has the same header. One with another header (changed on disk)
  // keeps serving only the handles that hold it.
  if (auto other = slot.lock(); other != nullptr && other->header() == file->header()) return other;
  slot = file;
  return file;
}

StatusOr<std::shared_ptr<CryptFile>> OpenFileTable::Open(const std::string& proc_path, bool for_write,
                                                         const std::function<void()>& on_key_miss) {
  // Read-write where possible, so one object serves every later handle;
  // read-only for a reader when the backing file cannot be written (a
  // read-only backing filesystem, an immutable file); a writer then gets the
  // real error.
  // No O_NOFOLLOW: the /proc link is the object itself, and following it is
  // the point. O_NONBLOCK: never wait on a FIFO, were one ever passed here.
  const int base = O_CLOEXEC | O_NONBLOCK;
  int fd = open(proc_path.c_str(), (read_only() ? O_RDONLY : O_RDWR) | base);
  if (fd < 0 && !read_only() && !for_write && (errno == EROFS || errno == EACCES || errno == EPERM)) {
    fd = open(proc_path.c_str(), O_RDONLY | base);
  }
  if (fd < 0) return Status::FromErrno(errno, "open backing file");
  UniqueFd backing(fd);
  struct stat st;
  if (fstat(backing.get(), &st) != 0) return Status::FromErrno(errno, "fstat backing file");
  if (!S_ISREG(st.st_mode)) return Status::FromErrno(EINVAL, "open: not a regular file");
  KMSFS_ASSIGN_OR_RETURN(format::FileHeader header, ReadFileHeader(backing.get(), header_mode_));
  if (auto shared = FindSharing(st, header)) return shared;
  if (on_key_miss && !keys_->IsCached(header)) on_key_miss();
  KMSFS_ASSIGN_OR_RETURN(cache::DekCache::Handle key, keys_->KeyFor(header));
  KMSFS_ASSIGN_OR_RETURN(auto file,
                         MakeCryptFile(std::move(backing), std::move(header), std::move(key), header_mode_));
  return ShareOrRegister(st, std::move(file));
}

StatusOr<CreatedFile> OpenFileTable::Create(int dir_fd, const std::string& name, mode_t mode, Owner owner) {
  if (read_only()) return Status::FromErrno(EROFS, "create");
  KMSFS_ASSIGN_OR_RETURN(NewFileKey key, keys_->NewFile());
  // The file gets its header while it is still nameless (O_TMPFILE), so no
  // crash can leave a named backing file without one. Filesystems without
  // O_TMPFILE fall back to create-then-set within this call.
  bool named = false;
  int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 07777);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    fd = openat(dir_fd, name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
    named = true;
  }
  if (fd < 0 && errno == EEXIST) return Status(StatusCode::kAlreadyExists, "create: name exists");
  if (fd < 0) return Status::FromErrno(errno, "create");
  UniqueFd file(fd);
  auto undo = [&] {
    if (named) unlinkat(dir_fd, name.c_str(), 0);
  };
  // Inline: the region is the file's first bytes, written while it is
  // still empty and nameless.
  Status made = WriteFileHeader(file.get(), key.header, header_mode_);
  if (made.ok()) made = SetOwnerKeepingMode(file.get(), owner, mode);
  if (!made.ok()) {
    undo();
    return made;
  }
  if (!named && LinkNameless(file.get(), dir_fd, name) != 0) {
    const int err = errno;
    if (err == EEXIST) return Status(StatusCode::kAlreadyExists, "create: name exists");
    return Status::FromErrno(err, "link new file");
  }
  CreatedFile out;
  if (fstat(file.get(), &out.st) != 0) return Status::FromErrno(errno, "fstat new file");
  char proc_path[64];
  std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", file.get());
  const int path_fd = open(proc_path, O_PATH | O_CLOEXEC);
  if (path_fd < 0) return Status::FromErrno(errno, "reopen new file");
  out.path_fd = UniqueFd(path_fd);
  KMSFS_ASSIGN_OR_RETURN(auto crypt,
                         MakeCryptFile(std::move(file), std::move(key.header), std::move(key.key), header_mode_));
  out.file = ShareOrRegister(out.st, std::move(crypt));
  return out;
}

void OpenFileTable::Sweep() {
  MutexLock lock(&mu_);
  std::erase_if(files_, [](const auto& entry) { return entry.second.expired(); });
}

uint64_t OpenFileTable::open_files() const {
  MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [id, file] : files_) n += file.expired() ? 0 : 1;
  return n;
}

}  // namespace kmsfs::core
