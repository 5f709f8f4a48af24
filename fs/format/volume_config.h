// VolumeConfig: BACKING_DIR/.kmsfs.json, the per-volume settings.
// Schema and worked examples: docs/FORMAT.md §7.
//
// Version 2 (what `kmsfs init` writes):
//   {"format":"kmsfs","version":2,"volume_id":"<32 hex>","key_id":"…",
//    "project_id":"…","cipher_suite":"AES-256-GCM","block_size":4096,
//    "names":"encrypted"|"plaintext","header":"xattr"|"inline",
//    "volume_key":"<hex>", ["rewrap":{"to_key":"…","volume_key":"<hex>"},]
//    "created":"…","mac":"<64 hex>"}
// `volume_key` is a random 32-byte key wrapped by the CMK with the encryption
// context {"kmsfs_volume_id": volume_id}; name keys and the `mac` key are
// derived from it. `mac` is HMAC-SHA256 over every other field (MacInput), so
// only someone who can unwrap the volume key can write a config the mount
// accepts. `rewrap` is present while `kmsfs rewrap` moves the volume to
// another key: file headers may then name either key.
//
// Version 1 (older volumes, still read): no volume key, no mac, plaintext
// names, xattr headers, and a "canary" DEK instead:
//   {"format":"kmsfs","version":1,"key_id":"…","project_id":"…",
//    "cipher_suite":"AES-256-GCM","block_size":4096,
//    "canary":{"file_id":"<32 hex>","wrapped_dek":"<hex>"},"created":"…"}
//
// Decoding is strict and names the bad field: unknown fields, a missing or
// mistyped field, an unknown version or suite, a bad block size or bad hex are
// all kDataLoss.
//
// Thread-safety: a plain value type; Store is atomic against concurrent Load
// (rename), not against a concurrent Store to the same directory.
#ifndef KMSFS_FS_FORMAT_VOLUME_CONFIG_H_
#define KMSFS_FS_FORMAT_VOLUME_CONFIG_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/aead.h"
#include "fs/format/file_header.h"

namespace kmsfs::format {

inline constexpr char kConfigFileName[] = ".kmsfs.json";
inline constexpr size_t kVolumeIdSize = 16;
inline constexpr size_t kVolumeKeySize = 32;
using VolumeId = std::array<uint8_t, kVolumeIdSize>;

enum class NameMode { kPlaintext, kEncrypted };
enum class HeaderMode { kXattr, kInline };

struct VolumeConfig {
  static constexpr int kVersion = 2;  // what new volumes get

  int version = kVersion;
  std::string key_id;       // the CMK new files and the volume key are wrapped under
  std::string project_id;   // KMS project the key lives in
  crypto::CipherSuite suite = crypto::CipherSuite::kAes256Gcm;
  uint32_t block_size = 4096;
  // --- version 2
  VolumeId volume_id{};
  NameMode names = NameMode::kEncrypted;
  HeaderMode header = HeaderMode::kXattr;
  std::string wrapped_volume_key;  // the KMS cipher_text, as returned
  struct Rewrap {
    std::string to_key;
    std::string wrapped_volume_key;  // the same volume key, wrapped under to_key
    bool operator==(const Rewrap&) const = default;
  };
  std::optional<Rewrap> rewrap;
  std::string mac;  // 64 lower-case hex characters
  // --- version 1
  FileId canary_file_id{};
  std::string canary_wrapped_dek;
  std::string created;  // RFC 3339 UTC, informational

  // Largest .kmsfs.json Load and FromJson accept.
  static constexpr size_t kMaxJsonSize = 64 * 1024;

  // The checks FromJson applies, on this struct (kInvalidArgument naming the field).
  Status Validate() const;
  // Pretty-printed JSON (2-space indent, fields in schema order, trailing newline).
  std::string ToJson() const;
  // What `mac` covers (version 2): every other field as compact JSON in schema order.
  std::string MacInput() const;
  // Sets `mac` from the unwrapped volume key / checks it (kDataLoss when it
  // does not match: the file was changed by someone without the volume key).
  Status Seal(const SecretBytes& volume_key);
  Status VerifyMac(const SecretBytes& volume_key) const;

  static StatusOr<VolumeConfig> FromJson(std::string_view json);
  // Reads .kmsfs.json of the directory open as `dir_fd` (kNotFound if absent).
  static StatusOr<VolumeConfig> Load(int dir_fd);
  static StatusOr<VolumeConfig> Load(const std::string& backing_dir);
  // Validates, then writes a temp file in the same directory, fsyncs it,
  // renames it over .kmsfs.json and fsyncs the directory; mode 0644.
  Status Store(int dir_fd) const;
  Status Store(const std::string& backing_dir) const;

  bool operator==(const VolumeConfig&) const = default;
};

// {"kmsfs_volume_id": "<32 hex>"}: binds the wrapped volume key to its volume.
std::string VolumeIdHex(const VolumeId& id);
std::string_view NameModeName(NameMode mode);
std::string_view HeaderModeName(HeaderMode mode);

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_VOLUME_CONFIG_H_
