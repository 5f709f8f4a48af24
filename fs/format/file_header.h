// FileHeader: the binary value of a backing file's `user.kmsfs` extended attribute.
// Byte layout, versioning and worked example: docs/FORMAT.md.
//
// Layout (all integers big-endian):
//   "KMSF" (4) | version u16 | suite u8 (1 AES-256-GCM, 2 XChaCha20-Poly1305)
//   | flags u8 | block_size u32 | file id (16) | key_id_len u8 | key_id
//   | wrapped_len u16 | wrapped DEK
// Version 1: flags = 0; the wrapped DEK is the KMS cipher_text as ASCII hex.
// Version 2 (new files): the wrapped DEK is the cipher_text's bytes (half the
// size); flags bit 0 says its hex was upper-case, so the text sent back to
// the KMS is exactly what it returned. Other flag bits must be 0.
//
// Decode is strict: magic, version, suite, block size and every length are
// checked before any slicing, and any byte string yields either a header or a
// kDataLoss status, never undefined behaviour.
//
// Thread-safety: a plain value type.
#ifndef KMSFS_FS_FORMAT_FILE_HEADER_H_
#define KMSFS_FS_FORMAT_FILE_HEADER_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/aead.h"

namespace kmsfs::format {

inline constexpr char kHeaderXattrName[] = "user.kmsfs";
inline constexpr size_t kFileIdSize = 16;
using FileId = std::array<uint8_t, kFileIdSize>;

// {"kmsfs_file_id": "<32 lower-case hex chars>"}: the encryption_context that
// binds a wrapped DEK to its file.
std::string FileIdHex(const FileId& id);

struct FileHeader {
  static constexpr uint16_t kVersion = 2;  // what new files get
  static constexpr size_t kMaxEncodedSize = 4096;

  uint16_t version = kVersion;  // 1 or 2
  crypto::CipherSuite suite = crypto::CipherSuite::kAes256Gcm;
  uint32_t block_size = 4096;  // plaintext bytes per block
  FileId file_id{};
  std::string key_id;          // CMK id the DEK is wrapped under (<= 255 bytes)
  std::string wrapped_dek;     // the KMS cipher_text, exactly as returned (hex text)

  // Fixed part: everything but key_id and wrapped_dek.
  static constexpr size_t kFixedSize = 4 + 2 + 1 + 1 + 4 + kFileIdSize + 1 + 2;
  static constexpr size_t kMaxKeyIdSize = 255;

  // The checks Decode applies, on this struct: version 1 or 2, known suite,
  // valid block size, key_id 1..255 printable ASCII (0x21..0x7e),
  // wrapped_dek non-empty even-length hex (for version 2 all of one case),
  // encoded size <= kMaxEncodedSize. kInvalidArgument.
  Status Validate() const;
  // The xattr value. Requires Validate().ok(): an invalid header encodes to an
  // empty vector (which Decode rejects), never to a truncated one.
  std::vector<uint8_t> Encode() const;
  static StatusOr<FileHeader> Decode(std::span<const uint8_t> bytes);

  bool operator==(const FileHeader&) const = default;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_FILE_HEADER_H_
