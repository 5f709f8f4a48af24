// UniqueFd: RAII owner of a file descriptor, plus EINTR-safe full reads/writes.
#ifndef KMSFS_BASE_UNIQUE_FD_H_
#define KMSFS_BASE_UNIQUE_FD_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace kmsfs {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Reads up to `len` bytes at `offset`, retrying on EINTR and short reads;
// returns the byte count (less than len only at end of file).
StatusOr<size_t> PreadFull(int fd, void* buf, size_t len, off_t offset);
// Writes all `len` bytes at `offset`, retrying on EINTR and short writes.
Status PwriteFull(int fd, const void* buf, size_t len, off_t offset);

}  // namespace kmsfs

#endif  // KMSFS_BASE_UNIQUE_FD_H_
