// KeyWrapper: the KMS as the filesystem's core sees it — wrap a key under a
// CMK and unwrap it again, both bound to an encryption context (as Tink's
// KmsClient/Aead). Everything else the core needs of the KMS (which key, which
// context, how long a key is, what a refusal means for a volume) is
// core::Envelope's; the KMS's many other calls are the CLI's.
//
// KmsKeyWrapper is the one implementation over kms::Client (encrypt-datakey /
// decrypt-datakey). Unit tests use the in-process fake in
// tests/core/fake_key_wrapper.h.
//
// Errors are the KMS's (kms/kms_client.h): a refusal keeps the service's
// "KMS.xxxx" code and HTTP status; an unreachable KMS is kUnavailable.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef KMSFS_FS_CORE_KEY_WRAPPER_H_
#define KMSFS_FS_CORE_KEY_WRAPPER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/kms_client.h"

namespace kmsfs::core {

class KeyWrapper {
 public:
  virtual ~KeyWrapper() = default;

  // `key` wrapped under the CMK `key_id`, bound to `context`.
  virtual StatusOr<std::string> Wrap(std::string_view key_id, const SecretBytes& key,
                                     const kms::EncryptionContext& context) = 0;
  // The `length`-byte key `wrapped` holds; only with the key id and context it
  // was wrapped with.
  virtual StatusOr<SecretBytes> Unwrap(std::string_view key_id, std::string_view wrapped, size_t length,
                                       const kms::EncryptionContext& context) = 0;

  // Asynchronous forms, at a priority (kms/kms_client.h): `done` runs exactly
  // once with what the synchronous form would return, possibly on another
  // thread and possibly before this returns; it must be quick and must not
  // wrap or unwrap synchronously. The defaults make the synchronous call.
  virtual kms::CallHandle WrapAsync(std::string_view key_id, const SecretBytes& key,
                                    const kms::EncryptionContext& context, kms::Priority priority,
                                    kms::Callback<std::string> done) {
    (void)priority;
    done(Wrap(key_id, key, context));
    return kms::CallHandle();
  }
  virtual kms::CallHandle UnwrapAsync(std::string_view key_id, std::string_view wrapped, size_t length,
                                      const kms::EncryptionContext& context, kms::Priority priority,
                                      kms::Callback<SecretBytes> done) {
    (void)priority;
    done(Unwrap(key_id, wrapped, length, context));
    return kms::CallHandle();
  }

  // Who the calls act as, for messages only ("alice (id 0123…)"); never a secret.
  virtual std::string Principal() const = 0;
};

// Wrap is encrypt-datakey, Unwrap decrypt-datakey, on `kms`.
class KmsKeyWrapper final : public KeyWrapper {
 public:
  explicit KmsKeyWrapper(std::shared_ptr<kms::Client> kms) : kms_(std::move(kms)) {}

  StatusOr<std::string> Wrap(std::string_view key_id, const SecretBytes& key,
                             const kms::EncryptionContext& context) override;
  StatusOr<SecretBytes> Unwrap(std::string_view key_id, std::string_view wrapped, size_t length,
                               const kms::EncryptionContext& context) override;
  kms::CallHandle WrapAsync(std::string_view key_id, const SecretBytes& key, const kms::EncryptionContext& context,
                            kms::Priority priority, kms::Callback<std::string> done) override;
  kms::CallHandle UnwrapAsync(std::string_view key_id, std::string_view wrapped, size_t length,
                              const kms::EncryptionContext& context, kms::Priority priority,
                              kms::Callback<SecretBytes> done) override;
  std::string Principal() const override;

 private:
  const std::shared_ptr<kms::Client> kms_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_KEY_WRAPPER_H_
