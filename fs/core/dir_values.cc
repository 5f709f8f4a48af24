#include "fs/core/dir_values.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "crypto/random.h"

namespace kmsfs::core {
namespace {

// O_PATH descriptors take no f*xattr calls; their /proc link does.
std::string ProcPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

class XattrDirValues final : public DirValueStore {
 public:
  StatusOr<format::DirValue> Read(int dir_fd) const override {
    uint8_t buf[format::kDirValueXattrSize + 1];
    const ssize_t n = getxattr(ProcPath(dir_fd).c_str(), format::kHeaderXattrName, buf, sizeof buf);
    if (n < 0) {
      if (errno == ENODATA) return Status::DataLoss("directory has no name value (xattr user.kmsfs)");
      if (errno == ERANGE) return Status::DataLoss("directory name value is too large");
      return Status::FromErrno(errno, "read directory name value");
    }
    return format::DecodeDirValue({buf, static_cast<size_t>(n)});
  }

  Status WriteNew(int dir_fd, const format::DirValue& value) const override {
    const std::vector<uint8_t> encoded = format::EncodeDirValue(value);
    if (setxattr(ProcPath(dir_fd).c_str(), format::kHeaderXattrName, encoded.data(), encoded.size(),
                 XATTR_CREATE) != 0) {
      return Status::FromErrno(errno, "set directory name value");
    }
    return Status::Ok();
  }

  void RemoveUnused(int dir_fd) const override {
    removexattr(ProcPath(dir_fd).c_str(), format::kHeaderXattrName);
  }

  const char* file_name() const override { return nullptr; }
};

class FileDirValues final : public DirValueStore {
 public:
  StatusOr<format::DirValue> Read(int dir_fd) const override {
    // Never a symlink followed, never a FIFO waited on.
    UniqueFd fd(openat(dir_fd, format::kDirValueFileName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) return Status::DataLoss(std::string("directory has no name value (") +
                                                   format::kDirValueFileName + " is missing)");
      return Status::FromErrno(errno, std::string("open ") + format::kDirValueFileName);
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, std::string("stat ") + format::kDirValueFileName);
    if (!S_ISREG(st.st_mode)) return Status::DataLoss(std::string(format::kDirValueFileName) + " is not a regular file");
    uint8_t buf[format::kDirValueXattrSize + 1];
    KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), buf, sizeof buf, 0));
    return format::DecodeDirValue({buf, n});
  }

  Status WriteNew(int dir_fd, const format::DirValue& value) const override {
    UniqueFd fd(openat(dir_fd, format::kDirValueFileName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
    if (!fd.valid()) return Status::FromErrno(errno, "create directory name value");
    const std::vector<uint8_t> encoded = format::EncodeDirValue(value);
    Status s = PwriteFull(fd.get(), encoded.data(), encoded.size(), 0);
    // Durable before the directory gets its name: a crash must not leave a
    // named directory whose value file is empty.
    if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync directory name value");
    if (!s.ok()) unlinkat(dir_fd, format::kDirValueFileName, 0);
    return s.Annotate("write directory name value");
  }

  void RemoveUnused(int dir_fd) const override { unlinkat(dir_fd, format::kDirValueFileName, 0); }

  const char* file_name() const override { return format::kDirValueFileName; }
};

}  // namespace

std::unique_ptr<DirValueStore> DirValueStoreFor(format::HeaderMode mode) {
  if (mode == format::HeaderMode::kInline) return std::make_unique<FileDirValues>();
  return std::make_unique<XattrDirValues>();
}

StatusOr<format::DirValue> ReadDirValue(int dir_fd) { return XattrDirValues().Read(dir_fd); }

Status WriteNewDirValue(int dir_fd) {
  format::DirValue value;
  crypto::RandomBytes(value);
  return XattrDirValues().WriteNew(dir_fd, value);
}

}  // namespace kmsfs::core
