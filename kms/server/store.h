// Store: kmsd's persistent state in one SQLite database (WAL, synchronous=FULL),
// DATA/kmsd.db. Users, IAM tokens (SHA-256 of the token only), keys with all
// describe-key fields, versioned CMK material, grants, and pending import
// tokens with their RSA private keys.
//
// The store holds only sealed blobs for secrets (material, private keys); it
// never sees a root key. Every method is atomic on its own; RunInTransaction
// groups several calls into one atomic unit (a nested RunInTransaction joins
// the outer one).
//
// Thread-safety: safe for concurrent use; one connection behind a recursive
// mutex (calls made inside RunInTransaction's function re-enter it).
#ifndef KMSFS_KMS_SERVER_STORE_H_
#define KMSFS_KMS_SERVER_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/recursive_mutex.h"
#include "base/status.h"

struct sqlite3;

namespace kmsfs::kms::server::store_internal {
class StatementCache;
}  // namespace kmsfs::kms::server::store_internal

namespace kmsfs::kms::server {

struct UserRecord {
  std::string id;
  std::string name;
  std::string domain;
  std::string domain_id;
  std::string project_id;
  std::string project_name;   // how logins may name the project (its id unless named)
  std::string role = "kms_admin";  // users_file.h kRole*
  std::string password_hash;  // Argon2id string (PasswordHasher)
  // A verifier of kmsd before Argon2id: PBKDF2-HMAC-SHA256(password, salt,
  // iterations); replaced by password_hash at the next successful login.
  std::vector<uint8_t> salt;
  std::vector<uint8_t> verifier;
  int iterations = 0;
  bool builtin = false;  // created by kmsd itself (the admin user)
  bool active = true;    // may log in
};

struct TokenRecord {
  std::string user_id;
  std::string project_id;  // "" for a domain-scoped token
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  std::string methods = "password";  // how it was obtained: "password" or "token"
};

enum KeyStateValue : int {
  kStatePendingActivation = 1,
  kStateEnabled = 2,
  kStateDisabled = 3,
  kStateScheduledDeletion = 4,
  kStatePendingImport = 5,
};

struct KeyRecord {
  std::string key_id;
  std::string domain_id;
  std::string project_id;
  std::string key_alias;
  std::string realm;
  std::string key_description;
  std::string key_spec;
  std::string key_usage;
  std::string key_type;
  std::string origin;  // "kms" | "external"
  int key_state = kStateEnabled;
  bool default_key = false;
  int64_t creation_ms = 0;
  int64_t scheduled_deletion_ms = 0;  // 0: not scheduled
  int64_t expiration_ms = 0;          // imported material expiry; 0: none
  bool rotation_enabled = false;
  int rotation_interval_days = 365;
  int64_t last_rotation_ms = 0;
  int number_of_rotations = 0;
  uint32_t current_version = 0;                // material version new ciphertexts use
  std::vector<uint8_t> import_fingerprint;     // keyed digest of the first imported material
};

struct GrantRecord {
  std::string grant_id;  // 64 lower-case hex
  std::string key_id;
  std::string grantee_principal;
  std::string grantee_type;  // "user" | "domain"
  std::vector<std::string> operations;
  std::string issuing_principal;
  std::string name;
  std::string retiring_principal;
  int64_t creation_ms = 0;
  // The grant through which a grantee created this one (empty for a grant
  // of the key's owner): revoking or retiring it removes this one too.
  std::string parent_grant_id;
};

// An IAM access key (AK/SK). The secret key is sealed under the root key.
struct AccessKeyRecord {
  std::string access;                  // the AK
  std::string user_id;
  std::vector<uint8_t> sealed_secret;  // RootKeyring::Seal of the SK
  std::string description;
  std::string status = "active";       // "active" | "inactive"
  int64_t created_ms = 0;
  int64_t expires_ms = 0;              // 0: permanent
  std::string security_token_hash;     // temporary keys: SHA-256 hex of the security token
  std::string source;                  // "file" (users file), "api" (credentials API), "temporary"
};

struct ImportTokenRecord {
  std::string token_id;  // 64 lower-case hex
  std::string key_id;
  std::string algorithm;
  int64_t expires_s = 0;
  std::vector<uint8_t> sealed_private_key;
  int64_t created_ms = 0;
};

class Store {
 public:
  // Opens (creating) the database at `path` and its schema.
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `fn` inside BEGIN IMMEDIATE … COMMIT; rolls back when it fails.
  Status RunInTransaction(const std::function<Status()>& fn);

  StatusOr<std::optional<std::string>> GetMeta(std::string_view key);
  Status SetMeta(std::string_view key, std::string_view value);

  // --- users
  // Replaces every non-builtin user by `users`.
  Status ReplaceFileUsers(const std::vector<UserRecord>& users);
  Status PutUser(const UserRecord& user);  // insert or replace by id
  Status SetBuiltinUsersActive(bool active);
  StatusOr<std::optional<UserRecord>> FindUserById(std::string_view id);
  // Active user by login name within a domain given by name or id.
  StatusOr<std::optional<UserRecord>> FindActiveUser(std::string_view name, std::string_view domain_name,
                                                      std::string_view domain_id);
  StatusOr<std::optional<UserRecord>> FindBuiltinUser(std::string_view name);
  StatusOr<std::vector<UserRecord>> ListActiveUsers();

  // --- tokens, by SHA-256 hex of the token
  Status PutToken(std::string_view token_hash, const TokenRecord& token);
  StatusOr<std::optional<TokenRecord>> FindToken(std::string_view token_hash);
  Status PurgeTokensExpiredBefore(int64_t ms);

  // --- keys. InsertKey: kAlreadyExists when the alias is taken in the project.
  Status InsertKey(const KeyRecord& key);
  StatusOr<std::optional<KeyRecord>> GetKey(std::string_view key_id);
  StatusOr<std::optional<KeyRecord>> FindKeyByAlias(std::string_view project_id, std::string_view alias);
  StatusOr<std::optional<KeyRecord>> FindKeyByDomainAlias(std::string_view domain_id, std::string_view alias);
  StatusOr<std::optional<KeyRecord>> FindDefaultKey(std::string_view domain_id);
  StatusOr<std::vector<KeyRecord>> ListKeys(std::string_view project_id);  // creation order
  StatusOr<int64_t> CountCustomKeys(std::string_view project_id);
  // Every mutable column (the alias too), by key_id; kAlreadyExists when the
  // alias is taken in the project.
  Status UpdateKey(const KeyRecord& key);
  Status DeleteKey(std::string_view key_id);  // with its material, grants and import tokens

  // --- material versions (sealed blobs)
  Status PutMaterial(std::string_view key_id, uint32_t version, const std::vector<uint8_t>& sealed,
                     int64_t created_ms);
  StatusOr<std::optional<std::vector<uint8_t>>> GetMaterial(std::string_view key_id, uint32_t version);
  Status DeleteMaterial(std::string_view key_id);

  // --- grants
  Status InsertGrant(const GrantRecord& grant);
  StatusOr<std::optional<GrantRecord>> GetGrant(std::string_view grant_id);
  StatusOr<std::vector<GrantRecord>> ListGrantsForKey(std::string_view key_id);  // creation order
  // Grants whose grantee or retiring principal is `user_id` or `domain_id`.
  StatusOr<std::vector<GrantRecord>> ListGrantsInvolving(std::string_view user_id, std::string_view domain_id);
  StatusOr<int64_t> CountGrantsForKey(std::string_view key_id);
  // Deletes the grant and, in the same statement, every grant created
  // through it, transitively.
  Status DeleteGrant(std::string_view grant_id);

  // --- access keys
  Status PutAccessKey(const AccessKeyRecord& key);  // insert or replace by access
  StatusOr<std::optional<AccessKeyRecord>> GetAccessKey(std::string_view access);
  StatusOr<std::vector<AccessKeyRecord>> ListAccessKeys(std::string_view user_id);  // creation order
  Status DeleteAccessKey(std::string_view access);
  // Replaces every access key from the users file by `keys`.
  Status ReplaceFileAccessKeys(const std::vector<AccessKeyRecord>& keys);
  Status PurgeAccessKeysExpiredBefore(int64_t ms);

  // --- import tokens
  Status PutImportToken(const ImportTokenRecord& token);
  StatusOr<std::optional<ImportTokenRecord>> GetImportToken(std::string_view token_id);
  Status PurgeImportTokensExpiredBefore(int64_t seconds);

 private:
  explicit Store(sqlite3* db);
  Status Exec(const char* sql);
  Status AddGrantParentColumn();

  RecursiveMutex mu_;
  sqlite3* const db_ KMSFS_GUARDED_BY(mu_);  // owned; closed in the destructor
  // Prepared statements kept for reuse.
  std::unique_ptr<store_internal::StatementCache> statements_ KMSFS_GUARDED_BY(mu_);
  int tx_depth_ KMSFS_GUARDED_BY(mu_) = 0;  // nesting of RunInTransaction
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_STORE_H_
