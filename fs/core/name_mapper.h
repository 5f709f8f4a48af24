// NameMapper: how one name component of the plaintext tree (and a symlink
// target) is stored in the backing directory, and back. Every namespace
// operation passes exactly one component through it, with the directory it
// lives in, so a per-directory name transform (encrypted names) belongs here
// and nowhere else. The tree calls the hooks around each change so a mapper
// can keep what it stores beside a name (a long name's sidecar) and a
// directory's own value in step.
//
// Thread-safety: implementations are thread-safe.
#ifndef KMSFS_FS_CORE_NAME_MAPPER_H_
#define KMSFS_FS_CORE_NAME_MAPPER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "fs/core/inode_table.h"

namespace kmsfs::core {

// A name as the backing directory holds it.
struct BackingName {
  std::string name;     // the entry's name in the backing directory
  std::string sidecar;  // non-empty: a file beside it that holds `encoded`
  std::string encoded;  // what the sidecar holds
};

class NameMapper {
 public:
  virtual ~NameMapper() = default;
  // The backing name of `name` in the directory `dir`. kNotFound for a name
  // the plaintext tree cannot hold (the volume's own files at the root):
  // a lookup answers ENOENT, a create EPERM.
  virtual StatusOr<BackingName> ToBacking(const Inode& dir, std::string_view name) = 0;
  // The plaintext name of the backing entry `backing` of `dir`, or nullopt
  // when the entry is not part of the plaintext tree (the volume's own files,
  // a name that fails to authenticate: skipped in listings).
  virtual std::optional<std::string> FromBacking(const Inode& dir, std::string_view backing) = 0;

  // Before an entry named `name` is made in `dir` (a long name's sidecar).
  virtual Status BeforeCreate(const Inode& dir, const BackingName& name) = 0;
  // After `name` left `dir`, or a create of it failed.
  virtual void AfterRemove(const Inode& dir, const BackingName& name) = 0;
  // Makes the directory `name` in `dir` (with whatever value it needs, so
  // that no crash leaves a directory without it).
  virtual Status MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) = 0;
  // Removes the directory `name` of `dir` (rmdir: ENOTEMPTY unless it holds
  // nothing of the tree). Default: unlinkat(AT_REMOVEDIR).
  virtual Status RemoveDirectory(const Inode& dir, const BackingName& name);
  // renameat2 of `from` in `from_dir` to `to` in `to_dir` with `flags`.
  // Default: exactly that.
  virtual Status Rename(const Inode& from_dir, const BackingName& from, const Inode& to_dir, const BackingName& to,
                        unsigned int flags);

  // What a symlink holds for `target`, and back.
  virtual StatusOr<std::string> ToBackingTarget(std::string_view target) = 0;
  virtual StatusOr<std::string> FromBackingTarget(std::string_view stored) = 0;
  // The last name of a symlink that held `stored` is gone.
  virtual void ReleaseTarget(std::string_view stored) = 0;
  // Whether targets are transformed at all (ReleaseTarget and TargetSizeOf
  // have work to do; else the tree skips them).
  virtual bool keeps_targets() const = 0;
  // The plaintext target length of the symlink `fd` (O_PATH) whose own size
  // is `stored_size`, without decrypting it.
  virtual uint64_t TargetSizeOf(int fd, uint64_t stored_size) = 0;
};

// Names stored as they are (`kmsfs init --plaintext-names` and format v1
// volumes); only the volume's own files at the root are kept out of the tree.
class PlaintextNames : public NameMapper {
 public:
  StatusOr<BackingName> ToBacking(const Inode& dir, std::string_view name) override;
  std::optional<std::string> FromBacking(const Inode& dir, std::string_view backing) override;
  Status BeforeCreate(const Inode&, const BackingName&) override { return Status::Ok(); }
  void AfterRemove(const Inode&, const BackingName&) override {}
  Status MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) override;
  StatusOr<std::string> ToBackingTarget(std::string_view target) override { return std::string(target); }
  StatusOr<std::string> FromBackingTarget(std::string_view stored) override { return std::string(stored); }
  void ReleaseTarget(std::string_view) override {}
  bool keeps_targets() const override { return false; }
  uint64_t TargetSizeOf(int, uint64_t stored_size) override { return stored_size; }
};

// Whether `name` at the backing root is one of the volume's own files
// (.kmsfs.json and the temporary files its atomic replacement uses).
bool IsVolumeFileName(std::string_view name);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_NAME_MAPPER_H_
