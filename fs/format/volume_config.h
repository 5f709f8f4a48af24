// VolumeConfig: BACKING_DIR/.kmsfs.json, the per-volume settings and the canary.
// Schema: docs/FORMAT.md. Decode is strict and names the bad field.
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

  std::string ToJson() const;
  static StatusOr<VolumeConfig> FromJson(std::string_view json);
  // Reads / atomically writes (temp file, fsync, rename) BACKING_DIR/.kmsfs.json.
  static StatusOr<VolumeConfig> Load(const std::string& backing_dir);
  Status Store(const std::string& backing_dir) const;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_VOLUME_CONFIG_H_
