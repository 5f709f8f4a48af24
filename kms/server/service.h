// Service: the KMS v1.0 actions of spec/kms-api.md §3, §4, §6 and §7, as kmsd
// implements them, independent of HTTP.
//
// Handle() takes the authenticated caller, the action name from the URL and
// the raw body, applies the generic checks (Request), then the action's own
// field checks, key lookup (KMS.0205 / 404 KMS.0207), authorisation (owner
// domain or a grant listing the operation, else 403 KMS.0306) and key-state
// checks, in that order, and returns the JSON response or a KmsError status.
//
// Keys are looked up globally by id, so a grantee in another domain uses its
// own project in the URL and the owner's key id. Aliases ("alias/x") resolve
// in the caller's project; URNs ("kms:<region>:<domain>:alias:<x>") in the
// named domain. Keys scheduled for deletion are purged lazily once their date
// passes; imported material past its expiration_time is erased lazily.
//
// Thread-safety: safe for concurrent use. Mutating actions serialise on one
// mutex (check-then-write must be atomic); cryptographic actions only read.
#ifndef KMSFS_KMS_SERVER_SERVICE_H_
#define KMSFS_KMS_SERVER_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "kms/server/json.h"

#include "base/clock.h"
#include "base/mutex.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/server/envelope.h"
#include "kms/server/identity.h"
#include "kms/server/request.h"
#include "kms/server/root_key.h"
#include "kms/server/store.h"

namespace kmsfs::kms::server {

class Service {
 public:
  struct Options {
    int64_t import_token_ttl_sec = 86400;  // get-parameters-for-import token lifetime
    std::string realm = "local";           // realm of keys created without one
    int max_keys_per_project = 100;        // custom keys (KMS.1105)
    int max_grants_per_key = 100;          // KMS.2404
  };

  // Alias of the default master key kmsd creates in each user's domain.
  static constexpr std::string_view kDefaultKeyAlias = "kmsfs/default";

  Service(Store* store, const RootKeyring* keyring, const Clock* clock, Options options);

  // True for every action kmsd serves under /v1.0/{project_id}/kms/.
  static bool IsKnownAction(std::string_view action);
  // True for the actions the API serves with GET and no body (user-quotas,
  // user-instances); every other known action is a POST.
  static bool IsGetAction(std::string_view action);

  // What a call touched, for the audit trail.
  struct CallTrace {
    std::string key_id;  // the key it found (a key id, whatever alias named it) or created
  };

  // Runs `action`. Never throws; every failure is a KmsError status (or an
  // internal status, answered as 500 KMS.0103). Fills `trace` when given.
  StatusOr<Json> Handle(const Caller& caller, std::string_view action, std::string_view body,
                        CallTrace* trace = nullptr);

  // Creates the default master key (alias kDefaultKeyAlias, default_key_flag
  // "1") of `domain_id`, in `project_id`, unless the domain already has one.
  Status EnsureDefaultKey(std::string_view domain_id, std::string_view project_id);

 private:

  // --- keys (service_keys.cc)
  StatusOr<Json> CreateKey(const Caller& c, const Request& r);
  StatusOr<Json> DescribeKey(const Caller& c, const Request& r);
  StatusOr<Json> ListKeys(const Caller& c, const Request& r);
  StatusOr<Json> EnableKey(const Caller& c, const Request& r);
  StatusOr<Json> DisableKey(const Caller& c, const Request& r);
  StatusOr<Json> ScheduleKeyDeletion(const Caller& c, const Request& r);
  StatusOr<Json> CancelKeyDeletion(const Caller& c, const Request& r);
  StatusOr<Json> EnableKeyRotation(const Caller& c, const Request& r);
  StatusOr<Json> DisableKeyRotation(const Caller& c, const Request& r);
  StatusOr<Json> GetKeyRotationStatus(const Caller& c, const Request& r);
  StatusOr<Json> GenRandom(const Caller& c, const Request& r);
  // --- data keys and data (service_crypto.cc)
  StatusOr<Json> CreateDataKey(const Caller& c, const Request& r, bool with_plaintext);
  StatusOr<Json> EncryptDataKey(const Caller& c, const Request& r);
  StatusOr<Json> DecryptDataKey(const Caller& c, const Request& r);
  StatusOr<Json> EncryptData(const Caller& c, const Request& r);
  StatusOr<Json> DecryptData(const Caller& c, const Request& r);
  // --- grants (service_grants.cc)
  StatusOr<Json> CreateGrant(const Caller& c, const Request& r);
  StatusOr<Json> ListGrants(const Caller& c, const Request& r);
  StatusOr<Json> RevokeGrant(const Caller& c, const Request& r);
  StatusOr<Json> RetireGrant(const Caller& c, const Request& r);
  StatusOr<Json> ListRetirableGrants(const Caller& c, const Request& r);
  // --- changes to a key's settings and material (service_key_settings.cc)
  StatusOr<Json> UpdateKeyAlias(const Caller& c, const Request& r);
  StatusOr<Json> UpdateKeyDescription(const Caller& c, const Request& r);
  StatusOr<Json> UpdateKeyRotationInterval(const Caller& c, const Request& r);
  StatusOr<Json> RotateOnDemand(const Caller& c, const Request& r);
  // --- the caller's account (service_account.cc)
  StatusOr<Json> ShowUserQuotas(const Caller& c, const Request& r);
  StatusOr<Json> ShowUserInstances(const Caller& c, const Request& r);
  // --- import (service_import.cc)
  StatusOr<Json> GetParametersForImport(const Caller& c, const Request& r);
  StatusOr<Json> ImportKeyMaterial(const Caller& c, const Request& r);
  StatusOr<Json> DeleteImportedKeyMaterial(const Caller& c, const Request& r);

  // --- shared (service.cc)
  // Resolves `ref` (a key id; with `allow_alias` also alias/… and URNs) and
  // applies lazy deletion/expiry. KMS.0205, 404 KMS.0207.
  StatusOr<KeyRecord> LoadKey(const Caller& c, std::string_view ref, bool allow_alias);
  // Applies lazy deletion (404 KMS.0207) and material expiry to a key just
  // read from the store.
  StatusOr<KeyRecord> Refresh(KeyRecord key);
  // Who may act on `key` (docs/KMSD.md "Roles"): in the owning domain a
  // kms_admin may do anything and a kms_user any key operation (non-empty
  // `operation`); an empty `operation` (managing the key) needs kms_admin,
  // else 403 KMS.0330. Everyone else, a role-less user of the owning domain
  // included, needs a live grant to it listing `operation`: 403 KMS.0306.
  Status Authorize(const Caller& c, const KeyRecord& key, std::string_view operation);
  // Whether the caller manages the keys of the domain that owns `key`.
  static bool ManagesKeysOf(const Caller& c, const KeyRecord& key);
  // Actions that name no key: creating keys needs kms_admin, reading the
  // project's keys and quotas kms_user or kms_admin. 403 KMS.0330 otherwise.
  static Status RequireAdminRole(const Caller& c);
  static Status RequireUserRole(const Caller& c);
  // Adds a new material version to `key` (an AES_256 key of origin kms) that
  // new ciphertexts use; old versions stay, so old ciphertexts still open.
  // Persists the key; call with mu_ held.
  Status RotateMaterial(KeyRecord* key);
  // Rules every rotation action shares: not the default key (KMS.0211), not
  // imported (KMS.0312), AES_256 (KMS.0324), not pending deletion (KMS.0210).
  static Status CheckRotatable(const KeyRecord& key);
  // Operations the caller holds on `key` through grants.
  StatusOr<std::set<std::string>> GrantedOperations(const Caller& c, const KeyRecord& key);
  // spec §1.9: state, then usage and spec.
  static Status CheckUsableForCrypto(const KeyRecord& key);
  // Unsealed material of `version`; kNotFound when that version is gone.
  StatusOr<SecretBytes> Material(const KeyRecord& key, uint32_t version);
  // The envelope keys of `version` of `key`, derived from its material once
  // and then kept (a material version never changes: imported material can
  // only come back identical). kNotFound when that version is gone.
  StatusOr<std::shared_ptr<const EnvelopeKeys>> EnvelopeKeysOf(const KeyRecord& key, uint32_t version);
  // Drops the kept envelope keys of `key_id` (its material or the key is gone).
  void ForgetEnvelopeKeys(const std::string& key_id);
  std::vector<uint8_t> SealMaterial(const std::string& key_id, uint32_t version, const SecretBytes& material) const;
  Json KeyInfo(const KeyRecord& key) const;
  static Json GrantJson(const GrantRecord& g);
  // Records `key_id` in the trace of the call being handled, if any.
  static void NoteKey(const std::string& key_id);

  Store* store_;
  const RootKeyring* keyring_;
  const Clock* clock_;
  Options options_;
  // Serialises mutating actions (check-then-write against the store); taken
  // before the store's own lock, never while holding it.
  Mutex mu_;

  Mutex keys_mu_;  // taken alone
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<const EnvelopeKeys>> envelope_keys_
      KMSFS_GUARDED_BY(keys_mu_);
};

// Pagination of list actions (spec §3.3): `limit` ("" = all, capped at 1000;
// non-numeric or 0 -> KMS.1601) and `marker` (zero-based start; bad -> KMS.1602).
struct Page {
  size_t begin = 0;
  size_t end = 0;
  bool truncated = false;
  std::string next_marker;
};
StatusOr<Page> Paginate(const Request& r, size_t total);

// A random version-4 UUID in lower case (key ids).
std::string NewKeyId();

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_SERVICE_H_
