// DirValueStore: where the backing directories of a volume with encrypted
// names keep their name values (format::DirValue, docs/FORMAT.md §10), chosen
// by the config's header mode:
//   - xattr volumes: the directory's own `user.kmsfs` xattr;
//   - inline volumes, which must work where there are no user xattrs at all:
//     a file format::kDirValueFileName (".kmsfs.dir") inside the directory,
//     holding the same bytes (docs/FORMAT.md §13).
// Either way a new directory gets its value before it gets its name
// (EncryptedNames::MakeDirectory), so a named directory never lacks one.
//
// Thread-safety: implementations are stateless and thread-safe.
#ifndef KMSFS_FS_CORE_DIR_VALUES_H_
#define KMSFS_FS_CORE_DIR_VALUES_H_

#include <memory>

#include "base/status.h"
#include "fs/format/name_codec.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

class DirValueStore {
 public:
  virtual ~DirValueStore() = default;
  // The value of the backing directory `dir_fd` (any descriptor of it, O_PATH
  // included). kDataLoss naming the fault when it is missing or malformed.
  virtual StatusOr<format::DirValue> Read(int dir_fd) const = 0;
  // Gives the directory `dir_fd` `value`, durably; never replaces a value
  // it already has (that fails).
  virtual Status WriteNew(int dir_fd, const format::DirValue& value) const = 0;
  // Takes back a value WriteNew gave a directory that nothing was named
  // under yet (a step after it failed), best effort.
  virtual void RemoveUnused(int dir_fd) const = 0;
  // The entry each directory keeps its value in, or nullptr when the value
  // is no entry at all (xattr). Such an entry is not part of the plaintext
  // tree, and a directory holding only it is empty.
  virtual const char* file_name() const = 0;
};

// The store of a volume whose config says `mode`.
std::unique_ptr<DirValueStore> DirValueStoreFor(format::HeaderMode mode);

// The xattr store's calls, for code that knows the volume is an xattr one.
StatusOr<format::DirValue> ReadDirValue(int dir_fd);
// A fresh random value for the directory `dir_fd` (XATTR_CREATE).
Status WriteNewDirValue(int dir_fd);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_DIR_VALUES_H_
