// Tree: the plaintext tree's namespace operations over the inode table.
//
// Every operation names its objects as the kernel does: a node, or a parent
// node and one name component. Each acts on the node's O_PATH descriptor with
// *at calls, one component at a time, never following a symlink, and names go
// through the NameMapper with the directory they live in. Regular files'
// contents are the open-file table's; everything else (directories,
// symlinks, device nodes, FIFOs, modes, owners, times, user xattrs) passes
// straight through to the backing objects. Sizes of regular files are their
// plaintext sizes, computed from backing sizes alone (no key).
//
// Owners: when the daemon runs as root (TreeOptions::set_owner), a new node
// belongs to the caller, with the group the backing filesystem gives it under
// a set-group-ID directory, as on a plain directory.
//
// Errors are Status values; fs/fuse turns them into errno.
//
// Thread-safety: thread-safe; called concurrently by the FUSE workers.
#ifndef KMSFS_FS_CORE_TREE_H_
#define KMSFS_FS_CORE_TREE_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>


#include "base/mutex.h"
#include "base/status.h"
#include "fs/core/inode_table.h"
#include "fs/core/name_mapper.h"
#include "fs/core/open_file_table.h"
#include "fs/format/offsets.h"

namespace kmsfs::core {

class TreeObserver;

struct TreeOptions {
  // True when the daemon runs as root: new nodes get the caller's owner.
  bool set_owner = false;
};

// The process a request comes from.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  // The supplementary groups, asked for only by the rare check that needs
  // them (at the FUSE edge each answer costs a read of /proc). Unset: none.
  std::function<std::vector<gid_t>()> groups;
};

// A node handed to the kernel with one lookup counted, and its attributes.
struct Entry {
  std::shared_ptr<Inode> inode;
  struct stat attr {};
};

// What a setattr changes (the fields that are set).
struct AttrChange {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<uint64_t> size;
  // UTIME_NOW, UTIME_OMIT or a time, as utimensat takes them.
  std::optional<timespec> atime;
  std::optional<timespec> mtime;
};

// An open directory: its backing stream and where a listing resumes.
class DirStream {
 public:
  DirStream(std::shared_ptr<Inode> dir, DIR* stream) : dir_(std::move(dir)), stream_(stream) {}
  ~DirStream();
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;
  const Inode& dir() const { return *dir_; }

 private:
  friend class Tree;
  const std::shared_ptr<Inode> dir_;
  Mutex mu_;  // one reader of the stream at a time
  DIR* const stream_ KMSFS_PT_GUARDED_BY(mu_);
  // Backing names and inode numbers of the regular files listed in a pass
  // from the start, for the observer.
  std::vector<std::pair<std::string, ino_t>> listed_ KMSFS_GUARDED_BY(mu_);
  bool noting_ KMSFS_GUARDED_BY(mu_) = false;
};

// One directory entry as a listing gives it.
struct DirEntry {
  std::string name;
  off_t next_offset = 0;  // where the listing resumes after this entry
  // With `plus`: the entry's node (a lookup counted; null for "." and "..")
  // and attributes; without: only st_ino and the type bits of st_mode.
  Entry entry;
};

class Tree {
 public:
  Tree(InodeTable* inodes, NameMapper* names, OpenFileTable* files, format::Geometry geometry, TreeOptions options);
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // Someone to tell about listings, opens and namespace changes (speculative
  // work such as key prefetch); may be null. Set before serving.
  void set_observer(TreeObserver* observer) { observer_ = observer; }

  // The node `id`; kNotFound (ESTALE at the edge) when the kernel names a
  // node this table no longer has.
  StatusOr<std::shared_ptr<Inode>> Node(NodeId id) const;
  InodeTable& inodes() const { return *inodes_; }
  OpenFileTable& files() const { return *files_; }

  StatusOr<Entry> Lookup(const Inode& parent, std::string_view name);
  void Forget(NodeId id, uint64_t count) { inodes_->Forget(id, count); }
  StatusOr<struct stat> GetAttr(const Inode& node);
  // `open`: the file's object when the kernel names a handle (size changes
  // go through it); otherwise a size change opens the file for writing.
  StatusOr<struct stat> SetAttr(const Inode& node, const AttrChange& change, CryptFile* open);
  StatusOr<std::string> ReadLink(const Inode& node);

  StatusOr<Entry> MakeNode(const Inode& parent, std::string_view name, mode_t mode, dev_t rdev, Caller caller);
  StatusOr<Entry> MakeDir(const Inode& parent, std::string_view name, mode_t mode, Caller caller);
  StatusOr<Entry> MakeSymlink(const Inode& parent, std::string_view name, std::string_view target, Caller caller);
  StatusOr<Entry> Link(const Inode& node, const Inode& parent, std::string_view name);
  Status Unlink(const Inode& parent, std::string_view name);
  Status RemoveDir(const Inode& parent, std::string_view name);
  Status Rename(const Inode& parent, std::string_view name, const Inode& new_parent, std::string_view new_name,
                unsigned int flags);

  // A new regular file, open: its entry and its object.
  struct Created {
    Entry entry;
    std::shared_ptr<CryptFile> file;
  };
  // kAlreadyExists when the name exists and `exclusive`; otherwise an
  // existing file is opened (for writing) instead.
  // `accmode` is the open's O_RDONLY/O_WRONLY/O_RDWR: when the name turns out
  // to exist, the caller must have that access to the existing file.
  StatusOr<Created> Create(const Inode& parent, std::string_view name, mode_t mode, bool exclusive, Caller caller,
                           int accmode = O_RDWR);
  StatusOr<std::shared_ptr<CryptFile>> Open(const Inode& node, bool for_write);

  StatusOr<std::unique_ptr<DirStream>> OpenDir(std::shared_ptr<Inode> dir);
  // Lists `dir` from `offset` (0: the start; otherwise a next_offset given
  // before), handing each entry to `add` until it returns false (the reply is
  // full: that entry was not taken, and with `plus` its lookup is undone).
  Status ReadDir(DirStream& dir, off_t offset, bool plus, const std::function<bool(const DirEntry&)>& add);
  Status SyncDir(DirStream& dir, bool datasync);

  StatusOr<struct statvfs> StatFs();

  // Extended attributes: user.* and trusted.* pass through; the volume's own
  // (xattr_names.h) are neither shown nor settable; security.* and system.*
  // stay with the backing filesystem (reads ENODATA, writes EOPNOTSUPP).
  Status SetXattr(const Inode& node, const char* name, std::string_view value, int flags);
  // With size 0, only the value's size is returned.
  StatusOr<std::string> GetXattr(const Inode& node, const char* name, size_t size);
  StatusOr<std::string> ListXattr(const Inode& node, size_t size);
  Status RemoveXattr(const Inode& node, const char* name);

  Status Access(const Inode& node, int mask);

  // The size `stat` shows for a regular file of `backing_size` bytes.
  uint64_t PlainSizeForStat(uint64_t backing_size) const;

 private:
  // The backing name of a new entry; kNotFound becomes EPERM.
  StatusOr<BackingName> NewName(const Inode& parent, std::string_view name);
  // The backing name of an existing entry.
  StatusOr<BackingName> OldName(const Inode& parent, std::string_view name);
  // Undoes what the mapper keeps beside `name` if no entry has that name now
  // (a failed create, a rename away); never for a name still in use.
  void ForgetNameIfGone(const Inode& parent, const BackingName& name);
  // A symlink about to lose a name, and what it stores: once its last link
  // is gone, the mapper may drop a stored target.
  struct TargetWatch {
    UniqueFd object;
    std::string stored;
  };
  TargetWatch WatchTarget(const Inode& parent, const std::string& backing);
  void ReleaseIfLastLink(const TargetWatch& watch);
  // Finds `backing` in `parent` and counts a lookup of it.
  StatusOr<Entry> LookupBacking(const Inode& parent, const std::string& backing);
  // The same on a directory descriptor: stats the name first and opens an
  // O_PATH descriptor only for an object the table does not hold yet (a
  // listing, a second listing and an unlink of one file open it once).
  StatusOr<Entry> LookupAt(int dir_fd, const char* backing);
  // The same for a name a listing read with its inode number: a number the
  // table does not hold is opened by name at once, without the stat that
  // would only say so (a first listing costs two system calls per entry, not
  // three). The number only picks the path: whatever the name opens is what
  // is remembered. A backing that lists numbers other than its objects'
  // (overlayfs without xino, some network filesystems) would send every
  // known entry down the dearer path, so the first such number turns the
  // shortcut off for good.
  StatusOr<Entry> LookupListed(const Inode& dir, int dir_fd, const char* backing, ino_t listed_ino);
  // Opens `backing` and remembers what it opened, under its own stat.
  StatusOr<Entry> OpenAndRemember(int dir_fd, const char* backing);
  // The node just made as `backing` in `parent`: owner set, then looked up.
  StatusOr<Entry> Adopt(const Inode& parent, const BackingName& backing, Caller caller, bool is_dir);
  Owner NewNodeOwner(const Inode& parent, Caller caller) const;
  // Plaintext sizes: of a regular file from its backing size, of a symlink
  // (`fd` its O_PATH descriptor) its target's length.
  void FixSize(struct stat* st, int fd) const;

  InodeTable* const inodes_;
  NameMapper* const names_;
  OpenFileTable* const files_;
  const format::Geometry geometry_;
  const TreeOptions options_;
  TreeObserver* observer_ = nullptr;
  // False once a listing named an object by a number not its own (LookupListed).
  std::atomic<bool> listed_numbers_hold_{true};
};

// What speculative work hears of: listings and opens. Each call must be
// cheap and must not block (queue the work).
class TreeObserver {
 public:
  virtual ~TreeObserver() = default;
  // A pass over `dir` from the start listed these regular files (backing
  // names and inode numbers), in order.
  virtual void OnListed(const Inode& dir, const std::vector<std::pair<std::string, ino_t>>& files) = 0;
  // A regular file is being opened.
  virtual void OnOpen(const Inode& file, bool for_write) = 0;
  // Opening `file` found its key not cached: the KMS is about to be asked.
  virtual void OnKeyMiss(const Inode& file) = 0;
  // Names changed in `dir` (an entry made, removed or renamed).
  virtual void OnNamespaceChange(const Inode& dir) = 0;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_TREE_H_
