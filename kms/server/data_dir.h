// DataDir: kmsd's state directory (--data), trusted only when nobody but
// kmsd's user can have put or changed anything in it.
//
// Open() creates the directory (mode 0700, parents as needed) when it is
// missing, then refuses, with a message naming the path and the fix:
//   - a directory that is a symbolic link, or not a directory;
//   - a directory not owned by kmsd's effective user, or that group or others
//     may write (they could replace the database or the root key);
//   - any of kmsd's files in it (root.key, kmsd.db and its -wal/-shm/-journal,
//     admin.token, admin.password, audit.log) that is a symbolic link or not a
//     regular file, is not owned by kmsd's user, or that group or others may
//     read or write.
// Files kmsd writes there are created relative to the directory, never
// through a symbolic link (O_NOFOLLOW, O_EXCL), with mode 0600.
//
// Thread-safety: immutable after Open; safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_DATA_DIR_H_
#define KMSFS_KMS_SERVER_DATA_DIR_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"

namespace kmsfs::kms::server {

class DataDir {
 public:
  // The files Open() checks.
  static constexpr std::string_view kFiles[] = {"root.key",    "kmsd.db",        "kmsd.db-wal",
                                                "kmsd.db-shm", "kmsd.db-journal", "admin.token",
                                                "admin.password", "audit.log"};

  static StatusOr<DataDir> Open(const std::string& path);
  DataDir(DataDir&&) = default;
  DataDir& operator=(DataDir&&) = default;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

  // Replaces `name` with `content` atomically: a new file (O_EXCL, O_NOFOLLOW,
  // mode 0600) is written, synced and renamed over it.
  Status WritePrivateFile(std::string_view name, std::string_view content) const;

 private:
  DataDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_DATA_DIR_H_
