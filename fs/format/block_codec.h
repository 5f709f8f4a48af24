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

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/aead.h"
#include "fs/format/file_header.h"
#include "fs/format/offsets.h"

namespace kmsfs::format {

inline constexpr size_t kDekSize = 64;
inline constexpr size_t kContentKeySize = 32;
inline constexpr char kContentKeyInfo[] = "kmsfs v1 content key";
inline constexpr size_t kBlockAdSize = kFileIdSize + 8;

// HKDF-SHA256(ikm = dek, salt = file_id, info = kContentKeyInfo), 32 bytes.
// dek must be kDekSize bytes (kInvalidArgument otherwise).
StatusOr<SecretBytes> DeriveContentKey(const SecretBytes& dek, const FileId& file_id);
// file_id || block as uint64 big-endian.
std::array<uint8_t, kBlockAdSize> BlockAd(const FileId& file_id, uint64_t block);
// {block_size, nonce + tag} for `suite`; kInvalidArgument for a bad block size.
StatusOr<Geometry> GeometryFor(crypto::CipherSuite suite, uint32_t block_size);

class BlockCodec {
 public:
  // kInvalidArgument for a block size that is not a power of two in
  // 512..1 MiB, or a DEK that is not 64 bytes. Nonces come from
  // `nonce_random`, which must outlive the codec (see crypto::Aead::New).
  static StatusOr<std::unique_ptr<BlockCodec>> New(crypto::CipherSuite suite, uint32_t block_size,
                                                   const SecretBytes& dek, const FileId& file_id,
                                                   crypto::RandomSource& nonce_random = crypto::SystemRandom());

  const Geometry& geometry() const { return geometry_; }

  // Seals consecutive plaintext blocks starting at block `first_block`, each
  // with a fresh random nonce. plain.size() may end in a partial block;
  // out.size() must be SealedSize(plain.size()) (kInvalidArgument otherwise).
  // out must not overlap plain.
  Status Seal(uint64_t first_block, std::span<const uint8_t> plain, std::span<uint8_t> out) const;
  // Opens consecutive sealed blocks; sealed may end in a partial block.
  // out.size() must be the plaintext size of `sealed` (kInvalidArgument
  // otherwise). Every block is verified before success is returned; on
  // kDataLoss `out` is all zeros and the message names the first bad block
  // index. A trailing partial block of overhead bytes or fewer is kDataLoss.
  // out must not overlap sealed.
  Status Open(uint64_t first_block, std::span<const uint8_t> sealed, std::span<uint8_t> out) const;

 private:
  BlockCodec(std::unique_ptr<crypto::Aead> aead, Geometry geometry, const FileId& file_id);
  std::unique_ptr<crypto::Aead> aead_;
  Geometry geometry_;
  FileId file_id_;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_BLOCK_CODEC_H_
