// OpenFileTable: one CryptFile per backing inode while any handle holds it,
// shared by every open of every name of the file, so concurrent writers
// through different handles serialise on one content lock and never lose an
// update to a shared block (as gocryptfs's openfiletable).
//
// Open reads the file's header from the backing file every time (one xattr
// read, or one 512-byte read of an inline region): an object already open is shared only while its header is still the
// one on disk, and a header changed behind the mount (a rewrap, a planted
// header) is checked again before any key is used. Create makes the backing
// file nameless (O_TMPFILE) with its header in place and only then links it
// under its name, so no crash leaves a named file without a header.
//
// Thread-safety: thread-safe. Lock order: the table's mutex is never held
// while a CryptFile lock is taken, nor across a KMS call.
#ifndef KMSFS_FS_CORE_OPEN_FILE_TABLE_H_
#define KMSFS_FS_CORE_OPEN_FILE_TABLE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/crypt_file.h"
#include "fs/core/header_io.h"
#include "fs/core/key_service.h"
#include "fs/format/file_header.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

// Who a new node belongs to: (-1, -1) leaves the daemon's own.
struct Owner {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool any() const { return uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1); }
};

struct CreatedFile {
  UniqueFd path_fd;  // O_PATH descriptor of the new file, for the inode table
  struct stat st {};
  std::shared_ptr<CryptFile> file;
};

class OpenFileTable {
 public:
  // `header_mode`: where the volume keeps file headers (its config's "header").
  explicit OpenFileTable(KeyService* keys, format::HeaderMode header_mode = format::HeaderMode::kXattr)
      : keys_(keys), header_mode_(header_mode) {}
  OpenFileTable(const OpenFileTable&) = delete;
  OpenFileTable& operator=(const OpenFileTable&) = delete;

  // Opens the regular file reached by `proc_path` (an inode's /proc/self/fd
  // path). `for_write`: the caller will write, so a backing file that cannot
  // be written fails here rather than at the first write. Header missing or
  // foreign -> kDataLoss; KMS refusal -> kPermissionDenied; KMS down ->
  // kUnavailable.
  // `on_key_miss`, if given, runs when the key is not cached, before the KMS is asked.
  StatusOr<std::shared_ptr<CryptFile>> Open(const std::string& proc_path, bool for_write,
                                            const std::function<void()>& on_key_miss = nullptr);
  // Creates `name` (one component) in the directory `dir_fd` with `mode`,
  // owned by `owner`. kAlreadyExists if the name exists.
  StatusOr<CreatedFile> Create(int dir_fd, const std::string& name, mode_t mode, Owner owner);

  // Forgets inodes whose object no handle holds any more; the mount's tick.
  void Sweep();
  uint64_t open_files() const;
  bool read_only() const { return keys_->read_only(); }

 private:
  using Id = std::pair<dev_t, ino_t>;
  // Shares the object open for `st`'s inode if its header is `header`, else
  // registers `file` as that inode's object.
  std::shared_ptr<CryptFile> ShareOrRegister(const struct stat& st, std::shared_ptr<CryptFile> file);
  std::shared_ptr<CryptFile> FindSharing(const struct stat& st, const format::FileHeader& header);

  KeyService* const keys_;
  const format::HeaderMode header_mode_;
  mutable Mutex mu_;
  std::map<Id, std::weak_ptr<CryptFile>> files_ KMSFS_GUARDED_BY(mu_);
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_OPEN_FILE_TABLE_H_
