// BlockCodec: seals and opens the content blocks of one file.
//
// Content key = HKDF-SHA256(ikm = DEK (64 bytes), salt = file id,
// info = "kmsfs v1 content key"), 32 bytes. AD of block n = file id || n as
// 8-byte big-endian. Hole rule: a sealed block whose bytes are all zero reads
// as block_size zero bytes (sparse files); see docs/FORMAT.md.
//
// Thread-safety: all methods are const and safe to call concurrently.
#ifndef KMSFS_FS_FORMAT_BLOCK_CODEC_H_
#define KMSFS_FS_FORMAT_BLOCK_CODEC_H_

#include <cstdint>
#include <memory>
#include <span>

#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"
#include "fs/crypto/aead.h"
#include "fs/format/file_header.h"
#include "fs/format/offsets.h"

namespace kmsfs::format {

class BlockCodec {
 public:
  static StatusOr<std::unique_ptr<BlockCodec>> New(crypto::CipherSuite suite, uint32_t block_size,
                                                   const SecretBytes& dek, const FileId& file_id);

  const Geometry& geometry() const { return geometry_; }

  // Seals consecutive plaintext blocks starting at block `first_block`.
  // plain.size() may end in a partial block; out.size() must be
  // BackingSize(plain.size()).
  Status Seal(uint64_t first_block, std::span<const uint8_t> plain, std::span<uint8_t> out) const;
  // Opens consecutive sealed blocks; sealed may end in a partial block.
  // out.size() must be the plaintext size of `sealed`. kDataLoss names the
  // first bad block index in its message.
  Status Open(uint64_t first_block, std::span<const uint8_t> sealed, std::span<uint8_t> out) const;

 private:
  BlockCodec(std::unique_ptr<crypto::Aead> aead, Geometry geometry, const FileId& file_id);
  std::unique_ptr<crypto::Aead> aead_;
  Geometry geometry_;
  FileId file_id_;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_BLOCK_CODEC_H_
