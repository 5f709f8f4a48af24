#include "fs/core/backing_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace kmsfs::core {

StatusOr<size_t> PreadAll(BackingFile& file, std::span<uint8_t> out, uint64_t offset) {
  size_t done = 0;
  while (done < out.size()) {
    KMSFS_ASSIGN_OR_RETURN(size_t n, file.Pread(out.subspan(done), offset + done));
    if (n == 0) break;
    done += n;
  }
  return done;
}

Status PwriteAll(BackingFile& file, std::span<const uint8_t> data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    KMSFS_ASSIGN_OR_RETURN(size_t n, file.Pwrite(data.subspan(done), offset + done));
    done += n;
  }
  return Status::Ok();
}

StatusOr<size_t> FdBackingFile::Pread(std::span<uint8_t> out, uint64_t offset) {
  for (;;) {
    const ssize_t n = ::pread(fd_.get(), out.data(), out.size(), static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return Status::FromErrno(errno, "pread");
  }
}

StatusOr<size_t> FdBackingFile::Pwrite(std::span<const uint8_t> data, uint64_t offset) {
  if (data.empty()) return size_t{0};
  for (;;) {
    const ssize_t n = ::pwrite(fd_.get(), data.data(), data.size(), static_cast<off_t>(offset));
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return Status::FromErrno(EIO, "pwrite wrote nothing");
    if (errno != EINTR) return Status::FromErrno(errno, "pwrite");
  }
}

Status FdBackingFile::Reserve(uint64_t offset, uint64_t length) {
  if (length == 0) return Status::Ok();
  for (;;) {
    if (::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
      return Status::Ok();
    }
    if (errno == EOPNOTSUPP) return Status::Unimplemented("the backing filesystem cannot reserve space (fallocate)");
    if (errno != EINTR) return Status::FromErrno(errno, "reserve space (fallocate)");
  }
}

Status FdBackingFile::Truncate(uint64_t size) {
  for (;;) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) == 0) return Status::Ok();
    if (errno != EINTR) return Status::FromErrno(errno, "ftruncate");
  }
}

StatusOr<uint64_t> FdBackingFile::Size() {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return Status::FromErrno(errno, "fstat");
  return static_cast<uint64_t>(st.st_size);
}

Status FdBackingFile::Sync(bool datasync) {
  if ((datasync ? ::fdatasync(fd_.get()) : ::fsync(fd_.get())) != 0) {
    return Status::FromErrno(errno, datasync ? "fdatasync" : "fsync");
  }
  return Status::Ok();
}

}  // namespace kmsfs::core
