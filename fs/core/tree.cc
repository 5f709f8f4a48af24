#include "fs/core/tree.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "base/logging.h"
#include "fs/core/xattr_names.h"

namespace kmsfs::core {
namespace {

constexpr int kPathFlags = O_PATH | O_NOFOLLOW | O_CLOEXEC;

// The kernel sends single components; anything else never reaches the
// backing tree ("..", at the root, would leave it).
Status CheckComponent(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "not a single name component");
  }
  if (name.size() > NAME_MAX) return Status::FromErrno(ENAMETOOLONG, "name");
  return Status::Ok();
}

Status Errno(std::string_view what) { return Status::FromErrno(errno, what); }

bool IsDotOrDotDot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

}  // namespace

DirStream::~DirStream() {
  if (stream_ != nullptr) closedir(stream_);
}

Tree::Tree(InodeTable* inodes, NameMapper* names, OpenFileTable* files, format::Geometry geometry,
           TreeOptions options)
    : inodes_(inodes), names_(names), files_(files), geometry_(geometry), options_(options) {}

StatusOr<std::shared_ptr<Inode>> Tree::Node(NodeId id) const {
  std::shared_ptr<Inode> node = inodes_->Get(id);
  if (node == nullptr) return Status::FromErrno(ESTALE, "unknown node");
  return node;
}

uint64_t Tree::PlainSizeForStat(uint64_t backing_size) const {
  return format::VisiblePlainSize(backing_size, geometry_);
}

void Tree::FixSize(struct stat* st, int fd) const {
  if (S_ISREG(st->st_mode)) {
    st->st_size = static_cast<off_t>(PlainSizeForStat(static_cast<uint64_t>(st->st_size)));
  } else if (S_ISLNK(st->st_mode) && names_->keeps_targets()) {
    // A symlink's size is its target's length, as on any filesystem.
    st->st_size = static_cast<off_t>(names_->TargetSizeOf(fd, static_cast<uint64_t>(st->st_size)));
  }
}

StatusOr<struct stat> Tree::GetAttr(const Inode& node) {
  struct stat st;
  if (fstatat(node.fd(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return Errno("stat");
  FixSize(&st, node.fd());
  return st;
}

StatusOr<Entry> Tree::LookupBacking(const Inode& parent, const std::string& backing) {
  return LookupAt(parent.fd(), backing.c_str());
}

StatusOr<Entry> Tree::LookupAt(int dir_fd, const char* backing) {
  Entry entry;
  if (fstatat(dir_fd, backing, &entry.attr, AT_SYMLINK_NOFOLLOW) != 0) return Errno("lookup");
  if ((entry.inode = inodes_->RememberKnown(entry.attr))) {
    FixSize(&entry.attr, entry.inode->fd());
    return entry;
  }
  // New to the table. The name may have changed since the stat: the node
  // describes whatever the descriptor opened, with its own stat.
  return OpenAndRemember(dir_fd, backing);
}

StatusOr<Entry> Tree::OpenAndRemember(int dir_fd, const char* backing) {
  Entry entry;
  const int fd = openat(dir_fd, backing, kPathFlags);
  if (fd < 0) return Errno("lookup");
  UniqueFd object(fd);
  if (fstat(object.get(), &entry.attr) != 0) return Errno("stat");
  FixSize(&entry.attr, object.get());
  // Remember counts a lookup of a node it already holds and drops this fd.
  entry.inode = inodes_->Remember(std::move(object), entry.attr);
  return entry;
}

StatusOr<Entry> Tree::LookupListed(const Inode& dir, int dir_fd, const char* backing, ino_t listed_ino) {
  if (!listed_numbers_hold_.load(std::memory_order_relaxed) || inodes_->Find(dir.dev(), listed_ino) != nullptr) {
    return LookupAt(dir_fd, backing);
  }
  auto entry = OpenAndRemember(dir_fd, backing);
  // A mount point lists the number of the directory under it (another
  // device): that says nothing of the backing's numbers. A name replaced
  // since the listing was read looks the same as a lying number; turning the
  // shortcut off then costs speed only.
  if (entry.ok() && entry->attr.st_dev == dir.dev() && entry->attr.st_ino != listed_ino) {
    listed_numbers_hold_.store(false, std::memory_order_relaxed);
  }
  return entry;
}

StatusOr<Entry> Tree::Lookup(const Inode& parent, std::string_view name) {
  KMSFS_RETURN_IF_ERROR(CheckComponent(name));
  if (!parent.is_dir()) return Status::FromErrno(ENOTDIR, "lookup");
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, names_->ToBacking(parent, name));
  return LookupBacking(parent, backing.name);
}

StatusOr<BackingName> Tree::NewName(const Inode& parent, std::string_view name) {
  KMSFS_RETURN_IF_ERROR(CheckComponent(name));
  if (!parent.is_dir()) return Status::FromErrno(ENOTDIR, "create");
  auto backing = names_->ToBacking(parent, name);
  if (!backing.ok() && backing.status().code() == StatusCode::kNotFound) {
    return Status::FromErrno(EPERM, "that name is reserved for the volume");
  }
  return backing;
}

StatusOr<BackingName> Tree::OldName(const Inode& parent, std::string_view name) {
  KMSFS_RETURN_IF_ERROR(CheckComponent(name));
  if (!parent.is_dir()) return Status::FromErrno(ENOTDIR, "name");
  return names_->ToBacking(parent, name);
}

void Tree::ForgetNameIfGone(const Inode& parent, const BackingName& name) {
  struct stat st;
  if (!name.sidecar.empty() && fstatat(parent.fd(), name.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 &&
      errno == ENOENT) {
    names_->AfterRemove(parent, name);
  }
}

Tree::TargetWatch Tree::WatchTarget(const Inode& parent, const std::string& backing) {
  TargetWatch watch;
  if (!names_->keeps_targets()) return watch;
  // Only a symlink has a target to watch; most names are not one.
  struct stat named;
  if (fstatat(parent.fd(), backing.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(named.st_mode)) {
    return watch;
  }
  const int fd = openat(parent.fd(), backing.c_str(), kPathFlags);
  if (fd < 0) return watch;
  UniqueFd object(fd);
  struct stat st;
  if (fstat(object.get(), &st) != 0 || !S_ISLNK(st.st_mode)) return watch;
  std::string stored(PATH_MAX, '\0');
  const ssize_t n = readlinkat(object.get(), "", stored.data(), stored.size());
  if (n <= 0) return watch;
  stored.resize(static_cast<size_t>(n));
  watch.object = std::move(object);
  watch.stored = std::move(stored);
  return watch;
}

void Tree::ReleaseIfLastLink(const TargetWatch& watch) {
  struct stat st;
  if (watch.object.valid() && fstat(watch.object.get(), &st) == 0 && st.st_nlink == 0) {
    names_->ReleaseTarget(watch.stored);
  }
}

Owner Tree::NewNodeOwner(const Inode& parent, Caller caller) const {
  Owner owner;
  if (!options_.set_owner) return owner;
  // The daemon's own identity is what the node got anyway.
  if (caller.uid == geteuid() && caller.gid == getegid()) return owner;
  owner.uid = caller.uid;
  owner.gid = caller.gid;
  // Under a set-group-ID directory the backing filesystem gave the node the
  // directory's group, as a plain directory does.
  struct stat pst;
  if (fstatat(parent.fd(), "", &pst, AT_EMPTY_PATH) == 0 && (pst.st_mode & S_ISGID)) {
    owner.gid = static_cast<gid_t>(-1);
  }
  return owner;
}

StatusOr<Entry> Tree::Adopt(const Inode& parent, const BackingName& backing, Caller caller, bool is_dir) {
  const int fd = openat(parent.fd(), backing.name.c_str(), kPathFlags);
  if (fd < 0) return Errno("open new node");
  UniqueFd object(fd);
  const Owner owner = NewNodeOwner(parent, caller);
  if (owner.any() && fchownat(object.get(), "", owner.uid, owner.gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    const Status s = Errno("chown new node");
    unlinkat(parent.fd(), backing.name.c_str(), is_dir ? AT_REMOVEDIR : 0);
    ForgetNameIfGone(parent, backing);
    return s;
  }
  Entry entry;
  if (fstat(object.get(), &entry.attr) != 0) return Errno("stat");
  FixSize(&entry.attr, object.get());
  entry.inode = inodes_->Remember(std::move(object), entry.attr);
  if (observer_) observer_->OnNamespaceChange(parent);
  return entry;
}

StatusOr<Entry> Tree::MakeNode(const Inode& parent, std::string_view name, mode_t mode, dev_t rdev, Caller caller) {
  if (S_ISREG(mode)) {
    KMSFS_ASSIGN_OR_RETURN(Created made, Create(parent, name, mode, true, caller));
    return std::move(made.entry);
  }
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, NewName(parent, name));
  KMSFS_RETURN_IF_ERROR(names_->BeforeCreate(parent, backing));
  if (mknodat(parent.fd(), backing.name.c_str(), mode, rdev) != 0) {
    const Status s = Errno("mknod");
    ForgetNameIfGone(parent, backing);
    return s;
  }
  return Adopt(parent, backing, caller, false);
}

StatusOr<Entry> Tree::MakeDir(const Inode& parent, std::string_view name, mode_t mode, Caller caller) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, NewName(parent, name));
  KMSFS_RETURN_IF_ERROR(names_->BeforeCreate(parent, backing));
  if (Status s = names_->MakeDirectory(parent, backing, mode); !s.ok()) {
    ForgetNameIfGone(parent, backing);
    return s;
  }
  return Adopt(parent, backing, caller, true);
}

StatusOr<Entry> Tree::MakeSymlink(const Inode& parent, std::string_view name, std::string_view target,
                                  Caller caller) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, NewName(parent, name));
  if (target.empty() || target.find('\0') != std::string_view::npos) return Status::FromErrno(EINVAL, "symlink");
  if (target.size() >= PATH_MAX) return Status::FromErrno(ENAMETOOLONG, "symlink");
  KMSFS_ASSIGN_OR_RETURN(std::string stored, names_->ToBackingTarget(target));
  Status s = names_->BeforeCreate(parent, backing);
  if (s.ok() && symlinkat(stored.c_str(), parent.fd(), backing.name.c_str()) != 0) s = Errno("symlink");
  if (!s.ok()) {
    ForgetNameIfGone(parent, backing);
    names_->ReleaseTarget(stored);
    return s;
  }
  return Adopt(parent, backing, caller, false);
}

StatusOr<Entry> Tree::Link(const Inode& node, const Inode& parent, std::string_view name) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, NewName(parent, name));
  if (node.is_dir()) return Status::FromErrno(EPERM, "link");
  KMSFS_RETURN_IF_ERROR(names_->BeforeCreate(parent, backing));
  int rc = linkat(node.fd(), "", parent.fd(), backing.name.c_str(), AT_EMPTY_PATH);
  if (rc != 0 && (errno == EPERM || errno == ENOENT)) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link of the node is
    // the node itself (for a symlink too: the link is not followed further).
    rc = linkat(AT_FDCWD, node.ProcPath().c_str(), parent.fd(), backing.name.c_str(), AT_SYMLINK_FOLLOW);
  }
  if (rc != 0) {
    const Status s = Errno("link");
    ForgetNameIfGone(parent, backing);
    return s;
  }
  if (observer_) observer_->OnNamespaceChange(parent);
  // The new name's entry is one more lookup of the same node.
  return LookupBacking(parent, backing.name);
}

Status Tree::Unlink(const Inode& parent, std::string_view name) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, OldName(parent, name));
  const TargetWatch watch = WatchTarget(parent, backing.name);
  if (unlinkat(parent.fd(), backing.name.c_str(), 0) != 0) return Errno("unlink");
  names_->AfterRemove(parent, backing);
  ReleaseIfLastLink(watch);
  if (observer_) observer_->OnNamespaceChange(parent);
  return Status::Ok();
}

Status Tree::RemoveDir(const Inode& parent, std::string_view name) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, OldName(parent, name));
  KMSFS_RETURN_IF_ERROR(names_->RemoveDirectory(parent, backing));
  names_->AfterRemove(parent, backing);
  if (observer_) observer_->OnNamespaceChange(parent);
  return Status::Ok();
}

Status Tree::Rename(const Inode& parent, std::string_view name, const Inode& new_parent, std::string_view new_name,
                    unsigned int flags) {
  KMSFS_ASSIGN_OR_RETURN(BackingName from, OldName(parent, name));
  KMSFS_ASSIGN_OR_RETURN(BackingName to, NewName(new_parent, new_name));
  KMSFS_RETURN_IF_ERROR(names_->BeforeCreate(new_parent, to));
  // A symlink the rename replaces may hold the last link to a stored target.
  const TargetWatch replaced = (flags & RENAME_EXCHANGE) ? TargetWatch{} : WatchTarget(new_parent, to.name);
  if (Status s = names_->Rename(parent, from, new_parent, to, flags); !s.ok()) {
    ForgetNameIfGone(new_parent, to);
    return s;
  }
  // Gone unless the rename was an exchange, or between two names of one file
  // (which changes nothing).
  ForgetNameIfGone(parent, from);
  ReleaseIfLastLink(replaced);
  if (observer_) {
    observer_->OnNamespaceChange(parent);
    if (&parent != &new_parent) observer_->OnNamespaceChange(new_parent);
  }
  return Status::Ok();
}

StatusOr<std::string> Tree::ReadLink(const Inode& node) {
  if (!node.is_symlink()) return Status::FromErrno(EINVAL, "readlink");
  std::string stored(PATH_MAX, '\0');
  const ssize_t n = readlinkat(node.fd(), "", stored.data(), stored.size());
  if (n < 0) return Errno("readlink");
  stored.resize(static_cast<size_t>(n));
  return names_->FromBackingTarget(stored);
}

namespace {

// The mode check the kernel makes for an open (default_permissions), for
// the one open the kernel cannot check: a name that appeared between its
// lookup and the create. Root passes, as CAP_DAC_OVERRIDE does for files.
bool CallerMayOpen(const struct stat& st, const Caller& caller, int accmode) {
  if (caller.uid == 0) return true;
  bool member = st.st_gid == caller.gid;
  if (!member && st.st_uid != caller.uid && caller.groups) {
    const std::vector<gid_t> groups = caller.groups();
    member = std::find(groups.begin(), groups.end(), st.st_gid) != groups.end();
  }
  const mode_t bits = st.st_uid == caller.uid ? (st.st_mode >> 6) & 7 : member ? (st.st_mode >> 3) & 7 : st.st_mode & 7;
  const bool read = accmode == O_RDONLY || accmode == O_RDWR;
  const bool write = accmode == O_WRONLY || accmode == O_RDWR;
  return (!read || (bits & 4) != 0) && (!write || (bits & 2) != 0);
}

}  // namespace

StatusOr<Tree::Created> Tree::Create(const Inode& parent, std::string_view name, mode_t mode, bool exclusive,
                                     Caller caller, int accmode) {
  KMSFS_ASSIGN_OR_RETURN(BackingName backing, NewName(parent, name));
  KMSFS_RETURN_IF_ERROR(names_->BeforeCreate(parent, backing));
  auto made = files_->Create(parent.fd(), backing.name, mode, NewNodeOwner(parent, caller));
  if (made.ok()) {
    Created out;
    out.entry.attr = made->st;
    out.entry.inode = inodes_->Remember(std::move(made->path_fd), made->st);
    FixSize(&out.entry.attr, out.entry.inode->fd());
    out.file = std::move(made->file);
    if (observer_) observer_->OnNamespaceChange(parent);
    return out;
  }
  if (made.status().code() != StatusCode::kAlreadyExists) {
    ForgetNameIfGone(parent, backing);
    return made.status();
  }
  if (exclusive) return Status::FromErrno(EEXIST, "create");
  // O_CREAT without O_EXCL on a name that exists (created meanwhile, or the
  // kernel's lookup was stale): open it as the caller asked.
  KMSFS_ASSIGN_OR_RETURN(Entry entry, LookupBacking(parent, backing.name));
  if (!entry.inode->is_regular()) {
    inodes_->Forget(entry.inode->id(), 1);
    return Status::FromErrno(entry.inode->is_dir() ? EISDIR : EEXIST, "create");
  }
  if (!CallerMayOpen(entry.attr, caller, accmode)) {
    inodes_->Forget(entry.inode->id(), 1);
    return Status::FromErrno(EACCES, "create: the name exists and the caller may not open it");
  }
  auto file = Open(*entry.inode, true);
  if (!file.ok()) {
    inodes_->Forget(entry.inode->id(), 1);
    return file.status();
  }
  return Created{std::move(entry), std::move(file).value()};
}

StatusOr<std::shared_ptr<CryptFile>> Tree::Open(const Inode& node, bool for_write) {
  if (node.is_dir()) return Status::FromErrno(EISDIR, "open");
  if (!node.is_regular()) return Status::FromErrno(EINVAL, "open: not a regular file");
  if (observer_ == nullptr) return files_->Open(node.ProcPath(), for_write);
  observer_->OnOpen(node, for_write);
  return files_->Open(node.ProcPath(), for_write, [&] { observer_->OnKeyMiss(node); });
}

StatusOr<struct stat> Tree::SetAttr(const Inode& node, const AttrChange& change, CryptFile* open) {
  const std::string proc = node.ProcPath();
  if (change.mode && fchmodat(AT_FDCWD, proc.c_str(), *change.mode & 07777, 0) != 0) return Errno("chmod");
  if ((change.uid || change.gid) &&
      fchownat(node.fd(), "", change.uid.value_or(static_cast<uid_t>(-1)), change.gid.value_or(static_cast<gid_t>(-1)),
               AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return Errno("chown");
  }
  if (change.size) {
    if (!node.is_regular()) return Status::FromErrno(node.is_dir() ? EISDIR : EINVAL, "truncate");
    if (*change.size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
      return Status::FromErrno(EFBIG, "truncate");
    }
    std::shared_ptr<CryptFile> opened;
    if (open == nullptr) {
      KMSFS_ASSIGN_OR_RETURN(opened, Open(node, true));
      open = opened.get();
    }
    KMSFS_RETURN_IF_ERROR(open->Truncate(*change.size));
  }
  if (change.atime || change.mtime) {
    const timespec omit{0, UTIME_OMIT};
    const timespec times[2] = {change.atime.value_or(omit), change.mtime.value_or(omit)};
    if (utimensat(node.fd(), "", times, AT_EMPTY_PATH) != 0) return Errno("utimens");
  }
  return GetAttr(node);
}

StatusOr<std::unique_ptr<DirStream>> Tree::OpenDir(std::shared_ptr<Inode> dir) {
  if (!dir->is_dir()) return Status::FromErrno(ENOTDIR, "opendir");
  const int fd = openat(dir->fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("opendir");
  DIR* stream = fdopendir(fd);
  if (stream == nullptr) {
    const Status s = Errno("opendir");
    close(fd);
    return s;
  }
  return std::make_unique<DirStream>(std::move(dir), stream);
}

Status Tree::ReadDir(DirStream& dir, off_t offset, bool plus, const std::function<bool(const DirEntry&)>& add) {
  MutexLock lock(&dir.mu_);
  const Inode& node = *dir.dir_;
  if (offset == 0) {
    rewinddir(dir.stream_);
    // A pass from the start tells the observer which files were listed.
    dir.listed_.clear();
    dir.noting_ = observer_ != nullptr;
  } else {
    seekdir(dir.stream_, offset);
  }
  const int dir_fd = dirfd(dir.stream_);
  errno = 0;
  while (dirent* e = readdir(dir.stream_)) {
    DirEntry out;
    out.next_offset = e->d_off;
    if (IsDotOrDotDot(e->d_name)) {
      out.name = e->d_name;
      out.entry.attr.st_ino = e->d_ino;
      out.entry.attr.st_mode = DTTOIF(e->d_type);
    } else {
      std::optional<std::string> name = names_->FromBacking(node, e->d_name);
      if (!name) {
        errno = 0;
        continue;
      }
      out.name = std::move(*name);
      if (plus) {
        auto found = LookupListed(node, dir_fd, e->d_name, e->d_ino);
        if (!found.ok()) {
          // Gone since it was read: leave it out, as a later listing would.
          errno = 0;
          continue;
        }
        out.entry = std::move(found).value();
      } else {
        out.entry.attr.st_ino = e->d_ino;
        out.entry.attr.st_mode = DTTOIF(e->d_type);
      }
    }
    if (!add(out)) {
      if (out.entry.inode) inodes_->Forget(out.entry.inode->id(), 1);
      // The next call resumes at this entry.
      return Status::Ok();
    }
    if (dir.noting_ && (e->d_type == DT_REG || e->d_type == DT_UNKNOWN) && !IsDotOrDotDot(e->d_name)) {
      dir.listed_.emplace_back(e->d_name, e->d_ino);
    }
    errno = 0;  // readdir signals an error only through errno
  }
  if (errno != 0) return Errno("readdir");
  if (dir.noting_ && !dir.listed_.empty()) observer_->OnListed(node, dir.listed_);
  dir.listed_.clear();
  dir.noting_ = false;
  return Status::Ok();
}

Status Tree::SyncDir(DirStream& dir, bool datasync) {
  MutexLock lock(&dir.mu_);
  const int fd = dirfd(dir.stream_);
  if ((datasync ? fdatasync(fd) : fsync(fd)) != 0) return Errno("fsyncdir");
  return Status::Ok();
}

StatusOr<struct statvfs> Tree::StatFs() {
  struct statvfs st;
  if (fstatvfs(inodes_->root()->fd(), &st) != 0) return Errno("statfs");
  return st;
}

Status Tree::SetXattr(const Inode& node, const char* name, std::string_view value, int flags) {
  if (IsHeaderXattr(name)) return Status::FromErrno(EPERM, "setxattr");
  if (IsBackingOnlyXattr(name)) return Status::FromErrno(EOPNOTSUPP, "setxattr");
  if (setxattr(node.ProcPath().c_str(), name, value.data(), value.size(), flags) != 0) return Errno("setxattr");
  return Status::Ok();
}

StatusOr<std::string> Tree::GetXattr(const Inode& node, const char* name, size_t size) {
  if (IsNeverFound(name)) return Status::FromErrno(ENODATA, "getxattr");
  const std::string proc = node.ProcPath();
  std::string value(size, '\0');
  const ssize_t n = getxattr(proc.c_str(), name, size == 0 ? nullptr : value.data(), size);
  if (n < 0) return Errno("getxattr");
  if (size == 0) return std::string(static_cast<size_t>(n), '\0');
  value.resize(static_cast<size_t>(n));
  return value;
}

StatusOr<std::string> Tree::ListXattr(const Inode& node, size_t size) {
  // The real list, without the names the mount keeps to itself; asked for
  // whole, as filtering changes its size.
  const std::string proc = node.ProcPath();
  ssize_t n = listxattr(proc.c_str(), nullptr, 0);
  if (n < 0) return Errno("listxattr");
  std::string names(static_cast<size_t>(n) + 1, '\0');
  n = listxattr(proc.c_str(), names.data(), names.size());
  if (n < 0) return Errno("listxattr");
  std::string out;
  for (size_t pos = 0; pos < static_cast<size_t>(n);) {
    const char* entry = names.data() + pos;
    const size_t len = std::strlen(entry);
    if (!IsNeverFound(entry)) out.append(entry, len + 1);
    pos += len + 1;
  }
  if (size == 0) return std::string(out.size(), '\0');
  if (size < out.size()) return Status::FromErrno(ERANGE, "listxattr");
  return out;
}

Status Tree::RemoveXattr(const Inode& node, const char* name) {
  if (IsHeaderXattr(name)) return Status::FromErrno(EPERM, "removexattr");
  if (IsBackingOnlyXattr(name)) return Status::FromErrno(ENODATA, "removexattr");
  if (removexattr(node.ProcPath().c_str(), name) != 0) return Errno("removexattr");
  return Status::Ok();
}

Status Tree::Access(const Inode& node, int mask) {
  if (faccessat(AT_FDCWD, node.ProcPath().c_str(), mask, 0) != 0) return Errno("access");
  return Status::Ok();
}

}  // namespace kmsfs::core
