#include "fs/core/listed_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/logging.h"

namespace kmsfs::core {
namespace {

// A name the listing may hand over but that is not a plain entry of the directory.
bool IsPlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// The file went away or changed kind between the listing and now.
bool IsGoneOrReplaced(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

}  // namespace

StatusOr<UniqueFd> OpenListedRegularFile(int dir_fd, const std::string& name) {
  if (!IsPlainName(name)) return UniqueFd();
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (IsGoneOrReplaced(errno)) return UniqueFd();
    return Status::FromErrno(errno, "stat " + name);
  }
  if (!S_ISREG(st.st_mode)) return UniqueFd();
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  int raw_fd = openat(dir_fd, name.c_str(), kFlags | O_NOATIME);
  if (raw_fd < 0 && errno == EPERM) raw_fd = openat(dir_fd, name.c_str(), kFlags);
  if (raw_fd < 0) {
    if (IsGoneOrReplaced(errno)) return UniqueFd();
    return Status::FromErrno(errno, "open " + name);
  }
  UniqueFd fd(raw_fd);
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "fstat " + name);
  if (!S_ISREG(st.st_mode)) return UniqueFd();  // replaced since the fstatat
  return fd;
}

UniqueFd DupDirectoryFd(int dir_fd) {
  int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) KMSFS_LOG(kDebug) << "dup of a listed directory's fd failed: " << std::strerror(errno);
  return UniqueFd(fd);
}

}  // namespace kmsfs::core
