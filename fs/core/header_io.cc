#include "fs/core/header_io.h"

#include <sys/xattr.h>

#include <cerrno>
#include <vector>

#include "base/unique_fd.h"
#include "fs/format/inline_header.h"

namespace kmsfs::core {
namespace {

StatusOr<std::optional<format::FileHeader>> ReadXattrHeader(int fd) {
  std::vector<uint8_t> buf(format::FileHeader::kMaxEncodedSize);
  const ssize_t n = fgetxattr(fd, format::kHeaderXattrName, buf.data(), buf.size());
  if (n < 0) {
    if (errno == ENODATA) return std::optional<format::FileHeader>();
    if (errno == ERANGE) return Status::DataLoss("header (xattr user.kmsfs) is too large");
    if (errno == ENOTSUP) return Status::DataLoss("header (xattr user.kmsfs) cannot be read: the backing filesystem has no user xattrs");
    return Status::FromErrno(errno, "read header xattr");
  }
  buf.resize(static_cast<size_t>(n));
  KMSFS_ASSIGN_OR_RETURN(format::FileHeader header, format::FileHeader::Decode(buf));
  return std::optional<format::FileHeader>(std::move(header));
}

StatusOr<std::optional<format::FileHeader>> ReadInlineHeader(int fd) {
  std::vector<uint8_t> region(format::kInlineRegionSize);
  KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd, region.data(), region.size(), 0));
  if (n == 0) return std::optional<format::FileHeader>();
  KMSFS_ASSIGN_OR_RETURN(format::FileHeader header, format::DecodeInlineRegion({region.data(), n}));
  return std::optional<format::FileHeader>(std::move(header));
}

}  // namespace

uint32_t DataOffset(format::HeaderMode mode) {
  return mode == format::HeaderMode::kInline ? format::kInlineRegionSize : 0;
}

StatusOr<std::optional<format::FileHeader>> ReadFileHeaderIfPresent(int fd, format::HeaderMode mode) {
  return mode == format::HeaderMode::kInline ? ReadInlineHeader(fd) : ReadXattrHeader(fd);
}

StatusOr<format::FileHeader> ReadFileHeader(int fd, format::HeaderMode mode) {
  KMSFS_ASSIGN_OR_RETURN(std::optional<format::FileHeader> header, ReadFileHeaderIfPresent(fd, mode));
  if (!header) {
    return Status::DataLoss(mode == format::HeaderMode::kInline
                                ? "inline header region is missing (the backing file is empty)"
                                : "header (xattr user.kmsfs) is missing");
  }
  return std::move(*header);
}

Status WriteFileHeader(int fd, const format::FileHeader& header, format::HeaderMode mode) {
  if (mode == format::HeaderMode::kXattr) return WriteFileHeader(fd, header, false);
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> region, format::EncodeInlineRegion(header));
  return PwriteFull(fd, region.data(), region.size(), 0).Annotate("write inline header region");
}

StatusOr<format::FileHeader> ReadFileHeader(int fd) { return ReadFileHeader(fd, format::HeaderMode::kXattr); }

Status WriteFileHeader(int fd, const format::FileHeader& header, bool create_only) {
  // A wrapped key the KMS returned malformed must not become an empty header.
  KMSFS_RETURN_IF_ERROR(header.Validate());
  const std::vector<uint8_t> encoded = header.Encode();
  if (fsetxattr(fd, format::kHeaderXattrName, encoded.data(), encoded.size(), create_only ? XATTR_CREATE : 0) != 0) {
    if (errno == ENOTSUP) return Status::FromErrno(errno, "backing filesystem has no user xattrs: write header");
    return Status::FromErrno(errno, "write header");
  }
  return Status::Ok();
}

}  // namespace kmsfs::core
