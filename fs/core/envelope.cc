#include "fs/core/envelope.h"

#include "fs/format/block_codec.h"
#include "kms/kms_error.h"

namespace kmsfs::core {
namespace {

kms::EncryptionContext FileContext(const format::FileId& file_id) {
  return {{"kmsfs_file_id", format::FileIdHex(file_id)}};
}

kms::EncryptionContext VolumeContext(const format::VolumeId& volume_id) {
  return {{"kmsfs_volume_id", format::VolumeIdHex(volume_id)}};
}

bool IsRefusal(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kUnauthenticated;
}

}  // namespace

Envelope::Envelope(std::shared_ptr<KeyWrapper> wrapper) : wrapper_(std::move(wrapper)) {}

Envelope Envelope::OverKms(std::shared_ptr<kms::Client> kms) {
  return Envelope(std::make_shared<KmsKeyWrapper>(std::move(kms)));
}

SecretBytes Envelope::NewDek() { return SecretBytes::Random(format::kDekSize); }

StatusOr<std::string> Envelope::WrapDek(std::string_view key_id, const SecretBytes& dek,
                                        const format::FileId& file_id) const {
  return wrapper_->Wrap(key_id, dek, FileContext(file_id));
}

kms::CallHandle Envelope::WrapDekAsync(std::string_view key_id, const SecretBytes& dek, const format::FileId& file_id,
                                       kms::Priority priority, kms::Callback<std::string> done) const {
  return wrapper_->WrapAsync(key_id, dek, FileContext(file_id), priority, std::move(done));
}

StatusOr<SecretBytes> Envelope::UnwrapDek(const format::FileHeader& header) const {
  return wrapper_->Unwrap(header.key_id, header.wrapped_dek, format::kDekSize, FileContext(header.file_id));
}

kms::CallHandle Envelope::UnwrapDekAsync(const format::FileHeader& header, kms::Priority priority,
                                         kms::Callback<SecretBytes> done) const {
  return wrapper_->UnwrapAsync(header.key_id, header.wrapped_dek, format::kDekSize, FileContext(header.file_id),
                               priority, std::move(done));
}

SecretBytes Envelope::NewVolumeKey() { return SecretBytes::Random(format::kVolumeKeySize); }

StatusOr<std::string> Envelope::WrapVolumeKey(std::string_view key_id, const SecretBytes& volume_key,
                                              const format::VolumeId& volume_id) const {
  return wrapper_->Wrap(key_id, volume_key, VolumeContext(volume_id));
}

StatusOr<SecretBytes> Envelope::UnwrapVolumeKey(std::string_view key_id, std::string_view wrapped,
                                                const format::VolumeId& volume_id) const {
  return wrapper_->Unwrap(key_id, wrapped, format::kVolumeKeySize, VolumeContext(volume_id));
}

StatusOr<VolumeAccess> Envelope::CheckAccess(const format::VolumeConfig& config, bool probe_write) const {
  VolumeAccess out;
  // Read: what a mount unwraps first.
  if (config.version >= 2) {
    auto key = wrapper_->Unwrap(config.key_id, config.wrapped_volume_key, format::kVolumeKeySize,
                                VolumeContext(config.volume_id));
    if (!key.ok()) {
      if (!IsRefusal(key.status())) return Failure("decrypt-datakey", config.key_id, key.status());
      out.refusal = Failure("decrypt-datakey", config.key_id, key.status());
      return out;
    }
    // Nobody without the volume key changed the config.
    KMSFS_RETURN_IF_ERROR(config.VerifyMac(*key));
    out.volume_key = std::move(key).value();
  } else {
    auto canary = wrapper_->Unwrap(config.key_id, config.canary_wrapped_dek, format::kDekSize,
                                   FileContext(config.canary_file_id));
    if (!canary.ok()) {
      if (!IsRefusal(canary.status())) return Failure("decrypt-datakey", config.key_id, canary.status());
      out.refusal = Failure("decrypt-datakey", config.key_id, canary.status());
      return out;
    }
  }
  out.access = Access::kReadOnly;
  if (!probe_write) return out;

  // Write: wrap as a new file would.
  StatusOr<std::string> wrapped = config.version >= 2
                                      ? WrapVolumeKey(config.key_id, out.volume_key, config.volume_id)
                                      : WrapDek(config.key_id, NewDek(), config.canary_file_id);
  if (wrapped.ok()) {
    out.access = Access::kReadWrite;
  } else if (wrapped.status().code() == StatusCode::kPermissionDenied) {
    out.refusal = Failure("encrypt-datakey", config.key_id, wrapped.status());
  } else {
    return Failure("encrypt-datakey", config.key_id, wrapped.status());
  }
  return out;
}

std::string Envelope::DeniedMessage(const std::string& operation, std::string_view key_id,
                                    const Status& status) const {
  std::string msg = Principal() + " may not call " + operation + " on key " + std::string(key_id);
  const std::string_view kms_code = kms::KmsErrorCode(status);
  if (!kms_code.empty()) {
    msg += " (" + std::string(kms_code) + ": " + status.message() + ")";
  } else {
    msg += " (" + status.message() + ")";
  }
  return msg;
}

Status Envelope::Failure(const std::string& operation, std::string_view key_id, const Status& s) const {
  if (IsRefusal(s)) {
    return Status(s.code(), DeniedMessage(operation, key_id, s)).WithDetailOf(s);
  }
  if (s.code() == StatusCode::kUnavailable) return s.Annotate("cannot reach the KMS");
  return s.Annotate(operation + " with key " + std::string(key_id));
}

}  // namespace kmsfs::core
