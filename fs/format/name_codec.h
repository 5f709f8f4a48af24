// NameCodec: how encrypted names and symlink targets look on disk (format
// version 2 with "names": "encrypted"; docs/FORMAT.md §10). Pure: no I/O.
//
// Keys, from the volume key (32 bytes) with HKDF-SHA256, salt = volume id:
//   name key   = HKDF(info "kmsfs v2 name key",   64 bytes)  AES-256-SIV
//   target key = HKDF(info "kmsfs v2 target key", 32 bytes)  the volume's content suite
//
// A name (1..255 bytes) is padded to a multiple of 16 (PKCS#7: 1..16 bytes
// of the pad length), sealed with AES-256-SIV with the directory's value as
// associated data, and written as unpadded base64url: deterministic, so a
// lookup finds it, and bound to its directory, so a name moved elsewhere
// fails to authenticate. An encoded name longer than kMaxStoredName is stored
// as "kmsfs.l." + base64url(SHA-256(encoded)) with the encoded name in a
// sidecar file of that name + ".name" beside it.
//
// A symlink target (1..PATH_MAX-1 bytes) is sealed with the target key, a
// random nonce and the associated data "kmsfs symlink target", as unpadded
// base64url. One whose encoding is longer than kMaxStoredTarget is kept in
// the volume's target store (.kmsfs.targets/<id>) and the symlink holds
// "kmsfs.t." + id.
//
// Thread-safety: const methods are safe to call concurrently.
#ifndef KMSFS_FS_FORMAT_NAME_CODEC_H_
#define KMSFS_FS_FORMAT_NAME_CODEC_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/aead.h"
#include "crypto/aes_siv.h"
#include "fs/format/volume_config.h"

namespace kmsfs::format {

inline constexpr size_t kDirValueSize = 16;
using DirValue = std::array<uint8_t, kDirValueSize>;
// The `user.kmsfs` xattr of a backing directory: "KMSD" | version u16 = 1 | value (16).
inline constexpr size_t kDirValueXattrSize = 4 + 2 + kDirValueSize;
// Inline-header volumes need no xattrs at all: each backing directory keeps
// the same 22 bytes in a file of this name inside it instead (docs/FORMAT.md
// §13). Its '.' keeps it out of every listing, as no encoded name has one.
inline constexpr char kDirValueFileName[] = ".kmsfs.dir";
std::vector<uint8_t> EncodeDirValue(const DirValue& value);
// kDataLoss naming the fault for anything but a well-formed value.
StatusOr<DirValue> DecodeDirValue(std::span<const uint8_t> bytes);

inline constexpr size_t kMaxNameSize = 255;           // a plaintext name component
inline constexpr size_t kMaxStoredName = 255;         // a backing name component
inline constexpr size_t kMaxTargetSize = 4095;        // a plaintext symlink target (PATH_MAX - 1)
inline constexpr size_t kMaxStoredTarget = 4095;      // a backing symlink target
inline constexpr char kLongNamePrefix[] = "kmsfs.l.";
inline constexpr char kSidecarSuffix[] = ".name";
inline constexpr char kStoredTargetPrefix[] = "kmsfs.t.";
inline constexpr char kTargetStoreDir[] = ".kmsfs.targets";

// Unpadded base64url (RFC 4648 §5) and back; Decode refuses anything else.
std::string Base64UrlEncode(std::span<const uint8_t> bytes);
StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

class NameCodec {
 public:
  static StatusOr<std::unique_ptr<NameCodec>> New(const SecretBytes& volume_key, const VolumeId& volume_id,
                                                  crypto::CipherSuite suite);

  // The encoded name of `name` in the directory of `dir`. kInvalidArgument
  // for an empty name, ".", "..", or one with '/' or NUL; ENAMETOOLONG
  // (kIoError) for one over 255 bytes.
  StatusOr<std::string> Encrypt(const DirValue& dir, std::string_view name) const;
  // The plaintext name; kDataLoss when `encoded` is not this volume's
  // encoding of a valid name in `dir`.
  StatusOr<std::string> Decrypt(const DirValue& dir, std::string_view encoded) const;

  // What the directory holds for an encoded name: itself, or the long form.
  static std::string StoredName(std::string_view encoded);
  static bool IsLongName(std::string_view stored);
  static std::string SidecarName(std::string_view stored) { return std::string(stored) + kSidecarSuffix; }

  // The encoded (sealed) form of a symlink target, and back (kDataLoss on
  // tamper; kInvalidArgument for an empty target or one with NUL; ENAMETOOLONG
  // beyond 4095 bytes).
  StatusOr<std::string> EncryptTarget(std::string_view target) const;
  StatusOr<std::string> DecryptTarget(std::string_view encoded) const;
  // The plaintext length of a target whose encoding is `encoded_size`
  // characters long (0 for a length no encoding has).
  uint64_t TargetPlainSize(uint64_t encoded_size) const;
  // The id of a target kept in the target store: base64url(SHA-256(encoded)).
  static std::string TargetId(std::string_view encoded);
  // Whether `id` has the form TargetId gives (43 base64url characters): an id
  // read from a symlink is used only then, so it can name nothing but an
  // entry of the target store itself (no '/', no '..').
  static bool IsTargetId(std::string_view id);

 private:
  NameCodec(std::unique_ptr<crypto::AesSiv> names, std::unique_ptr<crypto::Aead> targets)
      : names_(std::move(names)), targets_(std::move(targets)) {}
  std::unique_ptr<crypto::AesSiv> names_;
  std::unique_ptr<crypto::Aead> targets_;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_NAME_CODEC_H_
