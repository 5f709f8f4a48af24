// Changes to an existing key: its alias, description, rotation interval, and
// rotation on demand (the SDK's update_key_alias, update_key_description,
// update_key_rotation_interval, rotate_on_demand). Managing a key: only a
// kms_admin of the owning domain (Authorize with no operation); grants never
// give these.
#include "crypto/aes_gcm_oneshot.h"
#include "kms/server/api_error.h"
#include "kms/server/service.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr int64_t kMinRotationIntervalDays = 30;
constexpr int64_t kMaxRotationIntervalDays = 365;
constexpr size_t kMaxDescriptionChars = 255;

}  // namespace

Status Service::CheckRotatable(const KeyRecord& k) {
  if (k.default_key) return KmsError("KMS.0211");
  if (k.origin == "external") return KmsError("KMS.0312");
  if (k.key_spec != "AES_256") return KmsError("KMS.0324");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  return Status::Ok();
}

Status Service::RotateMaterial(KeyRecord* k) {
  const uint32_t version = k->current_version + 1;
  std::vector<uint8_t> sealed = SealMaterial(k->key_id, version, SecretBytes::Random(crypto::kAes256KeySize));
  KeyRecord rotated = *k;
  rotated.current_version = version;
  rotated.last_rotation_ms = clock_->WallNowMs();
  rotated.number_of_rotations += 1;
  KMSFS_RETURN_IF_ERROR(store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->PutMaterial(rotated.key_id, version, sealed, rotated.last_rotation_ms));
    return store_->UpdateKey(rotated);
  }));
  *k = std::move(rotated);
  return Status::Ok();
}

StatusOr<Json> Service::UpdateKeyAlias(const Caller& c, const Request& r) {
  std::string alias(*r.String("key_alias"));
  if (!IsAliasSyntax(alias) || EndsWith(alias, "/default")) return KmsError("KMS.1101");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  if (alias != k.key_alias) {
    KMSFS_ASSIGN_OR_RETURN(std::optional<KeyRecord> same_alias, store_->FindKeyByAlias(k.project_id, alias));
    if (same_alias) return KmsError("KMS.1104");
    k.key_alias = alias;
    const Status st = store_->UpdateKey(k);
    if (st.code() == StatusCode::kAlreadyExists) return KmsError("KMS.1104");
    KMSFS_RETURN_IF_ERROR(st);
  }
  return Json{{"key_info", {{"key_id", k.key_id}, {"key_alias", k.key_alias}}}};
}

StatusOr<Json> Service::UpdateKeyDescription(const Caller& c, const Request& r) {
  std::string description(*r.String("key_description"));
  if (Utf8Length(description) > kMaxDescriptionChars) return KmsError("KMS.1103");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  k.key_description = description;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return Json{{"key_info", {{"key_id", k.key_id}, {"key_description", k.key_description}}}};
}

StatusOr<Json> Service::UpdateKeyRotationInterval(const Caller& c, const Request& r) {
  const std::optional<int64_t> days = r.DecimalField("rotation_interval").value;
  if (!days || *days < kMinRotationIntervalDays || *days > kMaxRotationIntervalDays) return KmsError("KMS.3001");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  KMSFS_RETURN_IF_ERROR(CheckRotatable(k));
  k.rotation_interval_days = static_cast<int>(*days);
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return Json::object();
}

StatusOr<Json> Service::RotateOnDemand(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  KMSFS_RETURN_IF_ERROR(CheckRotatable(k));
  if (k.key_state != kStateEnabled) return KmsError("KMS.1301");
  KMSFS_RETURN_IF_ERROR(RotateMaterial(&k));
  return Json{{"key_id", k.key_id}};
}

}  // namespace kmsfs::kms::server
