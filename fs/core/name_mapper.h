// NameMapper: how one name component of the plaintext tree is stored in the
// backing directory, and back. Every namespace operation passes exactly one
// component through it, with the directory it lives in, so a per-directory
// name transform (encrypted names) belongs here and nowhere else.
//
// Thread-safety: implementations are thread-safe.
#ifndef KMSFS_FS_CORE_NAME_MAPPER_H_
#define KMSFS_FS_CORE_NAME_MAPPER_H_

#include <optional>
#include <string>
#include <string_view>

#include "fs/base/status.h"
#include "fs/core/inode_table.h"

namespace kmsfs::core {

class NameMapper {
 public:
  virtual ~NameMapper() = default;
  // The backing name of `name` in the directory `dir`. kNotFound for a name
  // the plaintext tree cannot hold (the volume's own files at the root):
  // a lookup answers ENOENT, a create EPERM.
  virtual StatusOr<std::string> ToBacking(const Inode& dir, std::string_view name) = 0;
  // The plaintext name of the backing entry `backing` of `dir`, or nullopt
  // when the entry is not part of the plaintext tree (the volume's own files,
  // a name that fails to authenticate: skipped in listings).
  virtual std::optional<std::string> FromBacking(const Inode& dir, std::string_view backing) = 0;
};

// Names stored as they are (`kmsfs init --plaintext-names` and format v1
// volumes); only the volume's own files at the root are kept out of the tree.
class PlaintextNames : public NameMapper {
 public:
  StatusOr<std::string> ToBacking(const Inode& dir, std::string_view name) override;
  std::optional<std::string> FromBacking(const Inode& dir, std::string_view backing) override;
};

// Whether `name` at the backing root is one of the volume's own files
// (.kmsfs.json and the temporary files its atomic replacement uses).
bool IsVolumeFileName(std::string_view name);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_NAME_MAPPER_H_
