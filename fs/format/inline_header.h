// The inline header region: where a volume made with `kmsfs init --header
// inline` ("header": "inline" in .kmsfs.json) keeps each regular file's
// header, so that the volume survives copy tools and backends that drop or
// lack extended attributes (rsync without -X, tar without --xattrs, object
// stores, SMB). Byte layout and worked example: docs/FORMAT.md §12.
//
// Layout: the first kInlineRegionSize (512) bytes of the backing file,
//   length u16 (big-endian, n = 1 .. 510) | FileHeader version 2 (n bytes)
//   | 512 - 2 - n zero bytes
// and the sealed blocks follow at offset 512 (format::Geometry::data_offset),
// so the plaintext size still follows from the backing size alone.
//
// Why 512: the region is a fixed size so that sizes need no read, and it is
// the smallest sector-sized region that holds the largest header a volume
// meets: a 255-byte key id (the most a header allows) and the cloud KMS's
// 188-byte wrapped DEK take 31 + 255 + 188 = 474 bytes, 476 with the length.
// Bigger would cost every small file a second 4 KiB block on ext4 for no
// header that exists. A header that does not fit (a KMS with far longer
// ciphertexts) is refused when it is made, never cut.
//
// Decoding is strict: a region that is short, holds a length outside
// 1 .. 510, a header that does not decode (or is not version 2), or any
// non-zero byte in the padding is kDataLoss naming the fault; a region that
// decodes is canonical (encoding its header again gives the same bytes).
//
// Thread-safety: pure functions.
#ifndef KMSFS_FS_FORMAT_INLINE_HEADER_H_
#define KMSFS_FS_FORMAT_INLINE_HEADER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "fs/format/file_header.h"

namespace kmsfs::format {

inline constexpr uint32_t kInlineRegionSize = 512;
inline constexpr size_t kInlineLengthSize = 2;
inline constexpr size_t kMaxInlineHeaderSize = kInlineRegionSize - kInlineLengthSize;

// The region holding `header` (exactly kInlineRegionSize bytes).
// kInvalidArgument for a header that fails Validate(), is not version 2, or
// whose encoding is longer than kMaxInlineHeaderSize.
StatusOr<std::vector<uint8_t>> EncodeInlineRegion(const FileHeader& header);
// The header held by `region`: the first bytes of a backing file, as many as
// were read (kInlineRegionSize when the file is long enough; fewer are a cut
// region, kDataLoss).
StatusOr<FileHeader> DecodeInlineRegion(std::span<const uint8_t> region);

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_INLINE_HEADER_H_
