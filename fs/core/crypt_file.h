// CryptFile: plaintext reads, writes and truncation over one encrypted backing
// file. FUSE-free; the mount keeps one CryptFile per backing inode, shared by
// every handle open on it (hardlinks included).
//
// Plaintext size is derived from the backing size alone (format::PlainSize).
// Writes are read-modify-write at block granularity: the head and tail blocks
// a write only partly covers are opened, merged and re-sealed; a block that
// was the partial last block and is no longer last is padded with zeros and
// re-sealed full. Blocks a write skips over (sparse files) are left as holes.
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
#include "fs/base/status.h"
#include "fs/base/unique_fd.h"
#include "fs/format/block_codec.h"
#include "fs/format/file_header.h"

namespace kmsfs::core {

class CryptFile {
 public:
  // `fd` is the backing file opened O_RDWR (O_RDONLY on a read-only backing
  // filesystem). `key` pins the DEK for this object's lifetime.
  CryptFile(UniqueFd fd, format::FileHeader header, std::unique_ptr<format::BlockCodec> codec,
            cache::DekCache::Handle key);
  CryptFile(const CryptFile&) = delete;
  CryptFile& operator=(const CryptFile&) = delete;

  // Reads up to out.size() bytes at `offset`; fewer at end of file.
  StatusOr<size_t> Read(uint64_t offset, std::span<uint8_t> out);
  // Writes all of `data` at `offset`, growing the file as needed.
  StatusOr<size_t> Write(uint64_t offset, std::span<const uint8_t> data);
  // Appends at the current end of file (O_APPEND semantics); returns the offset written at.
  StatusOr<uint64_t> Append(std::span<const uint8_t> data);
  Status Truncate(uint64_t size);
  // Default-mode fallocate: reserves backing space and grows the file to offset+length.
  Status Allocate(uint64_t offset, uint64_t length);
  Status Sync(bool datasync);
  StatusOr<uint64_t> Size();

  int fd() const { return fd_.get(); }
  const format::FileHeader& header() const { return header_; }

 private:
  StatusOr<uint64_t> SizeLocked();
  StatusOr<size_t> ReadLocked(uint64_t offset, std::span<uint8_t> out, uint64_t size);
  StatusOr<size_t> WriteLocked(uint64_t offset, std::span<const uint8_t> data);
  Status TruncateLocked(uint64_t new_size);
  // Before a write starting at block `first`: pads the file's partial last
  // block to a full one if it lies before `first` (it stops being last);
  // updates *size. Returns whether it did.
  StatusOr<bool> PadOldLastBlockLocked(uint64_t first, uint64_t* size);
  // Writes sealed blocks from block `first` on into a file of plaintext
  // `size`; `rewrites_existing`: sealed bytes already in the file were (or
  // will be) changed, so extending needs its space reserved first.
  Status StoreSealedLocked(uint64_t first, std::span<const uint8_t> sealed, uint64_t size, bool rewrites_existing);
  // Re-seals block `block` (currently `old_len` plaintext bytes) at `new_len`
  // bytes: cut short, or padded with zeros.
  Status ResizeBlockLocked(uint64_t block, uint32_t old_len, uint32_t new_len);

  UniqueFd fd_;
  const format::FileHeader header_;
  const std::unique_ptr<format::BlockCodec> codec_;
  const cache::DekCache::Handle key_;
  std::shared_mutex content_mu_;  // guards the backing file's content and size
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_CRYPT_FILE_H_
