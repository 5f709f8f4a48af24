// CryptFile: plaintext reads, writes and truncation over one encrypted backing
// file. FUSE-free; the mount keeps one CryptFile per backing inode, shared by
// every handle open on it (hardlinks included).
//
// Plaintext size is derived from the backing size alone
// (format::VisiblePlainSize: a file cut inside a block reports that block as
// one byte, so reading to the end gives EIO there). In an inline-header
// volume the blocks start after the header region (`data_offset` bytes),
// which no CryptFile call ever writes, moves or cuts. Writes are
// read-modify-write at block granularity: the head and tail blocks a write
// only partly covers are opened, merged and re-sealed; a block that was the
// partial last block and is no longer last is padded with zeros and re-sealed
// full. Blocks a write skips over (sparse files) are left as holes.
//
// Failures lose nothing. Every change to the backing file (write, append,
// truncate, allocate) is one BackingEdit: if any step fails (ENOSPC, EIO, a
// short write), the file is cut back to its old size and the sealed bytes it
// overwrote are written back, so every byte that read before reads the same,
// and the call returns the error. Growth that rewrites the old last block
// reserves its space first (fallocate), so a full disk fails it before
// anything changes. All backing I/O goes through a BackingFile, which tests
// replace with a FaultyBackingFile.
//
// Thread-safety: thread-safe. A per-file shared_mutex serialises writers and
// truncation against each other and against readers, so concurrent writes to
// one block never lose an update; readers run in parallel.
#ifndef KMSFS_FS_CORE_CRYPT_FILE_H_
#define KMSFS_FS_CORE_CRYPT_FILE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>

#include "cache/dek_cache.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/backing_edit.h"
#include "fs/core/backing_file.h"
#include "fs/format/block_codec.h"
#include "fs/format/file_header.h"

namespace kmsfs::core {

class CryptFile {
 public:
  // `fd` is the backing file opened O_RDWR (O_RDONLY on a read-only backing
  // filesystem). `key` pins the DEK for this object's lifetime. Block 0
  // starts at `data_offset` (format::Geometry::data_offset).
  CryptFile(UniqueFd fd, format::FileHeader header, std::unique_ptr<format::BlockCodec> codec,
            cache::DekCache::Handle key, uint32_t data_offset = 0);
  // The same over any BackingFile (tests pass a FaultyBackingFile).
  CryptFile(std::unique_ptr<BackingFile> file, format::FileHeader header, std::unique_ptr<format::BlockCodec> codec,
            cache::DekCache::Handle key, uint32_t data_offset = 0);
  CryptFile(const CryptFile&) = delete;
  CryptFile& operator=(const CryptFile&) = delete;

  // Reads up to out.size() bytes at `offset`; fewer at end of file.
  // kDataLoss if a block the read covers fails to open (tampered, cut short).
  StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out);
  // Writes all of `data` at `offset`, growing the file as needed; on failure
  // writes nothing.
  StatusOr<size_t> Write(uint64_t offset, std::span<const uint8_t> data);
  // Appends at the current end of file (O_APPEND semantics); returns the offset written at.
  StatusOr<uint64_t> Append(std::span<const uint8_t> data);
  Status Truncate(uint64_t size);
  // Default-mode fallocate: reserves backing space for the range and grows
  // the file to offset+length if it is shorter. On a backing filesystem
  // without fallocate it only grows the file.
  Status Allocate(uint64_t offset, uint64_t length);
  Status Sync(bool datasync);
  StatusOr<uint64_t> Size();

  int fd() const { return file_->fd(); }
  const format::FileHeader& header() const { return header_; }
  // The backing file's layout: the codec's blocks after data_offset bytes.
  const format::Geometry& geometry() const { return geometry_; }

 private:
  // The backing size (fstat) and the plaintext size it gives.
  struct Sizes {
    uint64_t backing;
    uint64_t plain;
  };
  StatusOr<Sizes> SizesLocked();
  StatusOr<size_t> ReadLocked(uint64_t offset, std::span<uint8_t> out, uint64_t size);
  // Writes `data` at `offset` into a file now `size` plaintext bytes long.
  Status WriteLocked(BackingEdit& edit, uint64_t offset, std::span<const uint8_t> data, uint64_t size);
  // Writes `sealed` (whole sealed blocks from block `first`) into a file now
  // `size` plaintext bytes long: pads the old partial last block first if
  // the write starts past it, reserving space when existing bytes change.
  Status StoreSealedLocked(BackingEdit& edit, uint64_t first, std::span<const uint8_t> sealed, uint64_t size);
  // Grows a file of `size` plaintext bytes to `new_size`: the old partial
  // last block gets zero padding up to the new end or to a full block;
  // everything past it becomes holes.
  Status GrowLocked(BackingEdit& edit, uint64_t size, uint64_t new_size);
  Status ShrinkLocked(BackingEdit& edit, uint64_t size, uint64_t new_size);
  // Re-seals block `block` (now `old_len` plaintext bytes) at `new_len`
  // bytes: cut short, or padded with zeros. A longer block reserves its new
  // space first.
  Status ResizeBlockLocked(BackingEdit& edit, uint64_t block, uint32_t old_len, uint32_t new_len);

  const std::unique_ptr<BackingFile> file_;
  const format::FileHeader header_;
  const std::unique_ptr<format::BlockCodec> codec_;
  const format::Geometry geometry_;
  const cache::DekCache::Handle key_;
  std::shared_mutex content_mu_;  // guards the backing file's content and size
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_CRYPT_FILE_H_
