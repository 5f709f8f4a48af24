#include "base/unique_fd.h"

#include <unistd.h>

#include <cerrno>

namespace kmsfs {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);  // close errors on a read-only cleanup path carry nothing useful
  fd_ = fd;
}

StatusOr<size_t> PreadFull(int fd, void* buf, size_t len, off_t offset) {
  size_t done = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (done < len) {
    ssize_t n = ::pread(fd, p + done, len - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "pread");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status PwriteFull(int fd, const void* buf, size_t len, off_t offset) {
  size_t done = 0;
  const auto* p = static_cast<const uint8_t*>(buf);
  while (done < len) {
    ssize_t n = ::pwrite(fd, p + done, len - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "pwrite");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace kmsfs
