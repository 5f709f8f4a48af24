// InodeTable: the backing objects the kernel knows, by the node id the mount
// gave them, each holding an O_PATH descriptor of its backing object and the
// kernel's lookup count.
//
// Why descriptors: every operation acts on the descriptor of a node the
// kernel named (a parent directory and one name component, with *at calls and
// O_NOFOLLOW), so nothing is ever resolved from the backing root after the
// lookup that made the node, and a directory swapped for a symlink in the
// backing tree cannot redirect the daemon outside it. The descriptor also
// pins the backing inode: its number cannot be reused while the node lives,
// so (st_dev, st_ino) identifies it, and every hard link of a file is one
// node (one kernel inode: link count, size, times and page cache agree
// through every name).
//
// Lifetime: a node is made by a lookup (or create, mkdir, ...) with a lookup
// count of one; each further lookup of the same backing object adds one;
// Forget subtracts what the kernel forgets, and at zero the node leaves the
// table and its descriptor is closed once no request holds it. Node ids are
// never reused, so a stale id from the kernel finds nothing rather than
// another file. The root (kRootId) is never forgotten.
//
// Thread-safety: thread-safe. One reader-writer mutex guards both maps;
// requests look nodes up under the shared lock. A node's own fields are
// immutable after construction except those with their own guard.
#ifndef KMSFS_FS_CORE_INODE_TABLE_H_
#define KMSFS_FS_CORE_INODE_TABLE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace kmsfs::core {

using NodeId = uint64_t;
inline constexpr NodeId kRootId = 1;  // FUSE_ROOT_ID

class Inode {
 public:
  Inode(NodeId id, UniqueFd fd, const struct stat& st)
      : id_(id), fd_(std::move(fd)), dev_(st.st_dev), ino_(st.st_ino), type_(st.st_mode & S_IFMT) {}
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  NodeId id() const { return id_; }
  // O_PATH|O_NOFOLLOW descriptor of the backing object.
  int fd() const { return fd_.get(); }
  dev_t dev() const { return dev_; }
  ino_t ino() const { return ino_; }
  mode_t type() const { return type_; }
  bool is_dir() const { return S_ISDIR(type_); }
  bool is_regular() const { return S_ISREG(type_); }
  bool is_symlink() const { return S_ISLNK(type_); }
  // "/proc/self/fd/N": reaches exactly this object for the calls that do not
  // take an O_PATH descriptor (xattrs, chmod, times, reopening for I/O).
  std::string ProcPath() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

  // What a name mapper read from this directory once (its name value). Kept
  // with the node: the node's descriptor pins the backing inode, so its
  // number cannot be reused by another directory while this lives.
  std::shared_ptr<const void> mapper_state() const {
    MutexLock lock(&mapper_mu_);
    return mapper_state_;
  }
  void set_mapper_state(std::shared_ptr<const void> state) const {
    MutexLock lock(&mapper_mu_);
    mapper_state_ = std::move(state);
  }

 private:
  const NodeId id_;
  const UniqueFd fd_;
  const dev_t dev_;
  const ino_t ino_;
  const mode_t type_;
  mutable Mutex mapper_mu_;
  mutable std::shared_ptr<const void> mapper_state_ KMSFS_GUARDED_BY(mapper_mu_);
};

struct InodeTableStats {
  uint64_t nodes = 0;      // in the table now (the root included)
  uint64_t made = 0;       // nodes made since start
  uint64_t forgotten = 0;  // nodes dropped at lookup count zero
};

class InodeTable {
 public:
  // `root` is the backing root, opened O_PATH|O_DIRECTORY.
  static StatusOr<std::unique_ptr<InodeTable>> New(UniqueFd root);
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // The node `id`, or null if the table has none (never made, or forgotten).
  std::shared_ptr<Inode> Get(NodeId id) const;
  const std::shared_ptr<Inode>& root() const { return root_; }

  // Counts one lookup of the backing object `fd` (O_PATH) describes, whose
  // fstat is `st`: returns its node, made now (taking `fd`) or already known
  // (`fd` is closed). The root's object returns the root.
  std::shared_ptr<Inode> Remember(UniqueFd fd, const struct stat& st);
  // Counts one lookup of the backing object `st` describes if the table
  // already holds it, and returns its node; null (nothing counted) if not.
  // Lets a lookup of a known object skip opening a descriptor of it: the
  // node's own descriptor pins the inode, so a name whose stat shows the same
  // (st_dev, st_ino) names that very object.
  std::shared_ptr<Inode> RememberKnown(const struct stat& st);
  // The kernel dropped `count` lookups of `id`. Unknown ids are ignored.
  void Forget(NodeId id, uint64_t count);
  // The node of a backing object already in the table, without counting a
  // lookup (null if none): e.g. to find the open file of an inode.
  std::shared_ptr<Inode> Find(dev_t dev, ino_t ino) const;

  InodeTableStats stats() const;

 private:
  struct Entry {
    std::shared_ptr<Inode> inode;
    uint64_t nlookup = 0;
  };
  explicit InodeTable(std::shared_ptr<Inode> root);

  const std::shared_ptr<Inode> root_;
  mutable SharedMutex mu_;
  NodeId next_id_ KMSFS_GUARDED_BY(mu_) = kRootId + 1;
  std::unordered_map<NodeId, Entry> by_id_ KMSFS_GUARDED_BY(mu_);
  std::map<std::pair<dev_t, ino_t>, NodeId> by_object_ KMSFS_GUARDED_BY(mu_);
  uint64_t made_ KMSFS_GUARDED_BY(mu_) = 0;
  uint64_t forgotten_ KMSFS_GUARDED_BY(mu_) = 0;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_INODE_TABLE_H_
