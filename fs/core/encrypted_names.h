// EncryptedNames: the NameMapper of volumes whose names and symlink targets
// are encrypted (format v2 "names": "encrypted"; the codec is
// format::NameCodec, the layout docs/FORMAT.md §10).
//
// Per directory: its value (16 random bytes) lives where the volume's
// DirValueStore keeps it (the backing directory's own `user.kmsfs` xattr, or
// for inline-header volumes a ".kmsfs.dir" file inside it), set before the
// directory gets its name (made under a temporary name, then renamed into
// place), so a crash never leaves a named directory without one. A value is
// read once per directory node (kept with the node); a missing or malformed
// value fails every name operation in that directory with EIO.
//
// With value files, a directory holding only its value file is empty: rmdir
// moves it to a temporary name, removes the file, then the directory; a
// rename onto such a directory first moves it aside the same way (a crash
// in between leaves a "kmsfs.tmp." directory that fsck reports, never a
// named directory without its value).
//
// Long names get a sidecar file beside them ("<stored>.name", the encoded
// name), written before the entry and removed after it. Entries that are not
// names of the tree (the volume's files, sidecars, temporaries) are skipped
// silently in listings; names that fail to authenticate are skipped with one
// log line each.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_FS_CORE_ENCRYPTED_NAMES_H_
#define KMSFS_FS_CORE_ENCRYPTED_NAMES_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "base/mutex.h"
#include "fs/core/dir_values.h"
#include "fs/core/name_mapper.h"
#include "fs/format/name_codec.h"

namespace kmsfs::core {

class EncryptedNames : public NameMapper {
 public:
  // `root` is the backing root (O_PATH), for the target store; `values`
  // where directory values live (default: the xattr).
  EncryptedNames(std::unique_ptr<format::NameCodec> codec, int root_fd,
                 std::unique_ptr<DirValueStore> values = DirValueStoreFor(format::HeaderMode::kXattr));

  StatusOr<BackingName> ToBacking(const Inode& dir, std::string_view name) override;
  std::optional<std::string> FromBacking(const Inode& dir, std::string_view backing) override;
  Status BeforeCreate(const Inode& dir, const BackingName& name) override;
  void AfterRemove(const Inode& dir, const BackingName& name) override;
  Status MakeDirectory(const Inode& dir, const BackingName& name, mode_t mode) override;
  Status RemoveDirectory(const Inode& dir, const BackingName& name) override;
  Status Rename(const Inode& from_dir, const BackingName& from, const Inode& to_dir, const BackingName& to,
                unsigned int flags) override;
  StatusOr<std::string> ToBackingTarget(std::string_view target) override;
  StatusOr<std::string> FromBackingTarget(std::string_view stored) override;
  void ReleaseTarget(std::string_view stored) override;
  bool keeps_targets() const override { return true; }
  uint64_t TargetSizeOf(int fd, uint64_t stored_size) override;

 private:
  StatusOr<format::DirValue> DirValueOf(const Inode& dir);
  // Logs a name of `dir` that fails to authenticate, once per name.
  void LogSkipped(const Inode& dir, std::string_view backing, const Status& why);

  // Moves the directory `name` of `dir_fd` to a fresh temporary name if it
  // holds nothing but its value file; its temporary name, kIoError ENOTEMPTY
  // otherwise.
  StatusOr<std::string> MoveAsideIfEmpty(int dir_fd, const std::string& name);
  // Removes the temporary directory `temp` of `dir_fd` and its value file.
  Status RemoveAside(int dir_fd, const std::string& temp);

  const std::unique_ptr<format::NameCodec> codec_;
  const int root_fd_;
  const std::unique_ptr<DirValueStore> values_;
  Mutex mu_;
  std::set<std::string> logged_ KMSFS_GUARDED_BY(mu_);
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_ENCRYPTED_NAMES_H_
