#include "fs/fuse/lowlevel_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/logging.h"
#include "fs/core/file_seek.h"

namespace kmsfs::fuse {
namespace {

// Open state of a regular file, kept in fuse_file_info::fh.
struct FileHandle {
  std::shared_ptr<core::CryptFile> file;
  std::shared_ptr<core::Inode> node;  // for log lines
  // O_APPEND without the writeback cache: the daemon finds the end itself.
  // (With it, the kernel turns appends into offsets.)
  bool append = false;
};

LowLevelFs* Self(fuse_req_t req) { return static_cast<LowLevelFs*>(fuse_req_userdata(req)); }
core::Tree& TreeOf(fuse_req_t req) { return Self(req)->volume()->tree(); }
FileHandle* HandleOf(const fuse_file_info* fi) {
  return fi == nullptr ? nullptr : reinterpret_cast<FileHandle*>(fi->fh);
}
core::DirStream* DirOf(const fuse_file_info* fi) { return reinterpret_cast<core::DirStream*>(fi->fh); }

core::Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return {ctx->uid, ctx->gid, {}};
}

// The caller with its supplementary groups, for the few checks the daemon
// makes itself. They are read from /proc only if a check asks, within the
// request (`req` lives until the reply).
core::Caller CallerWithGroupsOf(fuse_req_t req) {
  core::Caller caller = CallerOf(req);
  caller.groups = [req] {
    std::vector<gid_t> groups(64);
    int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    if (n > static_cast<int>(groups.size())) {
      groups.resize(static_cast<size_t>(n));
      n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    }
    groups.resize(n > 0 ? std::min(static_cast<size_t>(n), groups.size()) : 0);
    return groups;
  };
  return caller;
}

// Where a node's backing object is now, for log lines (its path as the
// backing filesystem names it; never re-resolved for access).
std::string BackingPathOf(const core::Inode& node) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(node.ProcPath().c_str(), buf, sizeof buf - 1);
  if (n < 0) return "(backing inode " + std::to_string(node.ino()) + ")";
  return std::string(buf, static_cast<size_t>(n));
}

// Errors worth an operator's attention: damaged data, keys the KMS would not
// give, a KMS out of reach. The rest (ENOENT, EEXIST, ...) are answers.
bool WorthLogging(const Status& s) {
  switch (s.code()) {
    case StatusCode::kDataLoss:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kUnavailable:
    case StatusCode::kInternal:
      return true;
    case StatusCode::kIoError:
      return s.sys_errno() == EIO;
    default:
      return false;
  }
}

void ReplyError(fuse_req_t req, const Status& s, const char* op, const core::Inode* node = nullptr) {
  if (WorthLogging(s)) {
    KMSFS_LOG(kWarning) << op << " " << (node ? BackingPathOf(*node) : std::string("(request)")) << ": "
                        << s.ToString();
  }
  fuse_reply_err(req, ToErrno(s));
}

// The node the kernel names, or an error reply (false).
bool NodeOrReply(fuse_req_t req, fuse_ino_t ino, std::shared_ptr<core::Inode>* out) {
  auto node = TreeOf(req).Node(ino);
  if (!node.ok()) {
    fuse_reply_err(req, ToErrno(node.status()));
    return false;
  }
  *out = std::move(node).value();
  return true;
}

fuse_entry_param EntryParam(fuse_req_t req, const core::Entry& entry) {
  const LowLevelFsOptions& o = Self(req)->options();
  fuse_entry_param e{};
  e.ino = entry.inode ? entry.inode->id() : 0;
  e.attr = entry.attr;
  e.attr_timeout = o.attr_timeout;
  e.entry_timeout = o.entry_timeout;
  return e;
}

void ReplyEntry(fuse_req_t req, StatusOr<core::Entry> entry, const char* op, const core::Inode* parent) {
  if (!entry.ok()) return ReplyError(req, entry.status(), op, parent);
  const fuse_entry_param e = EntryParam(req, *entry);
  // A reply the kernel refused (the request was interrupted) counts no lookup.
  if (fuse_reply_entry(req, &e) != 0) TreeOf(req).Forget(e.ino, 1);
}

// ---------------------------------------------------------------- operations

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* self = static_cast<LowLevelFs*>(userdata);
  const LowLevelFsOptions& o = self->options();
  conn->max_write = o.max_write;
  conn->max_readahead = o.max_write;
  if (o.writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (o.keep_cache && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  // The kernel clears set-user-ID and set-group-ID bits itself on writes,
  // truncates and chowns by callers without CAP_FSETID, by sending a mode
  // change: the daemon, which writes as root, must not be asked to guess.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // Every write is encrypted from a memory buffer: splicing buys nothing.
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  ReplyEntry(req, TreeOf(req).Lookup(*dir, name), "lookup", dir.get());
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  TreeOf(req).Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) TreeOf(req).Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  auto st = TreeOf(req).GetAttr(*node);
  if (!st.ok()) return ReplyError(req, st.status(), "getattr", node.get());
  fuse_reply_attr(req, &*st, Self(req)->options().attr_timeout);
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  core::AttrChange change;
  if (to_set & FUSE_SET_ATTR_MODE) change.mode = attr->st_mode;
  if (to_set & FUSE_SET_ATTR_UID) change.uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) change.gid = attr->st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (attr->st_size < 0) return (void)fuse_reply_err(req, EINVAL);
    change.size = static_cast<uint64_t>(attr->st_size);
  }
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    change.atime = timespec{0, UTIME_NOW};
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    change.atime = attr->st_atim;
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    change.mtime = timespec{0, UTIME_NOW};
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    change.mtime = attr->st_mtim;
  }
  FileHandle* h = HandleOf(fi);
  auto st = TreeOf(req).SetAttr(*node, change, h != nullptr ? h->file.get() : nullptr);
  if (!st.ok()) return ReplyError(req, st.status(), "setattr", node.get());
  fuse_reply_attr(req, &*st, Self(req)->options().attr_timeout);
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  auto target = TreeOf(req).ReadLink(*node);
  if (!target.ok()) return ReplyError(req, target.status(), "readlink", node.get());
  fuse_reply_readlink(req, target->c_str());
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  ReplyEntry(req, TreeOf(req).MakeNode(*dir, name, mode, rdev, CallerOf(req)), "mknod", dir.get());
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  ReplyEntry(req, TreeOf(req).MakeDir(*dir, name, mode, CallerOf(req)), "mkdir", dir.get());
}

void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  ReplyEntry(req, TreeOf(req).MakeSymlink(*dir, name, target, CallerOf(req)), "symlink", dir.get());
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char* new_name) {
  std::shared_ptr<core::Inode> node, dir;
  if (!NodeOrReply(req, ino, &node) || !NodeOrReply(req, new_parent, &dir)) return;
  ReplyEntry(req, TreeOf(req).Link(*node, *dir, new_name), "link", dir.get());
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  Status s = TreeOf(req).Unlink(*dir, name);
  if (!s.ok()) return ReplyError(req, s, "unlink", dir.get());
  fuse_reply_err(req, 0);
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  Status s = TreeOf(req).RemoveDir(*dir, name);
  if (!s.ok()) return ReplyError(req, s, "rmdir", dir.get());
  fuse_reply_err(req, 0);
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent, const char* new_name,
              unsigned int flags) {
  std::shared_ptr<core::Inode> from, to;
  if (!NodeOrReply(req, parent, &from) || !NodeOrReply(req, new_parent, &to)) return;
  Status s = TreeOf(req).Rename(*from, name, *to, new_name, flags);
  if (!s.ok()) return ReplyError(req, s, "rename", from.get());
  fuse_reply_err(req, 0);
}

// Installs a handle for `file` in `fi`; the reply that follows hands it to the kernel.
void InstallHandle(fuse_req_t req, fuse_file_info* fi, std::shared_ptr<core::Inode> node,
                   std::shared_ptr<core::CryptFile> file) {
  const LowLevelFsOptions& o = Self(req)->options();
  auto handle = std::make_unique<FileHandle>();
  handle->file = std::move(file);
  handle->node = std::move(node);
  handle->append = (fi->flags & O_APPEND) != 0 && !o.writeback_cache;
  fi->keep_cache = o.keep_cache ? 1 : 0;
  fi->fh = reinterpret_cast<uint64_t>(handle.release());  // owned by the kernel's file until release
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  const bool writable = (fi->flags & O_ACCMODE) != O_RDONLY;
  const bool truncate = (fi->flags & O_TRUNC) != 0 && writable;
  auto file = TreeOf(req).Open(*node, writable || truncate);
  if (!file.ok()) return ReplyError(req, file.status(), "open", node.get());
  if (truncate) {
    Status s = (*file)->Truncate(0);
    if (!s.ok()) return ReplyError(req, s, "open(O_TRUNC)", node.get());
  }
  InstallHandle(req, fi, std::move(node), std::move(file).value());
  if (fuse_reply_open(req, fi) != 0) delete HandleOf(fi);
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  std::shared_ptr<core::Inode> dir;
  if (!NodeOrReply(req, parent, &dir)) return;
  auto made = TreeOf(req).Create(*dir, name, mode, (fi->flags & O_EXCL) != 0, CallerWithGroupsOf(req),
                                 fi->flags & O_ACCMODE);
  if (!made.ok()) return ReplyError(req, made.status(), "create", dir.get());
  if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
    Status s = made->file->Truncate(0);
    if (!s.ok()) {
      TreeOf(req).Forget(made->entry.inode->id(), 1);
      return ReplyError(req, s, "create(O_TRUNC)", dir.get());
    }
  }
  const fuse_entry_param e = EntryParam(req, made->entry);
  InstallHandle(req, fi, made->entry.inode, std::move(made->file));
  if (fuse_reply_create(req, &e, fi) != 0) {
    delete HandleOf(fi);
    TreeOf(req).Forget(e.ino, 1);
  }
}

std::vector<uint8_t>& ReadBuffer(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

void OpRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
  std::vector<uint8_t>& buf = ReadBuffer(size);
  auto n = h->file->Read(static_cast<uint64_t>(offset), {buf.data(), size});
  if (!n.ok()) return ReplyError(req, n.status(), "read", h->node.get());
  fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), *n);
}

void OpWrite(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t offset, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(data), size);
  Status s = h->append ? h->file->Append(bytes).status() : h->file->Write(static_cast<uint64_t>(offset), bytes).status();
  if (!s.ok()) return ReplyError(req, s, "write", h->node.get());
  fuse_reply_write(req, size);
}

void OpRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete HandleOf(fi);
  fi->fh = 0;
  fuse_reply_err(req, 0);
}

void OpFsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  Status s = h->file->Sync(datasync != 0);
  if (!s.ok()) return ReplyError(req, s, "fsync", h->node.get());
  fuse_reply_err(req, 0);
}

void OpFallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  // Punching or zeroing ranges would bypass the block format.
  if (mode != 0) return (void)fuse_reply_err(req, EOPNOTSUPP);
  if (offset < 0 || length <= 0) return (void)fuse_reply_err(req, EINVAL);
  Status s = h->file->Allocate(static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  if (!s.ok()) return ReplyError(req, s, "fallocate", h->node.get());
  fuse_reply_err(req, 0);
}

void OpLseek(fuse_req_t req, fuse_ino_t, off_t offset, int whence, fuse_file_info* fi) {
  // With the writeback cache the latest writes may still be in the kernel
  // alone, and the kernel does not flush them before asking: an answer from
  // the backing file would call them a hole (cp would copy zeros). ENOSYS
  // makes the kernel answer from its own size: all data, a hole at the end.
  if (Self(req)->options().writeback_cache) return (void)fuse_reply_err(req, ENOSYS);
  FileHandle* h = HandleOf(fi);
  if (h == nullptr) return (void)fuse_reply_err(req, EBADF);
  auto pos = core::SeekDataOrHole(*h->file, offset, whence);
  if (!pos.ok()) return ReplyError(req, pos.status(), "lseek", h->node.get());
  fuse_reply_lseek(req, *pos);
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  auto stream = TreeOf(req).OpenDir(node);
  if (!stream.ok()) return ReplyError(req, stream.status(), "opendir", node.get());
  fi->fh = reinterpret_cast<uint64_t>(stream->release());
  if (fuse_reply_open(req, fi) != 0) delete DirOf(fi);
}

void ReadDir(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  core::DirStream* dir = DirOf(fi);
  std::vector<char> buf(size);
  size_t used = 0;
  std::vector<fuse_ino_t> counted;  // nodes whose lookup the reply carries
  Status s = TreeOf(req).ReadDir(*dir, offset, plus, [&](const core::DirEntry& d) {
    const size_t room = size - used;
    size_t need;
    if (plus) {
      const fuse_entry_param e = EntryParam(req, d.entry);
      need = fuse_add_direntry_plus(req, buf.data() + used, room, d.name.c_str(), &e, d.next_offset);
    } else {
      need = fuse_add_direntry(req, buf.data() + used, room, d.name.c_str(), &d.entry.attr, d.next_offset);
    }
    if (need > room) return false;
    used += need;
    if (d.entry.inode) counted.push_back(d.entry.inode->id());
    return true;
  });
  // Entries already in the buffer go out even if a later one failed: the
  // kernel asks again from the last offset, and then sees the error.
  if (!s.ok() && used == 0) return ReplyError(req, s, "readdir", &dir->dir());
  // As in ReplyEntry: lookups the kernel never received are not its to forget.
  if (fuse_reply_buf(req, buf.data(), used) != 0) {
    for (fuse_ino_t ino : counted) TreeOf(req).Forget(ino, 1);
  }
}

void OpReaddir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  ReadDir(req, size, offset, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  ReadDir(req, size, offset, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete DirOf(fi);
  fi->fh = 0;
  fuse_reply_err(req, 0);
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  Status s = TreeOf(req).SyncDir(*DirOf(fi), datasync != 0);
  if (!s.ok()) return ReplyError(req, s, "fsyncdir", &DirOf(fi)->dir());
  fuse_reply_err(req, 0);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  auto st = TreeOf(req).StatFs();
  if (!st.ok()) return ReplyError(req, st.status(), "statfs");
  fuse_reply_statfs(req, &*st);
}

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  Status s = TreeOf(req).SetXattr(*node, name, std::string_view(value, size), flags);
  if (!s.ok()) return ReplyError(req, s, "setxattr", node.get());
  fuse_reply_err(req, 0);
}

// Answers a getxattr/listxattr: the size alone when asked with size 0.
void ReplyXattr(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, value.size());
  if (value.size() > size) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, value.data(), value.size());
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  if (ino == core::kRootId && std::strcmp(name, kStatusXattrName) == 0) {
    // The counters name the backing directory, the key and the volume: for
    // the mounting user and root, not every user of an allow_other mount.
    const uid_t caller = fuse_req_ctx(req)->uid;
    if (caller != 0 && caller != geteuid()) return (void)fuse_reply_err(req, EACCES);
    return ReplyXattr(req, Self(req)->volume()->StatusJson(), size);
  }
  auto value = TreeOf(req).GetXattr(*node, name, size);
  if (!value.ok()) return ReplyError(req, value.status(), "getxattr", node.get());
  ReplyXattr(req, *value, size);
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  auto list = TreeOf(req).ListXattr(*node, size);
  if (!list.ok()) return ReplyError(req, list.status(), "listxattr", node.get());
  ReplyXattr(req, *list, size);
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  Status s = TreeOf(req).RemoveXattr(*node, name);
  if (!s.ok()) return ReplyError(req, s, "removexattr", node.get());
  fuse_reply_err(req, 0);
}

void OpAccess(fuse_req_t req, fuse_ino_t ino, int mask) {
  std::shared_ptr<core::Inode> node;
  if (!NodeOrReply(req, ino, &node)) return;
  Status s = TreeOf(req).Access(*node, mask);
  fuse_reply_err(req, s.ok() ? 0 : ToErrno(s));
}

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  // No flush: every close() would cost a round trip with nothing to do (data
  // reaches the backing file in write and fsync). libfuse answers the first
  // FLUSH with ENOSYS and the kernel stops sending them; it still writes back
  // dirty pages and reports their errors at close().
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.statfs = OpStatfs;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.access = OpAccess;
  ops.create = OpCreate;
  ops.fallocate = OpFallocate;
  ops.lseek = OpLseek;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& LowLevelFs::Operations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

}  // namespace kmsfs::fuse
