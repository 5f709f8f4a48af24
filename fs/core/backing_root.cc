#include "fs/core/backing_root.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>

namespace kmsfs::core {
namespace {

Status Moved(const std::string& path) {
  return Status::FailedPrecondition(path + " changed while kmsfs was using it (a symlink or another directory now "
                                           "stands on its path): nothing was written through the new path");
}

}  // namespace

StatusOr<UniqueFd> OpenBackingRoot(const std::string& absolute_path) {
  if (absolute_path.empty() || absolute_path[0] != '/') {
    return Status::InvalidArgument("backing directory " + absolute_path + " is not an absolute path");
  }
  UniqueFd dir(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno(errno, "open /");
  size_t pos = 1;
  while (pos < absolute_path.size()) {
    size_t end = absolute_path.find('/', pos);
    if (end == std::string::npos) end = absolute_path.size();
    const std::string name = absolute_path.substr(pos, end - pos);
    pos = end + 1;
    if (name.empty()) continue;
    if (name == "." || name == "..") {
      return Status::InvalidArgument("backing directory " + absolute_path + " is not a resolved path");
    }
    UniqueFd next(openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      // A symlink answers ENOTDIR with O_DIRECTORY|O_NOFOLLOW (ELOOP without).
      if (errno == ENOTDIR || errno == ELOOP) return Moved(absolute_path);
      return Status::FromErrno(errno, "open " + absolute_path);
    }
    dir = std::move(next);
  }
  // The descriptor commands use: readable (listing, fsync), not O_PATH.
  UniqueFd root(openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Status::FromErrno(errno, "open " + absolute_path);
  return root;
}

Status CheckBackingRootAt(const std::string& absolute_path, int root_fd) {
  struct stat by_path, by_fd;
  if (fstat(root_fd, &by_fd) != 0) return Status::FromErrno(errno, "stat " + absolute_path);
  auto now = OpenBackingRoot(absolute_path);
  if (!now.ok()) return Moved(absolute_path);
  if (fstat(now->get(), &by_path) != 0) return Status::FromErrno(errno, "stat " + absolute_path);
  if (by_path.st_dev != by_fd.st_dev || by_path.st_ino != by_fd.st_ino) return Moved(absolute_path);
  return Status::Ok();
}

StatusOr<BackingRoot> ResolveBackingRoot(const std::string& given) {
  char real[PATH_MAX];
  if (realpath(given.c_str(), real) == nullptr) {
    if (errno == ENOENT) return Status::InvalidArgument("backing directory " + given + " does not exist");
    return Status::FromErrno(errno, "resolve " + given);
  }
  BackingRoot root{real, UniqueFd()};
  KMSFS_ASSIGN_OR_RETURN(root.fd, OpenBackingRoot(root.path));
  return root;
}

StatusOr<UniqueFd> DupBackingRoot(int root_fd) {
  const int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "duplicate the backing directory's descriptor");
  return UniqueFd(fd);
}

}  // namespace kmsfs::core
