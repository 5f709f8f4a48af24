// Envelope: the one place the core wraps and unwraps keys at the KMS. It owns
// what the KMS call needs besides the key itself:
//  - the sizes: a file's DEK is format::kDekSize bytes, a volume key
//    format::kVolumeKeySize;
//  - the encryption contexts, which bind a wrapped key to what it keys:
//    {"kmsfs_file_id": hex} for a DEK, {"kmsfs_volume_id": hex} for a volume
//    key. The KMS unwraps only with the same context, so a wrapped DEK copied
//    into another file's header, or a volume key into another volume's
//    config, does not unwrap;
//  - the access check: what the user may do with a volume's key, asked as a
//    mount would (unwrap the volume key, or the version 1 canary; wrap as a
//    new file would).
// The KMS itself is behind a KeyWrapper (fs/core/key_wrapper.h).
//
// Thread-safety: thread-safe; a cheap value (copies share the wrapper).
#ifndef KMSFS_FS_CORE_ENVELOPE_H_
#define KMSFS_FS_CORE_ENVELOPE_H_

#include <memory>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "fs/core/key_wrapper.h"
#include "fs/format/file_header.h"
#include "fs/format/volume_config.h"
#include "kms/kms_client.h"

namespace kmsfs::core {

// What the user may do with a volume's key.
enum class Access {
  kNone,      // the KMS refuses to unwrap: no file can be read
  kReadOnly,  // unwraps; new files cannot be wrapped (refused, or not asked)
  kReadWrite, // unwraps and wraps
};

struct VolumeAccess {
  Access access = Access::kNone;
  // Version 2: the unwrapped volume key, the config's MAC verified under it.
  // Empty otherwise.
  SecretBytes volume_key;
  // kNone: why the user may not read; kReadOnly after a write probe: why
  // not write. A kPermissionDenied/kUnauthenticated naming the user, the
  // operation and the key, with the KMS's code.
  Status refusal;
};

class Envelope {
 public:
  explicit Envelope(std::shared_ptr<KeyWrapper> wrapper);
  // An envelope over the KMS client (KmsKeyWrapper).
  static Envelope OverKms(std::shared_ptr<kms::Client> kms);

  // --- file DEKs
  // A fresh random DEK of the format's size.
  static SecretBytes NewDek();
  StatusOr<std::string> WrapDek(std::string_view key_id, const SecretBytes& dek, const format::FileId& file_id) const;
  kms::CallHandle WrapDekAsync(std::string_view key_id, const SecretBytes& dek, const format::FileId& file_id,
                               kms::Priority priority, kms::Callback<std::string> done) const;
  // The DEK of the file `header` describes (its key id, wrapped DEK and file id).
  StatusOr<SecretBytes> UnwrapDek(const format::FileHeader& header) const;
  kms::CallHandle UnwrapDekAsync(const format::FileHeader& header, kms::Priority priority,
                                 kms::Callback<SecretBytes> done) const;

  // --- volume keys
  static SecretBytes NewVolumeKey();
  StatusOr<std::string> WrapVolumeKey(std::string_view key_id, const SecretBytes& volume_key,
                                      const format::VolumeId& volume_id) const;
  StatusOr<SecretBytes> UnwrapVolumeKey(std::string_view key_id, std::string_view wrapped,
                                        const format::VolumeId& volume_id) const;

  // --- access
  // What the user may do with `config`'s key: unwraps its volume key and
  // verifies the config's MAC under it (version 2) or unwraps its canary
  // (version 1); with `probe_write`, wraps as a new file would to learn
  // whether writing is allowed (without it the answer is at most kReadOnly).
  // A refusal by the KMS is an answer (kNone, or kReadOnly), not an error.
  // Errors: kUnavailable (the KMS cannot be reached), kDataLoss (a config whose
  // MAC fails, a KMS answer that does not check out), other KMS failures
  // annotated with the operation and key.
  StatusOr<VolumeAccess> CheckAccess(const format::VolumeConfig& config, bool probe_write) const;

  // "alice (id …) may not call decrypt-datakey on key K (KMS.0306: …)".
  std::string DeniedMessage(const std::string& operation, std::string_view key_id, const Status& status) const;
  // A KMS failure of `operation` on `key_id` as the user should read it:
  // a refusal names the user (DeniedMessage) and keeps the KMS's code.
  Status Failure(const std::string& operation, std::string_view key_id, const Status& status) const;
  // Who the calls act as, for messages.
  std::string Principal() const { return wrapper_->Principal(); }

 private:
  std::shared_ptr<KeyWrapper> wrapper_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_ENVELOPE_H_
