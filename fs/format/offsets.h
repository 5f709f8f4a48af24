// Pure size and offset arithmetic between the plaintext view and the backing
// file. A backing file is `data_offset` bytes of header region (inline-header
// volumes; none with xattr headers) followed by a sequence of sealed blocks;
// every block but the last holds block_size plaintext bytes; a block is
// stored as nonce||ct||tag. Worked examples: docs/FORMAT.md "Size math" and
// "Inline headers". Sizes are meaningful up to 2^63 bytes (BackingSize does
// not check for overflow beyond that).
//
// Thread-safety: pure functions.
#ifndef KMSFS_FS_FORMAT_OFFSETS_H_
#define KMSFS_FS_FORMAT_OFFSETS_H_

#include <cstdint>

#include "base/status.h"

namespace kmsfs::format {

// Plaintext block sizes allowed in headers and .kmsfs.json: powers of two
// from 512 bytes to 1 MiB. Default 4096.
inline constexpr uint32_t kMinBlockSize = 512;
inline constexpr uint32_t kMaxBlockSize = 1u << 20;
inline constexpr uint32_t kDefaultBlockSize = 4096;
inline constexpr bool IsValidBlockSize(uint32_t n) {
  return n >= kMinBlockSize && n <= kMaxBlockSize && (n & (n - 1)) == 0;
}

struct Geometry {
  uint32_t block_size;  // plaintext bytes per block
  uint32_t overhead;    // nonce + tag bytes per block
  // Bytes of the backing file before block 0: the inline header region
  // (inline_header.h) of inline-header volumes, 0 with xattr headers.
  uint32_t data_offset = 0;
  uint64_t sealed_block_size() const { return uint64_t{block_size} + overhead; }
};

// Plaintext size of a backing file of `backing_size` bytes. A trailing partial
// block of overhead bytes or fewer cannot exist, nor a file shorter than its
// header region: kDataLoss, never a guess. For checking a file (fsck); what a
// reader sees is VisiblePlainSize.
StatusOr<uint64_t> PlainSize(uint64_t backing_size, const Geometry& g);
// The size stat reports and reads stop at (docs/FORMAT.md §5); needs no key
// and never fails. Equal to PlainSize where that succeeds. A trailing piece of
// 1..overhead bytes (a file cut inside a block's nonce or tag) counts as one
// plaintext byte: the intact blocks keep their size and a reader that reads
// to the end reaches the damaged block and gets EIO there, instead of seeing
// an empty or silently shorter file. A file shorter than its header region
// shows as empty (opening it fails: its header is cut).
uint64_t VisiblePlainSize(uint64_t backing_size, const Geometry& g);
// The backing file's size for `plain_size` plaintext bytes: the header region
// and the sealed blocks.
uint64_t BackingSize(uint64_t plain_size, const Geometry& g);
// The sealed length of `plain_len` plaintext bytes that start at a block
// boundary: what a run of blocks takes, wherever it is stored.
uint64_t SealedSize(uint64_t plain_len, const Geometry& g);
// Index of the block holding plaintext offset `offset`.
inline uint64_t BlockIndex(uint64_t offset, const Geometry& g) { return offset / g.block_size; }
inline uint32_t OffsetInBlock(uint64_t offset, const Geometry& g) {
  return static_cast<uint32_t>(offset % g.block_size);
}
// Where block `block` starts in the backing file.
inline uint64_t BackingOffset(uint64_t block, const Geometry& g) {
  return g.data_offset + block * g.sealed_block_size();
}
// Number of blocks needed for `plain_size` bytes.
inline uint64_t BlockCount(uint64_t plain_size, const Geometry& g) {
  return (plain_size + g.block_size - 1) / g.block_size;
}

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_OFFSETS_H_
