#include "kms/server/service.h"

#include <array>

#include "base/hex.h"
#include "crypto/aes_gcm_oneshot.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"
#include "kms/server/users_file.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

using FT = FieldType;

constexpr FieldSpec kKeyIdOnly[] = {{"key_id", FT::kString, true}};
constexpr FieldSpec kCreateKey[] = {{"key_alias", FT::kString, true},       {"key_spec", FT::kString, false},
                                    {"key_usage", FT::kString, false},      {"key_description", FT::kString, false},
                                    {"origin", FT::kString, false},         {"realm", FT::kString, false},
                                    {"enterprise_project_id", FT::kString, false}};
constexpr FieldSpec kListKeys[] = {{"limit", FT::kDecimal, false},    {"marker", FT::kDecimal, false},
                                   {"key_state", FT::kDecimal, false}, {"key_spec", FT::kString, false},
                                   {"enterprise_project_id", FT::kString, false}};
constexpr FieldSpec kSchedule[] = {{"key_id", FT::kString, true}, {"pending_days", FT::kDecimal, true}};
constexpr FieldSpec kGenRandom[] = {{"random_data_length", FT::kDecimal, true}};
constexpr FieldSpec kCreateDataKey[] = {{"key_id", FT::kString, true},
                                        {"datakey_length", FT::kDecimal, false},
                                        {"key_spec", FT::kString, false},
                                        {"encryption_context", FT::kObject, false},
                                        {"additional_authenticated_data", FT::kString, false}};
constexpr FieldSpec kEncryptDataKey[] = {{"key_id", FT::kString, true},
                                         {"plain_text", FT::kString, true},
                                         {"datakey_plain_length", FT::kDecimal, true},
                                         {"encryption_context", FT::kObject, false},
                                         {"additional_authenticated_data", FT::kString, false}};
constexpr FieldSpec kDecryptDataKey[] = {{"key_id", FT::kString, true},
                                         {"cipher_text", FT::kString, true},
                                         {"datakey_cipher_length", FT::kDecimal, true},
                                         {"encryption_context", FT::kObject, false},
                                         {"additional_authenticated_data", FT::kString, false}};
constexpr FieldSpec kEncryptData[] = {{"key_id", FT::kString, true},
                                      {"plain_text", FT::kString, true},
                                      {"encryption_context", FT::kObject, false},
                                      {"encryption_algorithm", FT::kString, false},
                                      {"additional_authenticated_data", FT::kString, false}};
constexpr FieldSpec kDecryptData[] = {{"cipher_text", FT::kString, true},
                                      {"encryption_context", FT::kObject, false},
                                      {"key_id", FT::kString, false},
                                      {"encryption_algorithm", FT::kString, false},
                                      {"additional_authenticated_data", FT::kString, false}};
constexpr FieldSpec kCreateGrant[] = {{"key_id", FT::kString, true},
                                      {"grantee_principal", FT::kString, true},
                                      {"operations", FT::kStringArray, true},
                                      {"name", FT::kString, false},
                                      {"retiring_principal", FT::kString, false},
                                      {"grantee_principal_type", FT::kString, false}};
constexpr FieldSpec kListGrants[] = {{"key_id", FT::kString, true},
                                     {"limit", FT::kDecimal, false},
                                     {"marker", FT::kDecimal, false}};
constexpr FieldSpec kGrantRef[] = {{"key_id", FT::kString, true}, {"grant_id", FT::kString, true}};
constexpr FieldSpec kListRetirable[] = {{"limit", FT::kDecimal, false}, {"marker", FT::kDecimal, false}};
constexpr FieldSpec kGetImportParams[] = {{"key_id", FT::kString, true},
                                          {"wrapping_algorithm", FT::kString, true}};
constexpr FieldSpec kImportMaterial[] = {{"key_id", FT::kString, true},
                                         {"import_token", FT::kString, true},
                                         {"encrypted_key_material", FT::kString, true},
                                         {"expiration_time", FT::kStringOrNumber, false}};

constexpr FieldSpec kUpdateKeyAlias[] = {{"key_id", FT::kString, true}, {"key_alias", FT::kString, true}};
constexpr FieldSpec kUpdateKeyDescription[] = {{"key_id", FT::kString, true},
                                               {"key_description", FT::kString, true}};
constexpr FieldSpec kUpdateRotationInterval[] = {{"key_id", FT::kString, true},
                                                 {"rotation_interval", FT::kDecimal, true}};
constexpr std::span<const FieldSpec> kNoFields;

enum class Action {
  kCreateKey, kDescribeKey, kListKeys, kEnableKey, kDisableKey, kScheduleKeyDeletion, kCancelKeyDeletion,
  kEnableKeyRotation, kDisableKeyRotation, kGetKeyRotationStatus, kGenRandom, kCreateDataKey,
  kCreateDataKeyWithoutPlaintext, kEncryptDataKey, kDecryptDataKey, kEncryptData, kDecryptData,
  kCreateGrant, kListGrants, kRevokeGrant, kRetireGrant, kListRetirableGrants, kGetParametersForImport,
  kImportKeyMaterial, kDeleteImportedKeyMaterial, kUpdateKeyAlias, kUpdateKeyDescription,
  kUpdateKeyRotationInterval, kRotateOnDemand, kShowUserQuotas, kShowUserInstances,
};

struct ActionDef {
  std::string_view name;
  Action action;
  std::span<const FieldSpec> fields;
  bool get = false;  // served with GET and no body
};

constexpr std::array kActions = {
    ActionDef{"create-key", Action::kCreateKey, kCreateKey},
    ActionDef{"describe-key", Action::kDescribeKey, kKeyIdOnly},
    ActionDef{"list-keys", Action::kListKeys, kListKeys},
    ActionDef{"enable-key", Action::kEnableKey, kKeyIdOnly},
    ActionDef{"disable-key", Action::kDisableKey, kKeyIdOnly},
    ActionDef{"schedule-key-deletion", Action::kScheduleKeyDeletion, kSchedule},
    ActionDef{"cancel-key-deletion", Action::kCancelKeyDeletion, kKeyIdOnly},
    ActionDef{"enable-key-rotation", Action::kEnableKeyRotation, kKeyIdOnly},
    ActionDef{"disable-key-rotation", Action::kDisableKeyRotation, kKeyIdOnly},
    ActionDef{"get-key-rotation-status", Action::kGetKeyRotationStatus, kKeyIdOnly},
    ActionDef{"gen-random", Action::kGenRandom, kGenRandom},
    ActionDef{"create-datakey", Action::kCreateDataKey, kCreateDataKey},
    ActionDef{"create-datakey-without-plaintext", Action::kCreateDataKeyWithoutPlaintext, kCreateDataKey},
    ActionDef{"encrypt-datakey", Action::kEncryptDataKey, kEncryptDataKey},
    ActionDef{"decrypt-datakey", Action::kDecryptDataKey, kDecryptDataKey},
    ActionDef{"encrypt-data", Action::kEncryptData, kEncryptData},
    ActionDef{"decrypt-data", Action::kDecryptData, kDecryptData},
    ActionDef{"create-grant", Action::kCreateGrant, kCreateGrant},
    ActionDef{"list-grants", Action::kListGrants, kListGrants},
    ActionDef{"revoke-grant", Action::kRevokeGrant, kGrantRef},
    ActionDef{"retire-grant", Action::kRetireGrant, kGrantRef},
    ActionDef{"list-retirable-grants", Action::kListRetirableGrants, kListRetirable},
    ActionDef{"get-parameters-for-import", Action::kGetParametersForImport, kGetImportParams},
    ActionDef{"import-key-material", Action::kImportKeyMaterial, kImportMaterial},
    ActionDef{"delete-imported-key-material", Action::kDeleteImportedKeyMaterial, kKeyIdOnly},
    ActionDef{"update-key-alias", Action::kUpdateKeyAlias, kUpdateKeyAlias},
    ActionDef{"update-key-description", Action::kUpdateKeyDescription, kUpdateKeyDescription},
    ActionDef{"update-key-rotation-interval", Action::kUpdateKeyRotationInterval, kUpdateRotationInterval},
    ActionDef{"rotate-on-demand", Action::kRotateOnDemand, kKeyIdOnly},
    ActionDef{"user-quotas", Action::kShowUserQuotas, kNoFields, /*get=*/true},
    ActionDef{"user-instances", Action::kShowUserInstances, kNoFields, /*get=*/true},
};

const ActionDef* FindAction(std::string_view name) {
  for (const ActionDef& a : kActions) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string MaterialLabel(std::string_view key_id, uint32_t version) {
  return "kmsd material v1|" + std::string(key_id) + "|" + std::to_string(version);
}

// "kms:<region>:<domain>:alias:<name>" -> (domain, name)
bool ParseUrn(std::string_view ref, std::string* domain, std::string* alias) {
  constexpr std::string_view kPrefix = "kms:";
  if (ref.substr(0, kPrefix.size()) != kPrefix) return false;
  ref.remove_prefix(kPrefix.size());
  size_t p = ref.find(':');
  if (p == std::string_view::npos) return false;
  ref.remove_prefix(p + 1);  // region, ignored
  p = ref.find(':');
  if (p == std::string_view::npos || p == 0) return false;
  *domain = std::string(ref.substr(0, p));
  ref.remove_prefix(p + 1);
  constexpr std::string_view kAlias = "alias:";
  if (ref.substr(0, kAlias.size()) != kAlias) return false;
  ref.remove_prefix(kAlias.size());
  if (!IsAliasSyntax(ref)) return false;
  *alias = std::string(ref);
  return true;
}

}  // namespace

std::string NewKeyId() {
  std::array<uint8_t, 16> b{};
  crypto::RandomBytes(b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

StatusOr<Page> Paginate(const Request& r, size_t total) {
  constexpr int64_t kMaxLimit = 1000;
  int64_t limit = kMaxLimit;
  if (const Request::Decimal l = r.DecimalField("limit", /*empty_is_absent=*/true); l.present) {
    if (!l.value || *l.value == 0) return KmsError("KMS.1601");
    limit = std::min(*l.value, kMaxLimit);
  }
  int64_t marker = 0;
  if (const Request::Decimal m = r.DecimalField("marker", /*empty_is_absent=*/true); m.present) {
    if (!m.value) return KmsError("KMS.1602");
    marker = *m.value;
  }
  Page p;
  p.begin = std::min(static_cast<size_t>(marker), total);
  p.end = std::min(p.begin + static_cast<size_t>(limit), total);
  p.truncated = p.end < total;
  if (p.truncated) p.next_marker = std::to_string(p.end);
  return p;
}

Service::Service(Store* store, const RootKeyring* keyring, const Clock* clock, Options options)
    : store_(store), keyring_(keyring), clock_(clock), options_(std::move(options)) {}

bool Service::IsKnownAction(std::string_view action) { return FindAction(action) != nullptr; }

bool Service::IsGetAction(std::string_view action) {
  const ActionDef* def = FindAction(action);
  return def != nullptr && def->get;
}

namespace {
// The trace of the call this thread is handling (Handle sets it for the
// call): LoadKey and CreateKey note the key there without every action
// passing it along.
thread_local Service::CallTrace* current_trace = nullptr;

class TraceScope {
 public:
  explicit TraceScope(Service::CallTrace* trace) : saved_(current_trace) { current_trace = trace; }
  ~TraceScope() { current_trace = saved_; }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  Service::CallTrace* saved_;
};
}  // namespace

void Service::NoteKey(const std::string& key_id) {
  if (current_trace != nullptr) current_trace->key_id = key_id;
}

StatusOr<Json> Service::Handle(const Caller& caller, std::string_view action, std::string_view body,
                               CallTrace* trace) {
  TraceScope scope(trace);
  const ActionDef* def = FindAction(action);
  if (def == nullptr) return KmsError("KMS.0201");
  KMSFS_ASSIGN_OR_RETURN(Request req, Request::Parse(body, def->fields));
  switch (def->action) {
    case Action::kCreateKey: return CreateKey(caller, req);
    case Action::kDescribeKey: return DescribeKey(caller, req);
    case Action::kListKeys: return ListKeys(caller, req);
    case Action::kEnableKey: return EnableKey(caller, req);
    case Action::kDisableKey: return DisableKey(caller, req);
    case Action::kScheduleKeyDeletion: return ScheduleKeyDeletion(caller, req);
    case Action::kCancelKeyDeletion: return CancelKeyDeletion(caller, req);
    case Action::kEnableKeyRotation: return EnableKeyRotation(caller, req);
    case Action::kDisableKeyRotation: return DisableKeyRotation(caller, req);
    case Action::kGetKeyRotationStatus: return GetKeyRotationStatus(caller, req);
    case Action::kGenRandom: return GenRandom(caller, req);
    case Action::kCreateDataKey: return CreateDataKey(caller, req, /*with_plaintext=*/true);
    case Action::kCreateDataKeyWithoutPlaintext: return CreateDataKey(caller, req, /*with_plaintext=*/false);
    case Action::kEncryptDataKey: return EncryptDataKey(caller, req);
    case Action::kDecryptDataKey: return DecryptDataKey(caller, req);
    case Action::kEncryptData: return EncryptData(caller, req);
    case Action::kDecryptData: return DecryptData(caller, req);
    case Action::kCreateGrant: return CreateGrant(caller, req);
    case Action::kListGrants: return ListGrants(caller, req);
    case Action::kRevokeGrant: return RevokeGrant(caller, req);
    case Action::kRetireGrant: return RetireGrant(caller, req);
    case Action::kListRetirableGrants: return ListRetirableGrants(caller, req);
    case Action::kGetParametersForImport: return GetParametersForImport(caller, req);
    case Action::kImportKeyMaterial: return ImportKeyMaterial(caller, req);
    case Action::kDeleteImportedKeyMaterial: return DeleteImportedKeyMaterial(caller, req);
    case Action::kUpdateKeyAlias: return UpdateKeyAlias(caller, req);
    case Action::kUpdateKeyDescription: return UpdateKeyDescription(caller, req);
    case Action::kUpdateKeyRotationInterval: return UpdateKeyRotationInterval(caller, req);
    case Action::kRotateOnDemand: return RotateOnDemand(caller, req);
    case Action::kShowUserQuotas: return ShowUserQuotas(caller, req);
    case Action::kShowUserInstances: return ShowUserInstances(caller, req);
  }
  return KmsError("KMS.0201");
}

StatusOr<KeyRecord> Service::LoadKey(const Caller& c, std::string_view ref, bool allow_alias) {
  std::optional<KeyRecord> key;
  if (IsKeyId(ref)) {
    KMSFS_ASSIGN_OR_RETURN(key, store_->GetKey(ref));
  } else if (allow_alias && ref.substr(0, 6) == "alias/" && IsAliasSyntax(ref.substr(6))) {
    KMSFS_ASSIGN_OR_RETURN(key, store_->FindKeyByAlias(c.project_id, ref.substr(6)));
  } else {
    std::string domain, alias;
    if (!allow_alias || !ParseUrn(ref, &domain, &alias)) return KmsError("KMS.0205");
    KMSFS_ASSIGN_OR_RETURN(key, store_->FindKeyByDomainAlias(domain, alias));
  }
  if (!key) return KmsError("KMS.0207");
  NoteKey(key->key_id);
  return Refresh(*std::move(key));
}

StatusOr<KeyRecord> Service::Refresh(KeyRecord found) {
  std::optional<KeyRecord> key = std::move(found);
  const int64_t now = clock_->WallNowMs();
  if (key->key_state == kStateScheduledDeletion && key->scheduled_deletion_ms > 0 &&
      key->scheduled_deletion_ms <= now) {
    KMSFS_RETURN_IF_ERROR(store_->DeleteKey(key->key_id));
    ForgetEnvelopeKeys(key->key_id);
    return KmsError("KMS.0207");
  }
  if (key->origin == "external" && key->expiration_ms > 0 && key->expiration_ms <= now &&
      (key->key_state == kStateEnabled || key->key_state == kStateDisabled)) {
    // Imported material reached its expiration_time: erase it, back to Pending import.
    KeyRecord expired = *key;
    expired.key_state = kStatePendingImport;
    expired.expiration_ms = 0;
    KMSFS_RETURN_IF_ERROR(store_->RunInTransaction([&]() -> Status {
      KMSFS_RETURN_IF_ERROR(store_->DeleteMaterial(expired.key_id));
      ForgetEnvelopeKeys(expired.key_id);
      return store_->UpdateKey(expired);
    }));
    key = std::move(expired);
  }
  return *std::move(key);
}

StatusOr<std::set<std::string>> Service::GrantedOperations(const Caller& c, const KeyRecord& key) {
  std::set<std::string> ops;
  KMSFS_ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, store_->ListGrantsForKey(key.key_id));
  for (const GrantRecord& g : grants) {
    bool mine = (g.grantee_type == "domain") ? g.grantee_principal == c.domain_id
                                             : g.grantee_principal == c.user_id;
    if (mine) ops.insert(g.operations.begin(), g.operations.end());
  }
  return ops;
}

bool Service::ManagesKeysOf(const Caller& c, const KeyRecord& key) {
  return c.domain_id == key.domain_id && c.role == kRoleAdmin;
}

Status Service::RequireAdminRole(const Caller& c) {
  return c.role == kRoleAdmin ? Status::Ok() : KmsError("KMS.0330");
}

Status Service::RequireUserRole(const Caller& c) {
  return c.role == kRoleAdmin || c.role == kRoleUser ? Status::Ok() : KmsError("KMS.0330");
}

Status Service::Authorize(const Caller& c, const KeyRecord& key, std::string_view operation) {
  if (c.domain_id == key.domain_id) {
    // An unknown role string (none is written by kmsd) falls through to
    // grants, like "none": roles fail closed.
    if (c.role == kRoleAdmin) return Status::Ok();
    if (operation.empty()) return KmsError("KMS.0330");
    if (c.role == kRoleUser) return Status::Ok();
  } else if (operation.empty()) {
    return KmsError("KMS.0306");
  }
  KMSFS_ASSIGN_OR_RETURN(std::set<std::string> ops, GrantedOperations(c, key));
  if (ops.count(std::string(operation))) return Status::Ok();
  return KmsError("KMS.0306");
}

Status Service::CheckUsableForCrypto(const KeyRecord& key) {
  switch (key.key_state) {
    case kStateEnabled: break;
    case kStateDisabled: return KmsError("KMS.0209");
    case kStateScheduledDeletion: return KmsError("KMS.0210");
    default: return KmsError("KMS.1301");
  }
  if (key.key_usage != "ENCRYPT_DECRYPT") return KmsError("KMS.0335");
  if (key.key_spec != "AES_256") return KmsError("KMS.0325");
  return Status::Ok();
}

StatusOr<SecretBytes> Service::Material(const KeyRecord& key, uint32_t version) {
  KMSFS_ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> sealed, store_->GetMaterial(key.key_id, version));
  if (!sealed) return Status::NotFound("no such material version");
  return keyring_->Open(MaterialLabel(key.key_id, version), *sealed);
}

namespace {
constexpr size_t kMaxKeptEnvelopeKeys = 4096;
}  // namespace

StatusOr<std::shared_ptr<const EnvelopeKeys>> Service::EnvelopeKeysOf(const KeyRecord& key, uint32_t version) {
  const std::pair<std::string, uint32_t> id{key.key_id, version};
  {
    MutexLock lock(&keys_mu_);
    if (auto it = envelope_keys_.find(id); it != envelope_keys_.end()) return it->second;
  }
  KMSFS_ASSIGN_OR_RETURN(SecretBytes material, Material(key, version));
  KMSFS_ASSIGN_OR_RETURN(EnvelopeKeys keys, DeriveEnvelopeKeys(material));
  auto shared = std::make_shared<const EnvelopeKeys>(std::move(keys));
  MutexLock lock(&keys_mu_);
  // Bounded without bookkeeping: a deployment with more live key versions
  // than this derives again after a reset.
  if (envelope_keys_.size() >= kMaxKeptEnvelopeKeys) envelope_keys_.clear();
  envelope_keys_.emplace(id, shared);
  return shared;
}

void Service::ForgetEnvelopeKeys(const std::string& key_id) {
  MutexLock lock(&keys_mu_);
  auto it = envelope_keys_.lower_bound({key_id, 0});
  while (it != envelope_keys_.end() && it->first.first == key_id) it = envelope_keys_.erase(it);
}

std::vector<uint8_t> Service::SealMaterial(const std::string& key_id, uint32_t version,
                                           const SecretBytes& material) const {
  return keyring_->Seal(MaterialLabel(key_id, version), material.span());
}

Json Service::KeyInfo(const KeyRecord& k) const {
  auto ms = [](int64_t v) { return v > 0 ? std::to_string(v) : std::string(); };
  return {
      {"key_id", k.key_id},
      {"domain_id", k.domain_id},
      {"key_alias", k.key_alias},
      {"realm", k.realm},
      {"key_description", k.key_description},
      {"key_spec", k.key_spec},
      {"key_usage", k.key_usage},
      {"creation_date", std::to_string(k.creation_ms)},
      {"scheduled_deletion_date", k.key_state == kStateScheduledDeletion ? ms(k.scheduled_deletion_ms) : ""},
      {"key_state", std::to_string(k.key_state)},
      {"default_key_flag", k.default_key ? "1" : "0"},
      {"key_type", k.key_type},
      {"expiration_time", ms(k.expiration_ms)},
      {"origin", k.origin},
      {"key_rotation_enabled", k.rotation_enabled ? "true" : "false"},
      {"sys_enterprise_project_id", "0"},
  };
}

Json Service::GrantJson(const GrantRecord& g) {
  return {
      {"key_id", g.key_id},
      {"grant_id", g.grant_id},
      {"grantee_principal", g.grantee_principal},
      {"grantee_principal_type", g.grantee_type},
      {"operations", g.operations},
      {"issuing_principal", g.issuing_principal},
      {"creation_date", std::to_string(g.creation_ms)},
      {"name", g.name},
      {"retiring_principal", g.retiring_principal},
  };
}

Status Service::EnsureDefaultKey(std::string_view domain_id, std::string_view project_id) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(std::optional<KeyRecord> existing, store_->FindDefaultKey(domain_id));
  if (existing) return Status::Ok();
  KeyRecord k;
  k.key_id = NewKeyId();
  k.domain_id = std::string(domain_id);
  k.project_id = std::string(project_id);
  k.key_alias = std::string(kDefaultKeyAlias);
  k.realm = options_.realm;
  k.key_description = "Default master key of this domain, created by kmsd";
  k.key_spec = "AES_256";
  k.key_usage = "ENCRYPT_DECRYPT";
  k.key_type = "1";
  k.origin = "kms";
  k.key_state = kStateEnabled;
  k.default_key = true;
  k.creation_ms = clock_->WallNowMs();
  SecretBytes material = SecretBytes::Random(crypto::kAes256KeySize);
  std::vector<uint8_t> sealed = SealMaterial(k.key_id, 0, material);
  return store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->InsertKey(k));
    return store_->PutMaterial(k.key_id, 0, sealed, k.creation_ms);
  });
}

}  // namespace kmsfs::kms::server
