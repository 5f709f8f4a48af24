// VolumeConfig: BACKING_DIR/.kmsfs.json, the per-volume settings and the canary.
// Schema: docs/FORMAT.md. Decode is strict and names the bad field:
//   {"format":"kmsfs","version":1,"key_id":"…","project_id":"…",
//    "cipher_suite":"AES-256-GCM","block_size":4096,
//    "canary":{"file_id":"<32 hex>","wrapped_dek":"<hex>"},"created":"…"}
// Unknown fields, a missing or mistyped field, an unknown version or suite, a
// bad block size or bad hex are all kDataLoss naming the field.
//
// Thread-safety: a plain value type; Store is atomic against concurrent Load
// (rename), not against a concurrent Store to the same directory.
#ifndef KMSFS_FS_FORMAT_VOLUME_CONFIG_H_
#define KMSFS_FS_FORMAT_VOLUME_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "fs/base/status.h"
#include "fs/crypto/aead.h"
#include "fs/format/file_header.h"

namespace kmsfs::format {

inline constexpr char kConfigFileName[] = ".kmsfs.json";

struct VolumeConfig {
  static constexpr int kVersion = 1;

  int version = kVersion;
  std::string key_id;       // the CMK
  std::string project_id;   // KMS project the key lives in
  crypto::CipherSuite suite = crypto::CipherSuite::kAes256Gcm;
  uint32_t block_size = 4096;
  // Canary: a random DEK wrapped under the CMK with context
  // {"kmsfs_file_id": hex(canary_file_id)}; mount unwraps it to prove access.
  FileId canary_file_id{};
  std::string canary_wrapped_dek;
  std::string created;      // RFC 3339 UTC, informational

  // Largest .kmsfs.json Load and FromJson accept.
  static constexpr size_t kMaxJsonSize = 64 * 1024;

  // The checks FromJson applies, on this struct (kInvalidArgument naming the field).
  Status Validate() const;
  // Pretty-printed JSON (2-space indent, fields in schema order, trailing newline).
  std::string ToJson() const;
  static StatusOr<VolumeConfig> FromJson(std::string_view json);
  // Reads BACKING_DIR/.kmsfs.json (kNotFound if absent). Store validates, then
  // writes a temp file in the same directory, fsyncs it, renames it over
  // .kmsfs.json and fsyncs the directory; the file gets mode 0644.
  static StatusOr<VolumeConfig> Load(const std::string& backing_dir);
  Status Store(const std::string& backing_dir) const;

  bool operator==(const VolumeConfig&) const = default;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_VOLUME_CONFIG_H_
