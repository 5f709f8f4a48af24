#include "fs/core/key_wrapper.h"

namespace kmsfs::core {

StatusOr<std::string> KmsKeyWrapper::Wrap(std::string_view key_id, const SecretBytes& key,
                                          const kms::EncryptionContext& context) {
  return kms_->EncryptDataKey(key_id, key, context);
}

StatusOr<SecretBytes> KmsKeyWrapper::Unwrap(std::string_view key_id, std::string_view wrapped, size_t length,
                                            const kms::EncryptionContext& context) {
  return kms_->DecryptDataKey(key_id, wrapped, length, context);
}

kms::CallHandle KmsKeyWrapper::WrapAsync(std::string_view key_id, const SecretBytes& key,
                                         const kms::EncryptionContext& context, kms::Priority priority,
                                         kms::Callback<std::string> done) {
  return kms_->EncryptDataKeyAsync(key_id, key, context, priority, std::move(done));
}

kms::CallHandle KmsKeyWrapper::UnwrapAsync(std::string_view key_id, std::string_view wrapped, size_t length,
                                           const kms::EncryptionContext& context, kms::Priority priority,
                                           kms::Callback<SecretBytes> done) {
  return kms_->DecryptDataKeyAsync(key_id, wrapped, length, context, priority, std::move(done));
}

std::string KmsKeyWrapper::Principal() const { return kms_->PrincipalDescription(); }

}  // namespace kmsfs::core
