// Key management actions: spec/kms-api.md §3.
#include <set>

#include "base/hex.h"
#include "crypto/aes_gcm_oneshot.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"
#include "kms/server/service.h"
#include "kms/server/users_file.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

const std::set<std::string_view> kKeySpecs = {"AES_256",  "RSA_2048", "RSA_3072", "RSA_4096", "EC_P256",
                                              "EC_P384",  "HMAC_256", "HMAC_384", "HMAC_512"};

bool IsRsa(std::string_view spec) { return spec.substr(0, 4) == "RSA_"; }
bool IsEc(std::string_view spec) { return spec.substr(0, 3) == "EC_"; }
bool IsHmac(std::string_view spec) { return spec.substr(0, 5) == "HMAC_"; }

std::string DefaultUsage(std::string_view spec) {
  if (IsRsa(spec) || IsEc(spec)) return "SIGN_VERIFY";
  if (IsHmac(spec)) return "GENERATE_VERIFY_MAC";
  return "ENCRYPT_DECRYPT";
}

// key_type: "1" symmetric, "2" asymmetric, "3" HMAC.
std::string KeyType(std::string_view spec) {
  if (IsRsa(spec) || IsEc(spec)) return "2";
  if (IsHmac(spec)) return "3";
  return "1";
}

// Checks a usage/spec pair; spec/kms-api.md §3.1.
Status CheckUsage(std::string_view spec, std::string_view usage) {
  if (usage != "ENCRYPT_DECRYPT" && usage != "SIGN_VERIFY" && usage != "GENERATE_VERIFY_MAC") {
    return KmsError("KMS.0308");
  }
  if (spec == "AES_256") {
    if (usage == "SIGN_VERIFY") return KmsError("KMS.1115");
    if (usage != "ENCRYPT_DECRYPT") return KmsError("KMS.0308");
  } else if (IsEc(spec)) {
    if (usage == "ENCRYPT_DECRYPT") return KmsError("KMS.1114");
    if (usage != "SIGN_VERIFY") return KmsError("KMS.0308");
  } else if (IsRsa(spec)) {
    if (usage == "GENERATE_VERIFY_MAC") return KmsError("KMS.0308");
  } else if (IsHmac(spec)) {
    if (usage != "GENERATE_VERIFY_MAC") return KmsError("KMS.0308");
  }
  return Status::Ok();
}

Json IdAndState(const KeyRecord& k) {
  return {{"key_id", k.key_id}, {"key_state", std::to_string(k.key_state)}};
}

}  // namespace

StatusOr<Json> Service::CreateKey(const Caller& c, const Request& r) {
  KMSFS_RETURN_IF_ERROR(RequireAdminRole(c));
  std::string alias(*r.String("key_alias"));
  if (!IsAliasSyntax(alias) || EndsWith(alias, "/default")) return KmsError("KMS.1101");
  std::string description(r.String("key_description").value_or(""));
  if (Utf8Length(description) > 255) return KmsError("KMS.1103");
  std::string spec(r.NonEmptyString("key_spec").value_or("AES_256"));
  if (!kKeySpecs.count(spec)) return KmsError("KMS.1110");
  std::string usage(r.NonEmptyString("key_usage").value_or(DefaultUsage(spec)));
  KMSFS_RETURN_IF_ERROR(CheckUsage(spec, usage));
  std::string origin(r.NonEmptyString("origin").value_or("kms"));
  if (origin != "kms" && origin != "external") return KmsError("KMS.0308");
  if (origin == "external" && spec != "AES_256") return KmsError("KMS.0308");
  std::string realm = options_.realm;
  if (auto given = r.NonEmptyString("realm")) {
    if (!IsSimpleName(*given)) return KmsError("KMS.1102");
    realm = std::string(*given);
  }

  KeyRecord k;
  k.key_id = NewKeyId();
  k.domain_id = c.domain_id;
  k.project_id = c.project_id;
  k.key_alias = alias;
  k.realm = realm;
  k.key_description = description;
  k.key_spec = spec;
  k.key_usage = usage;
  k.key_type = KeyType(spec);
  k.origin = origin;
  k.creation_ms = clock_->WallNowMs();
  // Only AES_256 keys carry material kmsd can use; other specs are records only.
  const bool has_material = origin == "kms" && spec == "AES_256";
  k.key_state = origin == "external" ? kStatePendingImport : kStateEnabled;
  std::vector<uint8_t> sealed;
  if (has_material) sealed = SealMaterial(k.key_id, 0, SecretBytes::Random(crypto::kAes256KeySize));

  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(std::optional<KeyRecord> same_alias, store_->FindKeyByAlias(c.project_id, alias));
  if (same_alias) return KmsError("KMS.1104");
  KMSFS_ASSIGN_OR_RETURN(int64_t count, store_->CountCustomKeys(c.project_id));
  if (count >= options_.max_keys_per_project) return KmsError("KMS.1105");
  Status st = store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->InsertKey(k));
    if (has_material) KMSFS_RETURN_IF_ERROR(store_->PutMaterial(k.key_id, 0, sealed, k.creation_ms));
    return Status::Ok();
  });
  if (st.code() == StatusCode::kAlreadyExists) return KmsError("KMS.1104");
  KMSFS_RETURN_IF_ERROR(st);
  NoteKey(k.key_id);
  return Json{{"key_info", {{"key_id", k.key_id}, {"domain_id", k.domain_id}}}};
}

StatusOr<Json> Service::DescribeKey(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), /*allow_alias=*/true));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "describe-key"));
  return Json{{"key_info", KeyInfo(k)}};
}

StatusOr<Json> Service::ListKeys(const Caller& c, const Request& r) {
  KMSFS_RETURN_IF_ERROR(RequireUserRole(c));
  int state_filter = 0;
  if (const Request::Decimal state = r.DecimalField("key_state", /*empty_is_absent=*/true); state.present) {
    // ^[1-5]{1}$ as a string; 1 to 5 as a number.
    const auto text = r.String("key_state");
    if (!state.value || *state.value < 1 || *state.value > 5 || (text && text->size() != 1)) {
      return KmsError("KMS.0308");
    }
    state_filter = static_cast<int>(*state.value);
  }
  std::string spec_filter;
  if (auto s = r.NonEmptyString("key_spec")) {
    if (!kKeySpecs.count(*s)) return KmsError("KMS.1110");
    spec_filter = std::string(*s);
  }
  // Validate paging before doing any work.
  KMSFS_RETURN_IF_ERROR(Paginate(r, 0).status());

  KMSFS_ASSIGN_OR_RETURN(std::vector<KeyRecord> all, store_->ListKeys(c.project_id));
  std::vector<KeyRecord> matching;
  for (const KeyRecord& listed : all) {
    auto k = Refresh(listed);
    if (!k.ok()) {
      if (ApiErrorCode(k.status()) == "KMS.0207") continue;
      return k.status();
    }
    if (state_filter != 0 && k->key_state != state_filter) continue;
    if (!spec_filter.empty() && k->key_spec != spec_filter) continue;
    matching.push_back(*std::move(k));
  }
  KMSFS_ASSIGN_OR_RETURN(Page page, Paginate(r, matching.size()));
  Json keys = Json::array();
  Json details = Json::array();
  for (size_t i = page.begin; i < page.end; ++i) {
    keys.push_back(matching[i].key_id);
    details.push_back(KeyInfo(matching[i]));
  }
  return Json{{"keys", keys},
                        {"key_details", details},
                        {"next_marker", page.next_marker},
                        {"truncated", page.truncated ? "true" : "false"},
                        {"total", matching.size()}};
}

StatusOr<Json> Service::EnableKey(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  if (k.key_state != kStateDisabled) return KmsError("KMS.1201");
  k.key_state = kStateEnabled;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return Json{{"key_info", IdAndState(k)}};
}

StatusOr<Json> Service::DisableKey(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  if (k.key_state != kStateEnabled) return KmsError("KMS.1301");
  k.key_state = kStateDisabled;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return Json{{"key_info", IdAndState(k)}};
}

StatusOr<Json> Service::ScheduleKeyDeletion(const Caller& c, const Request& r) {
  const std::optional<int64_t> days = r.DecimalField("pending_days").value;
  if (!days || *days < 7 || *days > 1096) return KmsError("KMS.1401");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.1402");
  k.key_state = kStateScheduledDeletion;
  k.scheduled_deletion_ms = clock_->WallNowMs() + *days * 86'400'000;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return IdAndState(k);
}

StatusOr<Json> Service::CancelKeyDeletion(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.key_state != kStateScheduledDeletion) return KmsError("KMS.1501");
  k.key_state = kStateDisabled;
  k.scheduled_deletion_ms = 0;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return IdAndState(k);
}

StatusOr<Json> Service::EnableKeyRotation(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  KMSFS_RETURN_IF_ERROR(CheckRotatable(k));
  if (k.key_state != kStateEnabled && k.key_state != kStateDisabled) return KmsError("KMS.1301");
  if (k.rotation_enabled) return KmsError("KMS.2901");
  // Rotate now, once: kmsd has no scheduler that would rotate later.
  k.rotation_enabled = true;
  KMSFS_RETURN_IF_ERROR(RotateMaterial(&k));
  return Json::object();
}

StatusOr<Json> Service::DisableKeyRotation(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.default_key) return KmsError("KMS.0211");
  if (!k.rotation_enabled) return KmsError("KMS.0313");
  k.rotation_enabled = false;
  KMSFS_RETURN_IF_ERROR(store_->UpdateKey(k));
  return Json::object();
}

StatusOr<Json> Service::GetKeyRotationStatus(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  return Json{{"key_rotation_enabled", k.rotation_enabled},
                        {"rotation_interval", k.rotation_interval_days},
                        {"last_rotation_time", k.last_rotation_ms > 0 ? std::to_string(k.last_rotation_ms) : ""},
                        {"number_of_rotations", k.number_of_rotations}};
}

StatusOr<Json> Service::GenRandom(const Caller& c, const Request& r) {
  KMSFS_RETURN_IF_ERROR(RequireUserRole(c));
  const std::optional<int64_t> bits = r.DecimalField("random_data_length").value;
  if (!bits || *bits < 8 || *bits > 8192) return KmsError("KMS.1801");
  if (*bits % 8 != 0) return KmsError("KMS.1802");
  std::vector<uint8_t> bytes = crypto::RandomVector(static_cast<size_t>(*bits / 8));
  return Json{{"random_data", HexEncodeUpper(bytes)}};
}

}  // namespace kmsfs::kms::server
