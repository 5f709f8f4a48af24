#include "fs/core/dir_entries.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kmsfs::core {

StatusOr<std::vector<std::string>> ListDirEntries(int fd) {
  const int copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return Status::FromErrno(errno, "open directory");
  DIR* d = fdopendir(copy);
  if (d == nullptr) {
    const Status s = Status::FromErrno(errno, "open directory");
    close(copy);
    return s;
  }
  std::vector<std::string> out;
  errno = 0;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
    errno = 0;
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return Status::FromErrno(err, "read directory");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kmsfs::core
