// Saving and restoring the extended attributes an xattr-header volume cannot
// live without: every regular file's header and, with encrypted names, every
// directory's name value (`kmsfs headers export` / `kmsfs headers import`;
// the file: format/headers_file.h).
//
// Export walks the backing tree by descriptor (never following a symlink,
// never leaving the tree), skipping what is not part of the plaintext tree
// (the volume's own files, long-name sidecars, temporaries), and needs no KMS:
// it copies what is there.
//
// Import restores only what is missing and only what it can prove belongs:
//  - a path is opened one component at a time from the backing root with
//    O_NOFOLLOW, so a hostile export cannot reach outside the tree;
//  - an existing header or value is never replaced: the same one counts as
//    already there, another one is a problem (the file or directory there is
//    not the one exported);
//  - a file header must name the volume's key, suite and block size, and its
//    DEK (unwrapped through the KMS) must open the file's first and last
//    blocks, which carry its file id in their AD: a header is never put on a
//    file whose data it does not open;
//  - a directory value must decrypt the directory's names (when it has any).
//
// Thread-safety: HeaderImporter::ImportFile may run on several threads at
// once; ImportDirectory and report() are thread-safe too.
#ifndef KMSFS_FS_CORE_HEADER_BACKUP_H_
#define KMSFS_FS_CORE_HEADER_BACKUP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/key_service.h"
#include "fs/core/volume_access.h"
#include "fs/format/headers_file.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

struct ExportSummary {
  uint64_t files = 0;        // headers written to the export
  uint64_t directories = 0;  // directory values written
  // Entries that had nothing to export (no header, a malformed one, no
  // directory value), each "path: why".
  std::vector<std::string> missing;
};

// Writes the export of the volume in `backing_dir` (whose config is
// `config`, an xattr-header volume) line by line through `write`.
// kFailedPrecondition for an inline-header volume (its headers travel with
// its files). Fails only when the walk or `write` cannot go on.
Status ExportHeaders(const std::string& backing_dir, const format::VolumeConfig& config,
                     const std::function<Status(std::string_view line)>& write, ExportSummary* summary);

struct ImportSummary {
  uint64_t files_restored = 0;
  uint64_t directories_restored = 0;
  uint64_t already_there = 0;
  uint64_t not_in_copy = 0;  // exported paths the backing directory does not have
  bool kms_unreachable = false;
  std::vector<std::string> problems;  // "path: why", nothing written for them
};

class HeaderImporter {
 public:
  // `volume` from UnlockVolume (an xattr-header volume); `envelope` unwraps DEKs.
  static StatusOr<std::unique_ptr<HeaderImporter>> New(const UnlockedVolume& volume,
                                                       Envelope envelope);
  // The export's first line must be this volume's (kFailedPrecondition
  // otherwise, naming both).
  Status CheckExportIsOfThisVolume(const format::HeadersFileInfo& info) const;
  void ImportDirectory(const format::ExportedEntry& entry);
  void ImportFile(const format::ExportedEntry& entry);
  ImportSummary summary() const;

 private:
  HeaderImporter(const UnlockedVolume& volume, UniqueFd root);
  // Opens `path` under the root, every component without following links:
  // a directory (O_RDONLY) or a regular file (O_RDONLY, O_NONBLOCK).
  // kNotFound when something on the way is missing.
  StatusOr<UniqueFd> OpenUnderRoot(const std::string& path, bool directory) const;
  // Whether `value` decrypts the names in the directory `dir_fd` (true when
  // it has none to try).
  bool ValueFitsNames(int dir_fd, const format::DirValue& value) const;
  // Whether `header`'s DEK opens the first and last blocks of the file `fd`.
  Status HeaderOpensData(int fd, const format::FileHeader& header);
  void Problem(const std::string& path, const std::string& why);
  void Count(uint64_t ImportSummary::*counter);

  const format::VolumeConfig config_;
  // The volume's key and a rewrap target only if this user's pin trusts it
  // (a target named by the config alone is anyone's who can write it).
  const std::vector<std::string> accepted_keys_;
  const UniqueFd root_;
  std::unique_ptr<format::NameCodec> names_;  // null for plaintext names
  std::unique_ptr<KeyService> keys_;
  mutable Mutex mu_;
  ImportSummary summary_ KMSFS_GUARDED_BY(mu_);
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_HEADER_BACKUP_H_
