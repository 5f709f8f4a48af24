// VolumeCheck: what `kmsfs fsck` verifies, walking the backing tree with
// descriptors (never following a symlink, never leaving the tree).
//
// Walk() visits every backing directory and checks its names: the
// directory's name value (encrypted names), every name decrypts in the
// directory it is in, no two backing entries decrypt to one name, every long
// name has its sidecar and every sidecar its entry, every symlink target
// decrypts and every stored target is referenced. It lists the regular
// files; CheckFile (safe to run on several threads) then checks each one's
// header (in its xattr or inline region, as the volume keeps them): present
// (a missing xattr points to `kmsfs headers import`), well-formed, naming the volume's key (a foreign header is
// reported and never unwrapped: it must not make this user's credentials act
// on a key of someone else's choosing), unwrapping, and unless `quick`, every
// block through CryptFile, the mount's own read path.
//
// Each problem names the file (its plaintext path when the names decrypt, the
// backing path otherwise) and what is wrong.
//
// Thread-safety: Walk runs alone; CheckFile and problems() are thread-safe.
#ifndef KMSFS_FS_CORE_VOLUME_CHECK_H_
#define KMSFS_FS_CORE_VOLUME_CHECK_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/dir_values.h"
#include "fs/core/key_service.h"
#include "fs/core/volume_access.h"
#include "fs/format/name_codec.h"

namespace kmsfs::core {

struct FileToCheck {
  std::shared_ptr<UniqueFd> dir;  // the backing directory holding it
  std::string backing_name;       // its name there
  std::string path;               // for reports
};

class VolumeCheck {
 public:
  // `volume` from UnlockVolume; `envelope` is used for unwrapping only.
  static StatusOr<std::unique_ptr<VolumeCheck>> New(const UnlockedVolume& volume, Envelope envelope,
                                                    bool quick);

  // Checks names, directories, sidecars and symlinks; fills files().
  // Fails only when the walk itself cannot proceed (the root cannot be read).
  Status Walk();
  const std::vector<FileToCheck>& files() const { return files_; }
  // Checks one regular file (see above). A KMS that stops answering is
  // noted (kms_unreachable()), not reported as the file's problem.
  void CheckFile(const FileToCheck& file);

  std::vector<std::string> problems() const;
  bool kms_unreachable() const;

 private:
  VolumeCheck(const UnlockedVolume& volume, bool quick);
  void Problem(const std::string& path, const std::string& what);
  // One directory: its entries, and the subdirectories to visit next.
  void WalkDir(const std::shared_ptr<UniqueFd>& dir, const std::string& path, bool is_root,
               std::vector<std::pair<std::shared_ptr<UniqueFd>, std::string>>* subdirs,
               std::vector<std::string>* stored_targets);
  void CheckTargetStore(const std::vector<std::string>& referenced);

  const format::VolumeConfig config_;
  const std::string backing_dir_;  // for messages; the walk goes through root_
  std::shared_ptr<UniqueFd> root_;  // the directory the config was read from
  const bool quick_;
  const std::unique_ptr<DirValueStore> dir_values_;
  std::unique_ptr<format::NameCodec> names_;  // null for plaintext names
  std::unique_ptr<KeyService> keys_;
  std::vector<FileToCheck> files_;
  mutable Mutex mu_;
  std::vector<std::string> problems_ KMSFS_GUARDED_BY(mu_);
  bool kms_unreachable_ KMSFS_GUARDED_BY(mu_) = false;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_CHECK_H_
