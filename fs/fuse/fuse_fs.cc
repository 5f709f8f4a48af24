#include "fs/fuse/fuse_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/base/logging.h"
#include "fs/format/file_header.h"
#include "fs/format/volume_config.h"
#include "fs/fuse/device_io.h"
#include "fs/fuse/xattr_names.h"

namespace kmsfs::fuse {
namespace {

// Open state of a regular file, kept in fuse_file_info::fh.
struct FileHandle {
  std::shared_ptr<core::CryptFile> file;
  bool append = false;
  bool for_write = false;
  // The name at open time, for log lines: with nullpath_ok libfuse passes no
  // path to read/write.
  std::string path;
};

// Open state of a directory.
struct DirHandle {
  DIR* dir = nullptr;
  // Path relative to the root at opendir: with nullpath_ok, readdir gets no path.
  std::string rel;
  // Regular files sent so far in a pass that began at offset 0, noted with the
  // volume (for key prefetch) when the pass reaches the end.
  std::vector<std::string> listed;
  bool noting = false;
  ~DirHandle() {
    if (dir != nullptr) closedir(dir);
  }
};

FuseFs* Self() { return static_cast<FuseFs*>(fuse_get_context()->private_data); }
core::Volume* Vol() { return Self()->volume(); }
int Root() { return Vol()->root_fd(); }

// An unlink is answered before the backing file is gone (DeferredUnlinks):
// every request that looks at names, link counts or free space waits for the
// unlinks answered before it. Unlinks, reads and writes through handles, and
// releases do not.
void Settle() { Vol()->SettleUnlinks(); }

FileHandle* HandleOf(const fuse_file_info* fi) {
  return fi == nullptr ? nullptr : reinterpret_cast<FileHandle*>(fi->fh);
}

// "/a/b" -> "a/b"; "/" -> ".".
std::string Rel(const char* path) {
  if (path == nullptr || path[0] == '\0' || (path[0] == '/' && path[1] == '\0')) return ".";
  return std::string(path[0] == '/' ? path + 1 : path);
}

std::string Abs(const char* path) { return Vol()->backing_dir() + (path && path[0] == '/' ? path : "/"); }

// The volume config at the root is not part of the plaintext tree.
bool IsHidden(const char* path) {
  return path != nullptr && std::strcmp(path, "/.kmsfs.json") == 0;
}

int Errno(const Status& s) { return -ToErrno(s); }

int SysResult(int rc) { return rc < 0 ? -errno : 0; }

// Owner of a new node when the daemon runs as root: the caller's uid, and the
// caller's gid unless the parent directory is setgid (then the group the
// kernel inherited stands, as on a plain directory). (-1, -1) = leave as is.
struct Owner {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

Owner NewNodeOwner(const std::string& rel) {
  Owner owner;
  if (!Self()->options().set_owner) return owner;
  const fuse_context* ctx = fuse_get_context();
  // The daemon's own identity is what the node got anyway.
  if (ctx->uid == geteuid() && ctx->gid == getegid()) return owner;
  owner.uid = ctx->uid;
  owner.gid = ctx->gid;
  size_t slash = rel.rfind('/');
  std::string parent = slash == std::string::npos ? "." : rel.substr(0, slash);
  struct stat pst;
  if (fstatat(Root(), parent.c_str(), &pst, 0) == 0 && (pst.st_mode & S_ISGID)) {
    owner.gid = static_cast<gid_t>(-1);
  }
  return owner;
}

// Gives a node made by the daemon (as root) its caller's ownership; undoes the node on failure.
int ApplyOwner(const std::string& rel, bool is_dir) {
  Owner owner = NewNodeOwner(rel);
  if (owner.uid == static_cast<uid_t>(-1) && owner.gid == static_cast<gid_t>(-1)) return 0;
  if (fchownat(Root(), rel.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) == 0) return 0;
  int err = errno;
  unlinkat(Root(), rel.c_str(), is_dir ? AT_REMOVEDIR : 0);
  return -err;
}

// Regular files report their plaintext size (format::VisiblePlainSize, which
// never fails: a file cut inside a block shows that block as one byte, so a
// reader reaching it gets EIO instead of a silently empty or short file).
void FixSize(struct stat* st, const char* path) {
  if (!S_ISREG(st->st_mode)) return;
  auto plain = Vol()->PlainSizeOf(static_cast<uint64_t>(st->st_size));
  if (plain.ok()) {
    st->st_size = static_cast<off_t>(*plain);
  } else {
    KMSFS_LOG(kWarning) << "stat " << (path ? path : "(open file)") << ": " << plain.status().message();
    st->st_size = 0;
  }
}

void LogFileError(const char* op, const char* path, const Status& s) {
  KMSFS_LOG(kWarning) << op << " " << (path ? path : "(unlinked file)") << ": " << s.ToString();
}

// Logs with the request's path, or the name the file was opened under.
void LogHandleError(const char* op, const char* path, const FileHandle* h, const Status& s) {
  LogFileError(op, path != nullptr ? path : h->path.c_str(), s);
}

// ---------------------------------------------------------------- operations

void* OpInit(fuse_conn_info* conn, fuse_config* cfg) {
  FuseFs* self = Self();
  const FuseFsOptions& o = self->options();
  cfg->use_ino = 1;
  cfg->readdir_ino = 1;
  cfg->entry_timeout = o.entry_timeout;
  cfg->attr_timeout = o.attr_timeout;
  cfg->negative_timeout = o.negative_timeout;
  cfg->nullpath_ok = 1;   // open handles keep working after unlink (we use fi->fh)
  cfg->hard_remove = 1;   // no .fuse_hidden files in the backing tree
  cfg->auto_cache = o.auto_cache ? 1 : 0;
  conn->max_write = o.max_write;
  conn->max_readahead = o.max_write;
  if (o.writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  return self;
}

int OpGetattr(const char* path, struct stat* st, fuse_file_info* fi) {
  Settle();
  if (FileHandle* h = HandleOf(fi)) {
    if (fstat(h->file->fd(), st) != 0) return -errno;
  } else {
    if (IsHidden(path)) return -ENOENT;
    if (fstatat(Root(), Rel(path).c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) return -errno;
  }
  FixSize(st, path);
  return 0;
}

int OpReadlink(const char* path, char* buf, size_t size) {
  Settle();
  if (size == 0) return -EINVAL;
  ssize_t n = readlinkat(Root(), Rel(path).c_str(), buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = '\0';
  return 0;
}

int OpMknod(const char* path, mode_t mode, dev_t rdev) {
  Settle();
  if (IsHidden(path)) return -EPERM;
  const std::string rel = Rel(path);
  if (S_ISREG(mode)) {
    Owner owner = NewNodeOwner(rel);
    auto file = Vol()->CreateFile(rel, mode, owner.uid, owner.gid, true);
    if (!file.ok()) {
      LogFileError("mknod", path, file.status());
      return Errno(file.status());
    }
    return 0;
  }
  if (mknodat(Root(), rel.c_str(), mode, rdev) != 0) return -errno;
  return ApplyOwner(rel, false);
}

int OpMkdir(const char* path, mode_t mode) {
  Settle();
  if (IsHidden(path)) return -EPERM;
  const std::string rel = Rel(path);
  if (mkdirat(Root(), rel.c_str(), mode) != 0) return -errno;
  return ApplyOwner(rel, true);
}

int OpUnlink(const char* path) {
  if (IsHidden(path)) return -ENOENT;
  return Errno(Vol()->Unlink(Rel(path)));
}

int OpRmdir(const char* path) {
  Settle();
  const int rc = SysResult(unlinkat(Root(), Rel(path).c_str(), AT_REMOVEDIR));
  if (rc == 0) Vol()->ForgetReadyFiles();
  return rc;
}

int OpSymlink(const char* target, const char* link_path) {
  Settle();
  if (IsHidden(link_path)) return -EPERM;
  const std::string rel = Rel(link_path);
  if (symlinkat(target, Root(), rel.c_str()) != 0) return -errno;
  return ApplyOwner(rel, false);
}

int OpRename(const char* from, const char* to, unsigned int flags) {
  Settle();
  if (IsHidden(from)) return -ENOENT;
  if (IsHidden(to)) return -EPERM;
  const std::string rel_to = Rel(to);
  if ((flags & RENAME_EXCHANGE) == 0) Vol()->ForgetHeaderOf(rel_to);
  const int rc = SysResult(renameat2(Root(), Rel(from).c_str(), Root(), rel_to.c_str(), flags));
  // Cheaper than asking whether a directory moved: renames are rare among creates.
  if (rc == 0) Vol()->ForgetReadyFiles();
  return rc;
}

int OpLink(const char* from, const char* to) {
  Settle();
  if (IsHidden(from)) return -ENOENT;
  if (IsHidden(to)) return -EPERM;
  return SysResult(linkat(Root(), Rel(from).c_str(), Root(), Rel(to).c_str(), 0));
}

int OpChmod(const char* path, mode_t mode, fuse_file_info* fi) {
  Settle();
  if (FileHandle* h = HandleOf(fi)) return SysResult(fchmod(h->file->fd(), mode));
  if (IsHidden(path)) return -ENOENT;
  return SysResult(fchmodat(Root(), Rel(path).c_str(), mode, 0));
}

int OpChown(const char* path, uid_t uid, gid_t gid, fuse_file_info* fi) {
  Settle();
  if (FileHandle* h = HandleOf(fi)) return SysResult(fchown(h->file->fd(), uid, gid));
  if (IsHidden(path)) return -ENOENT;
  return SysResult(fchownat(Root(), Rel(path).c_str(), uid, gid, AT_SYMLINK_NOFOLLOW));
}

// What the kernel does itself for a write or truncate by a caller without
// CAP_FSETID, and leaves to the filesystem under FUSE_HANDLE_KILLPRIV_V2
// (device_io.h): the daemon writes as root, so the backing filesystem keeps
// the bits. Set-group-ID without group execute marks mandatory locking, not
// privilege, and stays.
int KillSuidgidIfAsked(int fd) {
  if (!TakeKillSuidgid()) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  mode_t kill = st.st_mode & S_ISUID;
  if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) kill |= S_ISGID;
  if (kill == 0) return 0;
  return SysResult(fchmod(fd, st.st_mode & 07777 & ~kill));
}

int OpTruncate(const char* path, off_t size, fuse_file_info* fi) {
  Settle();
  if (size < 0) return -EINVAL;
  std::shared_ptr<core::CryptFile> file;
  if (FileHandle* h = HandleOf(fi)) {
    file = h->file;
  } else {
    if (IsHidden(path)) return -ENOENT;
    auto opened = Vol()->OpenFile(Rel(path), true);
    if (!opened.ok()) {
      LogFileError("truncate", path, opened.status());
      return Errno(opened.status());
    }
    file = std::move(opened).value();
  }
  Status s = file->Truncate(static_cast<uint64_t>(size));
  if (!s.ok()) {
    LogFileError("truncate", path, s);
    return Errno(s);
  }
  return KillSuidgidIfAsked(file->fd());
}

int InstallHandle(fuse_file_info* fi, const char* path, std::shared_ptr<core::CryptFile> file) {
  // libfuse's path-based API gives each hardlink name its own kernel inode,
  // each with its own page cache and cached size. A file with several names
  // therefore bypasses the page cache, so a write through one name is seen
  // at once through the others (as on a plain directory).
  struct stat st;
  if (fstat(file->fd(), &st) == 0 && st.st_nlink > 1) {
    fi->direct_io = 1;
    fi->keep_cache = 0;
  }
  auto handle = std::make_unique<FileHandle>();
  handle->file = std::move(file);
  // With the writeback cache the kernel turns O_APPEND into offsets itself
  // (and flushes cached pages at any offset), so offsets must be honoured.
  handle->append = (fi->flags & O_APPEND) != 0 && !Self()->options().writeback_cache;
  handle->path = path != nullptr ? path : "";
  handle->for_write = (fi->flags & O_ACCMODE) != O_RDONLY;
  fi->fh = reinterpret_cast<uint64_t>(handle.release());  // owned by libfuse until OpRelease
  return 0;
}

int OpOpen(const char* path, fuse_file_info* fi) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  const bool for_write = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
  auto file = Vol()->OpenFile(Rel(path), for_write);
  if (!file.ok()) {
    LogFileError("open", path, file.status());
    return Errno(file.status());
  }
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
    Status s = (*file)->Truncate(0);
    if (!s.ok()) {
      LogFileError("open(O_TRUNC)", path, s);
      return Errno(s);
    }
    if (int rc = KillSuidgidIfAsked((*file)->fd()); rc != 0) return rc;
  }
  return InstallHandle(fi, path, std::move(file).value());
}

int OpCreate(const char* path, mode_t mode, fuse_file_info* fi) {
  Settle();
  if (IsHidden(path)) return -EPERM;
  const std::string rel = Rel(path);
  Owner owner = NewNodeOwner(rel);
  auto file = Vol()->CreateFile(rel, mode, owner.uid, owner.gid, (fi->flags & O_EXCL) != 0);
  if (!file.ok()) {
    LogFileError("create", path, file.status());
    return Errno(file.status());
  }
  return InstallHandle(fi, path, std::move(file).value());
}

int OpRead(const char* path, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return -EBADF;
  auto n = h->file->Read(static_cast<uint64_t>(offset), {reinterpret_cast<uint8_t*>(buf), size});
  if (!n.ok()) {
    LogHandleError("read", path, h, n.status());
    return Errno(n.status());
  }
  return static_cast<int>(*n);
}

int OpWrite(const char* path, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return -EBADF;
  std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(buf), size);
  Status s;
  if (h->append) {
    s = h->file->Append(data).status();
  } else {
    s = h->file->Write(static_cast<uint64_t>(offset), data).status();
  }
  if (!s.ok()) {
    LogHandleError("write", path, h, s);
    return Errno(s);
  }
  if (int rc = KillSuidgidIfAsked(h->file->fd()); rc != 0) return rc;
  return static_cast<int>(size);
}

int OpStatfs(const char*, struct statvfs* st) {
  Settle();
  return SysResult(fstatvfs(Root(), st));
}

int OpRelease(const char*, fuse_file_info* fi) {
  std::unique_ptr<FileHandle> owned(HandleOf(fi));
  fi->fh = 0;
  if (owned != nullptr && owned->for_write) Vol()->RememberHeader(*owned->file);
  return 0;
}

int OpFsync(const char* path, int datasync, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return -EBADF;
  Status s = h->file->Sync(datasync != 0);
  if (!s.ok()) {
    LogHandleError("fsync", path, h, s);
    return Errno(s);
  }
  return 0;
}

int OpSetxattr(const char* path, const char* name, const char* value, size_t size, int flags) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  if (IsHeaderXattr(name) || std::strcmp(name, kStatusXattrName) == 0) return -EPERM;
  if (IsBackingOnlyXattr(name)) return -EOPNOTSUPP;
  return SysResult(lsetxattr(Abs(path).c_str(), name, value, size, flags));
}

int OpGetxattr(const char* path, const char* name, char* value, size_t size) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  if (IsNeverFound(name)) return -ENODATA;
  if (std::strcmp(name, kStatusXattrName) == 0 && Rel(path) == ".") {
    const std::string json = Self()->StatusJson();
    if (size == 0) return static_cast<int>(json.size());
    if (size < json.size()) return -ERANGE;
    std::memcpy(value, json.data(), json.size());
    return static_cast<int>(json.size());
  }
  ssize_t n = lgetxattr(Abs(path).c_str(), name, value, size);
  return n < 0 ? -errno : static_cast<int>(n);
}

int OpListxattr(const char* path, char* list, size_t size) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  // Ask for the real list, then drop the header's name from it.
  const std::string abs = Abs(path);
  ssize_t n = llistxattr(abs.c_str(), nullptr, 0);
  if (n < 0) return -errno;
  std::string names(static_cast<size_t>(n) + 1, '\0');
  n = llistxattr(abs.c_str(), names.data(), names.size());
  if (n < 0) return -errno;
  std::string out;
  for (size_t pos = 0; pos < static_cast<size_t>(n);) {
    const char* name = names.data() + pos;
    size_t len = std::strlen(name);
    if (!IsHeaderXattr(name) && !IsBackingOnlyXattr(name)) out.append(name, len + 1);
    pos += len + 1;
  }
  if (size == 0) return static_cast<int>(out.size());
  if (size < out.size()) return -ERANGE;
  std::memcpy(list, out.data(), out.size());
  return static_cast<int>(out.size());
}

int OpRemovexattr(const char* path, const char* name) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  if (IsHeaderXattr(name)) return -EPERM;
  if (IsBackingOnlyXattr(name)) return -ENODATA;
  return SysResult(lremovexattr(Abs(path).c_str(), name));
}

int OpOpendir(const char* path, fuse_file_info* fi) {
  Settle();
  int fd = openat(Root(), Rel(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  auto handle = std::make_unique<DirHandle>();
  handle->rel = Rel(path);
  handle->dir = fdopendir(fd);
  if (handle->dir == nullptr) {
    int err = errno;
    close(fd);
    return -err;
  }
  fi->fh = reinterpret_cast<uint64_t>(handle.release());  // owned by libfuse until OpReleasedir
  return 0;
}

int OpReaddir(const char*, void* buf, fuse_fill_dir_t filler, off_t offset, fuse_file_info* fi,
              fuse_readdir_flags flags) {
  Settle();
  auto* handle = reinterpret_cast<DirHandle*>(fi->fh);
  const bool at_root = handle->rel == ".";
  const bool plus = (flags & FUSE_READDIR_PLUS) != 0;
  // Entries go out one by one with their backing offsets (d_off, never 0 on
  // Linux filesystems), and each call resumes where the kernel's buffer filled
  // up. Only in this mode does libfuse hand readdirplus attributes to the
  // kernel; from a listing filled all at once it sends them without a node id,
  // and the kernel then looks every entry up again (one LOOKUP per name in
  // ls -l, rm -r or a tree walk).
  if (offset == 0) {
    rewinddir(handle->dir);
    // Reading a listed directory's files usually follows a listing: the volume
    // remembers the names, and the first open that misses the key cache
    // fetches the others' keys meanwhile. Only for a pass from the start.
    handle->listed.clear();
    handle->noting = true;
  } else {
    seekdir(handle->dir, offset);
  }
  const int dfd = dirfd(handle->dir);
  errno = 0;
  while (dirent* e = readdir(handle->dir)) {
    if (at_root && std::strcmp(e->d_name, format::kConfigFileName) == 0) continue;
    struct stat st {};
    fuse_fill_dir_flags fill = static_cast<fuse_fill_dir_flags>(0);
    // A file with several links is a separate kernel inode per name in the
    // high-level API, so an unlink of one name would leave the attributes
    // listed for the others stale (nlink); such names are looked up instead.
    if (plus && fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        (S_ISDIR(st.st_mode) || st.st_nlink == 1)) {
      FixSize(&st, e->d_name);
      fill = FUSE_FILL_DIR_PLUS;
    } else {
      st = {};
      st.st_ino = e->d_ino;
      st.st_mode = static_cast<mode_t>(DTTOIF(e->d_type));
    }
    // Full: the next call resumes at this entry. (libfuse 3.14 has already
    // counted a lookup for it, which the kernel never forgets: its node, a
    // few dozen bytes, stays until unmount; one per full request at most.)
    if (filler(buf, e->d_name, &st, e->d_off, fill) != 0) return 0;
    if (handle->noting && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)) handle->listed.emplace_back(e->d_name);
    errno = 0;  // readdir signals an error only through errno
  }
  if (errno != 0) return -errno;
  if (handle->noting && !handle->listed.empty()) Vol()->NoteListing(dfd, handle->rel, std::move(handle->listed));
  handle->listed.clear();
  handle->noting = false;
  return 0;
}

int OpReleasedir(const char*, fuse_file_info* fi) {
  std::unique_ptr<DirHandle> owned(reinterpret_cast<DirHandle*>(fi->fh));
  fi->fh = 0;
  return 0;
}

int OpFsyncdir(const char*, int datasync, fuse_file_info* fi) {
  Settle();
  auto* handle = reinterpret_cast<DirHandle*>(fi->fh);
  int fd = dirfd(handle->dir);
  return SysResult(datasync ? fdatasync(fd) : fsync(fd));
}

int OpAccess(const char* path, int mask) {
  Settle();
  if (IsHidden(path)) return -ENOENT;
  return SysResult(faccessat(Root(), Rel(path).c_str(), mask, AT_SYMLINK_NOFOLLOW));
}

int OpUtimens(const char* path, const struct timespec tv[2], fuse_file_info* fi) {
  Settle();
  if (FileHandle* h = HandleOf(fi)) return SysResult(futimens(h->file->fd(), tv));
  if (IsHidden(path)) return -ENOENT;
  return SysResult(utimensat(Root(), Rel(path).c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int OpFallocate(const char* path, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return -EBADF;
  if (mode != 0) return -EOPNOTSUPP;  // punching/zeroing ranges would bypass the block format
  if (offset < 0 || length <= 0) return -EINVAL;
  Status s = h->file->Allocate(static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  if (!s.ok()) {
    LogHandleError("fallocate", path, h, s);
    return Errno(s);
  }
  return 0;
}

fuse_operations MakeOperations() {
  fuse_operations ops{};
  ops.init = OpInit;
  ops.getattr = OpGetattr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.chmod = OpChmod;
  ops.chown = OpChown;
  ops.truncate = OpTruncate;
  ops.open = OpOpen;
  ops.create = OpCreate;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.statfs = OpStatfs;
  // No flush: every close() would cost a round trip that has nothing to do
  // (data reaches the backing file in write and fsync). libfuse answers the
  // first FLUSH with ENOSYS and the kernel stops sending them; it still
  // writes back dirty pages and reports their errors at close().
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.access = OpAccess;
  ops.utimens = OpUtimens;
  ops.fallocate = OpFallocate;
  return ops;
}

}  // namespace

const fuse_operations& FuseFs::Operations() {
  static const fuse_operations ops = MakeOperations();
  return ops;
}

std::string FuseFs::StatusJson() const {
  core::VolumeStats s = volume_->stats();
  nlohmann::json j = {
      {"backing_dir", volume_->backing_dir()},
      {"key_id", volume_->config().key_id},
      {"read_only", volume_->read_only()},
      {"cache", {{"entries", s.cache.entries}, {"hits", s.cache.hits}, {"misses", s.cache.misses},
                 {"evictions", s.cache.evictions}, {"loads", s.cache.loads}, {"load_errors", s.cache.load_errors}}},
      {"kms", {{"calls", s.kms_calls}, {"errors", s.kms_errors}}},
      {"pool", {{"ready", s.pool.ready}, {"taken", s.pool.taken}, {"direct", s.pool.direct},
                {"wrap_errors", s.pool.wrap_errors}}},
      {"open_files", s.open_files},
      {"headers", {{"entries", s.headers.entries}, {"hits", s.headers.hits}}},
      {"prefetch", {{"queued", s.prefetch.queued}, {"loaded", s.prefetch.loaded},
                    {"skipped_cached", s.prefetch.skipped_cached}, {"skipped", s.prefetch.skipped},
                    {"failed", s.prefetch.failed}, {"dropped", s.prefetch.dropped},
                    {"pending", s.prefetch.pending}, {"in_flight", s.prefetch.in_flight}}},
      {"readahead", {{"files", s.readahead.asked}, {"dropped", s.readahead.dropped}}},
      {"unlinks", {{"deferred", s.unlinks.deferred}, {"failed", s.unlinks.failed}}},
      {"ready_files", {{"made", s.ready_files.made}, {"used", s.ready_files.used}, {"dropped", s.ready_files.dropped}}},
  };
  return j.dump();
}

}  // namespace kmsfs::fuse
