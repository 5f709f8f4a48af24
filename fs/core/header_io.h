// Reading and writing a regular backing file's header where its volume keeps
// it (the config's "header" field): the `user.kmsfs` extended attribute
// (format::HeaderMode::kXattr, docs/FORMAT.md §3), or the inline region at
// the start of the file's data (kInline, format/inline_header.h).
//
// Either way a header is replaced in one system call: one xattr write, or one
// 512-byte pwrite at offset 0, so a reader sees the old or the new header.
//
// Thread-safety: free functions; safe to call concurrently on different
// files (and on one file, with the atomicity above).
#ifndef KMSFS_FS_CORE_HEADER_IO_H_
#define KMSFS_FS_CORE_HEADER_IO_H_

#include <optional>

#include "base/status.h"
#include "fs/format/file_header.h"
#include "fs/format/offsets.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

// The header of the open backing file `fd`, or nullopt when it has none at
// all (no xattr; an empty file in an inline volume): what a copy tool that
// drops xattrs leaves behind. A header that is there but does not decode (or
// an inline region cut short) is kDataLoss.
StatusOr<std::optional<format::FileHeader>> ReadFileHeaderIfPresent(int fd, format::HeaderMode mode);
// The same, a missing header being kDataLoss too (EIO at the mount).
StatusOr<format::FileHeader> ReadFileHeader(int fd, format::HeaderMode mode);
// Writes (or replaces) the header of the open backing file `fd`. Inline: the
// region at offset 0, which a new file gets before any content.
Status WriteFileHeader(int fd, const format::FileHeader& header, format::HeaderMode mode);

// Bytes before block 0 in a backing file of a volume with `mode`.
uint32_t DataOffset(format::HeaderMode mode);

// The xattr forms, as before inline headers existed: ReadFileHeader(fd,
// kXattr), and a write that with `create_only` never replaces a header.
StatusOr<format::FileHeader> ReadFileHeader(int fd);
Status WriteFileHeader(int fd, const format::FileHeader& header, bool create_only);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_HEADER_IO_H_
