#include "kms/server/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace kmsfs::kms::server {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, domain TEXT NOT NULL, domain_id TEXT NOT NULL,
  project_id TEXT NOT NULL, salt BLOB NOT NULL, verifier BLOB NOT NULL, iterations INTEGER NOT NULL,
  builtin INTEGER NOT NULL, active INTEGER NOT NULL, password_hash TEXT NOT NULL DEFAULT '',
  project_name TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT 'kms_admin');
CREATE TABLE IF NOT EXISTS tokens(
  hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT NOT NULL,
  issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, methods TEXT NOT NULL DEFAULT 'password');
CREATE TABLE IF NOT EXISTS keys(
  key_id TEXT PRIMARY KEY, domain_id TEXT NOT NULL, project_id TEXT NOT NULL, key_alias TEXT NOT NULL,
  realm TEXT NOT NULL, key_description TEXT NOT NULL, key_spec TEXT NOT NULL, key_usage TEXT NOT NULL,
  key_type TEXT NOT NULL, origin TEXT NOT NULL, key_state INTEGER NOT NULL, default_key INTEGER NOT NULL,
  creation_ms INTEGER NOT NULL, scheduled_deletion_ms INTEGER NOT NULL, expiration_ms INTEGER NOT NULL,
  rotation_enabled INTEGER NOT NULL, rotation_interval INTEGER NOT NULL, last_rotation_ms INTEGER NOT NULL,
  number_of_rotations INTEGER NOT NULL, current_version INTEGER NOT NULL, import_fingerprint BLOB,
  UNIQUE(project_id, key_alias));
CREATE INDEX IF NOT EXISTS keys_by_domain ON keys(domain_id, key_alias);
CREATE TABLE IF NOT EXISTS key_material(
  key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE, version INTEGER NOT NULL,
  sealed BLOB NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY(key_id, version));
CREATE TABLE IF NOT EXISTS grants(
  grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
  grantee_principal TEXT NOT NULL, grantee_type TEXT NOT NULL, operations TEXT NOT NULL,
  issuing_principal TEXT NOT NULL, name TEXT NOT NULL, retiring_principal TEXT NOT NULL,
  creation_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS grants_by_key ON grants(key_id);
CREATE TABLE IF NOT EXISTS import_tokens(
  token_id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
  algorithm TEXT NOT NULL, expires_s INTEGER NOT NULL, sealed_private_key BLOB NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_keys(
  access TEXT PRIMARY KEY, user_id TEXT NOT NULL, sealed_secret BLOB NOT NULL, description TEXT NOT NULL,
  status TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
  security_token_hash TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys(user_id);
CREATE TABLE IF NOT EXISTS aliases(
  domain_id TEXT NOT NULL, alias TEXT NOT NULL,
  key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(domain_id, alias));
CREATE INDEX IF NOT EXISTS aliases_by_key ON aliases(key_id);
CREATE TABLE IF NOT EXISTS key_tags(
  key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE, tag_key TEXT NOT NULL,
  tag_value TEXT NOT NULL, PRIMARY KEY(key_id, tag_key));
INSERT OR IGNORE INTO meta(k, v) VALUES('schema_version', '2');
)sql";

// Schema 1 (before Argon2id, project names, roles and token methods) to 2;
// the new tables exist already (CREATE TABLE IF NOT EXISTS above).
constexpr const char* kUpgrade1To2 = R"sql(
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN project_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'kms_admin';
ALTER TABLE tokens ADD COLUMN methods TEXT NOT NULL DEFAULT 'password';
UPDATE meta SET v = '2' WHERE k = 'schema_version';
)sql";

Status DbError(sqlite3* db, std::string_view what) {
  return Status::Internal("sqlite: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

namespace store_internal {

// Idle prepared statements by SQL text. Every query of a request (token,
// user, key, material) used to be parsed anew; a kept statement is only
// reset and rebound.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }
  // An idle statement for `sql`, or a newly prepared one (null on error, with rc set).
  sqlite3_stmt* Take(const std::string& sql, int* rc) {
    *rc = SQLITE_OK;
    auto it = idle_.find(sql);
    if (it != idle_.end()) {
      sqlite3_stmt* stmt = it->second;
      idle_.erase(it);
      return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    *rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    return stmt;
  }
  // Takes `stmt` back for reuse; a statement of the same text already idle
  // (a query run inside another of the same text) is finalized instead.
  void Return(const std::string& sql, sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!idle_.emplace(sql, stmt).second) sqlite3_finalize(stmt);
  }

 private:
  sqlite3* const db_;
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

}  // namespace store_internal

namespace {

using store_internal::StatementCache;

// One prepared statement, borrowed from the store's cache for one use and
// given back (reset, bindings cleared) on destruction. Callers hold the
// store's mutex.
class Stmt {
 public:
  Stmt(StatementCache& cache, std::string sql) : cache_(cache), db_(cache.db()), sql_(std::move(sql)) {
    stmt_ = cache_.Take(sql_, &rc_);
  }
  ~Stmt() {
    if (stmt_ != nullptr) cache_.Return(sql_, stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& Bind(int i, bool v) { return Bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& Bind(int i, uint32_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Stmt& BindBlob(int i, const std::vector<uint8_t>& v) {
    if (v.empty()) {
      sqlite3_bind_zeroblob(stmt_, i, 0);  // empty, not NULL
    } else {
      sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  // Runs a statement that returns no rows.
  Status Run(std::string_view what) {
    if (!prepared()) return DbError(db_, what);
    int rc = Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return DbError(db_, what);
    return Status::Ok();
  }

  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::vector<uint8_t> Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr || n <= 0) return {};
    const uint8_t* b = static_cast<const uint8_t*>(p);
    return std::vector<uint8_t>(b, b + n);
  }

 private:
  StatementCache& cache_;
  sqlite3* db_;
  const std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Runs a query and collects rows with `read`.
template <typename T, typename Reader>
StatusOr<std::vector<T>> Query(sqlite3* db, Stmt& st, std::string_view what, Reader read) {
  if (!st.prepared()) return DbError(db, what);
  std::vector<T> rows;
  for (;;) {
    int rc = st.Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return DbError(db, what);
    rows.push_back(read(st));
  }
  return rows;
}

template <typename T>
StatusOr<std::optional<T>> First(StatusOr<std::vector<T>> rows) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows->front()));
}

constexpr const char* kUserColumns =
    "id, name, domain, domain_id, project_id, salt, verifier, iterations, builtin, active, password_hash, "
    "project_name, role";

UserRecord ReadUser(const Stmt& s) {
  UserRecord u;
  u.id = s.Text(0);
  u.name = s.Text(1);
  u.domain = s.Text(2);
  u.domain_id = s.Text(3);
  u.project_id = s.Text(4);
  u.salt = s.Blob(5);
  u.verifier = s.Blob(6);
  u.iterations = static_cast<int>(s.Int(7));
  u.builtin = s.Int(8) != 0;
  u.active = s.Int(9) != 0;
  u.password_hash = s.Text(10);
  u.project_name = s.Text(11);
  if (u.project_name.empty()) u.project_name = u.project_id;
  u.role = s.Text(12);
  return u;
}

constexpr const char* kKeyColumns =
    "key_id, domain_id, project_id, key_alias, realm, key_description, key_spec, key_usage, key_type, "
    "origin, key_state, default_key, creation_ms, scheduled_deletion_ms, expiration_ms, rotation_enabled, "
    "rotation_interval, last_rotation_ms, number_of_rotations, current_version, import_fingerprint";

KeyRecord ReadKey(const Stmt& s) {
  KeyRecord k;
  k.key_id = s.Text(0);
  k.domain_id = s.Text(1);
  k.project_id = s.Text(2);
  k.key_alias = s.Text(3);
  k.realm = s.Text(4);
  k.key_description = s.Text(5);
  k.key_spec = s.Text(6);
  k.key_usage = s.Text(7);
  k.key_type = s.Text(8);
  k.origin = s.Text(9);
  k.key_state = static_cast<int>(s.Int(10));
  k.default_key = s.Int(11) != 0;
  k.creation_ms = s.Int(12);
  k.scheduled_deletion_ms = s.Int(13);
  k.expiration_ms = s.Int(14);
  k.rotation_enabled = s.Int(15) != 0;
  k.rotation_interval_days = static_cast<int>(s.Int(16));
  k.last_rotation_ms = s.Int(17);
  k.number_of_rotations = static_cast<int>(s.Int(18));
  k.current_version = static_cast<uint32_t>(s.Int(19));
  k.import_fingerprint = s.Blob(20);
  return k;
}

// Binds every key column in kKeyColumns order, starting at index 1.
void BindKey(Stmt& s, const KeyRecord& k) {
  s.Bind(1, k.key_id).Bind(2, k.domain_id).Bind(3, k.project_id).Bind(4, k.key_alias).Bind(5, k.realm);
  s.Bind(6, k.key_description).Bind(7, k.key_spec).Bind(8, k.key_usage).Bind(9, k.key_type);
  s.Bind(10, k.origin).Bind(11, k.key_state).Bind(12, k.default_key).Bind(13, k.creation_ms);
  s.Bind(14, k.scheduled_deletion_ms).Bind(15, k.expiration_ms).Bind(16, k.rotation_enabled);
  s.Bind(17, k.rotation_interval_days).Bind(18, k.last_rotation_ms).Bind(19, k.number_of_rotations);
  s.Bind(20, k.current_version).BindBlob(21, k.import_fingerprint);
}

constexpr const char* kGrantColumns =
    "grant_id, key_id, grantee_principal, grantee_type, operations, issuing_principal, name, "
    "retiring_principal, creation_ms, parent_grant_id";

GrantRecord ReadGrant(const Stmt& s) {
  GrantRecord g;
  g.grant_id = s.Text(0);
  g.key_id = s.Text(1);
  g.grantee_principal = s.Text(2);
  g.grantee_type = s.Text(3);
  nlohmann::json ops = nlohmann::json::parse(s.Text(4), nullptr, false);
  if (ops.is_array()) {
    for (const auto& op : ops) {
      if (op.is_string()) g.operations.push_back(op.get<std::string>());
    }
  }
  g.issuing_principal = s.Text(5);
  g.name = s.Text(6);
  g.retiring_principal = s.Text(7);
  g.creation_ms = s.Int(8);
  g.parent_grant_id = s.Text(9);
  return g;
}

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOFOLLOW: a symbolic link planted as the database is refused, not followed.
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<Store> store(new Store(db));
  ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db, 5000);
  // kmsd is the database's only user: holding its lock for the life of the
  // process spares every statement a lock and unlock (fcntl) of the file and
  // the WAL index in shared memory, and a second kmsd on the same data
  // directory fails to open it instead of sharing it.
  auto init = [&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store->Exec("PRAGMA locking_mode=EXCLUSIVE"));
    KMSFS_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
    KMSFS_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
    KMSFS_RETURN_IF_ERROR(store->Exec("PRAGMA foreign_keys=ON"));
    return store->Exec(kSchema);
  };
  Status st = init();
  auto version = st.ok() ? store->GetMeta("schema_version") : StatusOr<std::optional<std::string>>(st);
  if (!version.ok()) {
    if (sqlite3_errcode(db) != SQLITE_BUSY) return version.status();
    return Status::Unavailable("database " + path +
                               " is in use by another process (another kmsd on this data directory?)");
  }
  if (version->has_value() && **version == "1") {
    KMSFS_RETURN_IF_ERROR(store->RunInTransaction([&] { return store->Exec(kUpgrade1To2); }));
    version = std::optional<std::string>("2");
  }
  if (!version->has_value() || **version != "2") {
    return Status::FailedPrecondition("database " + path + " has an unknown schema version");
  }
  KMSFS_RETURN_IF_ERROR(store->AddGrantParentColumn());
  return store;
}

Store::Store(sqlite3* db) : db_(db), statements_(std::make_unique<StatementCache>(db)) {}

// A nullable column added without a new schema version: a data directory of
// an earlier kmsd gains it here (its grants have no parent), and an earlier
// kmsd still opens one that has it (it names its columns).
Status Store::AddGrantParentColumn() {
  RecursiveMutexLock lock(&mu_);
  int64_t present = 0;
  {
    Stmt s(*statements_, "SELECT COUNT(*) FROM pragma_table_info('grants') WHERE name = 'parent_grant_id'");
    auto rows = Query<int64_t>(db_, s, "read grants columns", [](const Stmt& r) { return r.Int(0); });
    if (!rows.ok()) return rows.status();
    present = rows->empty() ? 0 : rows->front();
  }
  if (present != 0) return Status::Ok();
  return RunInTransaction([&] {
    KMSFS_RETURN_IF_ERROR(Exec("ALTER TABLE grants ADD COLUMN parent_grant_id TEXT"));
    return Exec("CREATE INDEX IF NOT EXISTS grants_by_parent ON grants(parent_grant_id)");
  });
}

Store::~Store() {
  statements_.reset();  // finalize before close
  sqlite3_close(db_);
}

Status Store::Exec(const char* sql) {
  RecursiveMutexLock lock(&mu_);
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::Internal("sqlite: " + msg);
  }
  return Status::Ok();
}

Status Store::RunInTransaction(const std::function<Status()>& fn) {
  RecursiveMutexLock lock(&mu_);
  // A transaction inside a transaction joins the outer one: SQLite cannot
  // nest BEGIN, and the outer COMMIT/ROLLBACK covers the inner work.
  if (sqlite3_get_autocommit(db_) == 0) return fn();
  KMSFS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status st = fn();
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  Status commit = Exec("COMMIT");
  if (!commit.ok()) (void)Exec("ROLLBACK");
  return commit;
}

StatusOr<std::optional<std::string>> Store::GetMeta(std::string_view key) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT v FROM meta WHERE k = ?");
  s.Bind(1, key);
  return First(Query<std::string>(db_, s, "read meta", [](const Stmt& r) { return r.Text(0); }));
}

Status Store::SetMeta(std::string_view key, std::string_view value) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)");
  s.Bind(1, key).Bind(2, value);
  return s.Run("write meta");
}

// --- users

Status Store::ReplaceFileUsers(const std::vector<UserRecord>& users) {
  return RunInTransaction([&]() -> Status {
    RecursiveMutexLock lock(&mu_);  // re-entered: RunInTransaction holds it
    Stmt del(*statements_, "DELETE FROM users WHERE builtin = 0");
    KMSFS_RETURN_IF_ERROR(del.Run("delete users"));
    for (const UserRecord& u : users) KMSFS_RETURN_IF_ERROR(PutUser(u));
    return Status::Ok();
  });
}

Status Store::PutUser(const UserRecord& u) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "INSERT OR REPLACE INTO users(id, name, domain, domain_id, project_id, salt, verifier, "
              "iterations, builtin, active, password_hash, project_name, role) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.Bind(1, u.id).Bind(2, u.name).Bind(3, u.domain).Bind(4, u.domain_id).Bind(5, u.project_id);
  s.BindBlob(6, u.salt).BindBlob(7, u.verifier).Bind(8, u.iterations).Bind(9, u.builtin).Bind(10, u.active);
  s.Bind(11, u.password_hash).Bind(12, u.project_name).Bind(13, u.role);
  return s.Run("write user");
}

Status Store::SetBuiltinUsersActive(bool active) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "UPDATE users SET active = ? WHERE builtin = 1");
  s.Bind(1, active);
  return s.Run("update users");
}

StatusOr<std::optional<UserRecord>> Store::FindUserById(std::string_view id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, id);
  return First(Query<UserRecord>(db_, s, "read user", ReadUser));
}

StatusOr<std::optional<UserRecord>> Store::FindActiveUser(std::string_view name, std::string_view domain_name,
                                                           std::string_view domain_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kUserColumns +
                    " FROM users WHERE active = 1 AND name = ?1 AND ((?2 <> '' AND domain = ?2) OR "
                    "(?3 <> '' AND domain_id = ?3)) "
                    "ORDER BY builtin LIMIT 1";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, name).Bind(2, domain_name).Bind(3, domain_id);
  return First(Query<UserRecord>(db_, s, "read user", ReadUser));
}

StatusOr<std::optional<UserRecord>> Store::FindBuiltinUser(std::string_view name) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kUserColumns + " FROM users WHERE builtin = 1 AND name = ?";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, name);
  return First(Query<UserRecord>(db_, s, "read user", ReadUser));
}

StatusOr<std::vector<UserRecord>> Store::ListActiveUsers() {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kUserColumns + " FROM users WHERE active = 1 ORDER BY rowid";
  Stmt s(*statements_, sql.c_str());
  return Query<UserRecord>(db_, s, "list users", ReadUser);
}

// --- tokens

Status Store::PutToken(std::string_view token_hash, const TokenRecord& t) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "INSERT OR REPLACE INTO tokens(hash, user_id, project_id, issued_ms, expires_ms, methods) "
              "VALUES(?,?,?,?,?,?)");
  s.Bind(1, token_hash).Bind(2, t.user_id).Bind(3, t.project_id).Bind(4, t.issued_ms).Bind(5, t.expires_ms);
  s.Bind(6, t.methods);
  return s.Run("write token");
}

StatusOr<std::optional<TokenRecord>> Store::FindToken(std::string_view token_hash) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT user_id, project_id, issued_ms, expires_ms, methods FROM tokens WHERE hash = ?");
  s.Bind(1, token_hash);
  return First(Query<TokenRecord>(db_, s, "read token", [](const Stmt& r) {
    return TokenRecord{r.Text(0), r.Text(1), r.Int(2), r.Int(3), r.Text(4)};
  }));
}

Status Store::PurgeTokensExpiredBefore(int64_t ms) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM tokens WHERE expires_ms < ?");
  s.Bind(1, ms);
  return s.Run("purge tokens");
}

// --- keys

Status Store::InsertKey(const KeyRecord& key) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("INSERT INTO keys(") + kKeyColumns +
                    ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Stmt s(*statements_, sql.c_str());
  if (!s.prepared()) return DbError(db_, "insert key");
  BindKey(s, key);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("key alias or id already exists");
  if (rc != SQLITE_DONE) return DbError(db_, "insert key");
  return Status::Ok();
}

StatusOr<std::optional<KeyRecord>> Store::GetKey(std::string_view key_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys WHERE key_id = ?";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, key_id);
  return First(Query<KeyRecord>(db_, s, "read key", ReadKey));
}

StatusOr<std::optional<KeyRecord>> Store::FindKeyByAlias(std::string_view project_id, std::string_view alias) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys WHERE project_id = ? AND key_alias = ?";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, project_id).Bind(2, alias);
  return First(Query<KeyRecord>(db_, s, "read key", ReadKey));
}

StatusOr<std::optional<KeyRecord>> Store::FindKeyByDomainAlias(std::string_view domain_id,
                                                               std::string_view alias) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns +
                    " FROM keys WHERE domain_id = ? AND key_alias = ? ORDER BY rowid LIMIT 1";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, domain_id).Bind(2, alias);
  return First(Query<KeyRecord>(db_, s, "read key", ReadKey));
}

StatusOr<std::optional<KeyRecord>> Store::FindDefaultKey(std::string_view domain_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns +
                    " FROM keys WHERE domain_id = ? AND default_key = 1 ORDER BY rowid LIMIT 1";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, domain_id);
  return First(Query<KeyRecord>(db_, s, "read key", ReadKey));
}

StatusOr<std::vector<KeyRecord>> Store::ListKeys(std::string_view project_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM keys WHERE project_id = ? ORDER BY rowid";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, project_id);
  return Query<KeyRecord>(db_, s, "list keys", ReadKey);
}

StatusOr<int64_t> Store::CountCustomKeys(std::string_view project_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT COUNT(*) FROM keys WHERE project_id = ? AND default_key = 0");
  s.Bind(1, project_id);
  auto rows = Query<int64_t>(db_, s, "count keys", [](const Stmt& r) { return r.Int(0); });
  if (!rows.ok()) return rows.status();
  return rows->empty() ? 0 : rows->front();
}

Status Store::UpdateKey(const KeyRecord& k) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_,
         "UPDATE keys SET key_description = ?2, key_state = ?3, scheduled_deletion_ms = ?4, "
         "expiration_ms = ?5, rotation_enabled = ?6, rotation_interval = ?7, last_rotation_ms = ?8, "
         "number_of_rotations = ?9, current_version = ?10, import_fingerprint = ?11, key_alias = ?12 "
         "WHERE key_id = ?1");
  if (!s.prepared()) return DbError(db_, "update key");
  s.Bind(1, k.key_id).Bind(2, k.key_description).Bind(3, k.key_state).Bind(4, k.scheduled_deletion_ms);
  s.Bind(5, k.expiration_ms).Bind(6, k.rotation_enabled).Bind(7, k.rotation_interval_days);
  s.Bind(8, k.last_rotation_ms).Bind(9, k.number_of_rotations).Bind(10, k.current_version);
  s.BindBlob(11, k.import_fingerprint).Bind(12, k.key_alias);
  const int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT) return Status::AlreadyExists("key alias already exists in the project");
  if (rc != SQLITE_DONE) return DbError(db_, "update key");
  return Status::Ok();
}

Status Store::DeleteKey(std::string_view key_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM keys WHERE key_id = ?");  // cascades to material, grants, import tokens
  s.Bind(1, key_id);
  return s.Run("delete key");
}

// --- material

Status Store::PutMaterial(std::string_view key_id, uint32_t version, const std::vector<uint8_t>& sealed,
                         int64_t created_ms) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "INSERT OR REPLACE INTO key_material(key_id, version, sealed, created_ms) VALUES(?,?,?,?)");
  s.Bind(1, key_id).Bind(2, version).BindBlob(3, sealed).Bind(4, created_ms);
  return s.Run("write key material");
}

StatusOr<std::optional<std::vector<uint8_t>>> Store::GetMaterial(std::string_view key_id, uint32_t version) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT sealed FROM key_material WHERE key_id = ? AND version = ?");
  s.Bind(1, key_id).Bind(2, version);
  return First(Query<std::vector<uint8_t>>(db_, s, "read key material", [](const Stmt& r) { return r.Blob(0); }));
}

Status Store::DeleteMaterial(std::string_view key_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM key_material WHERE key_id = ?");
  s.Bind(1, key_id);
  return s.Run("delete key material");
}

// --- grants

Status Store::InsertGrant(const GrantRecord& g) {
  RecursiveMutexLock lock(&mu_);
  std::string sql =
      std::string("INSERT INTO grants(") + kGrantColumns + ") VALUES(?,?,?,?,?,?,?,?,?,NULLIF(?10,''))";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, g.grant_id).Bind(2, g.key_id).Bind(3, g.grantee_principal).Bind(4, g.grantee_type);
  s.Bind(5, nlohmann::json(g.operations).dump()).Bind(6, g.issuing_principal).Bind(7, g.name);
  s.Bind(8, g.retiring_principal).Bind(9, g.creation_ms).Bind(10, g.parent_grant_id);
  return s.Run("insert grant");
}

StatusOr<std::optional<GrantRecord>> Store::GetGrant(std::string_view grant_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kGrantColumns + " FROM grants WHERE grant_id = ?";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, grant_id);
  return First(Query<GrantRecord>(db_, s, "read grant", ReadGrant));
}

StatusOr<std::vector<GrantRecord>> Store::ListGrantsForKey(std::string_view key_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kGrantColumns + " FROM grants WHERE key_id = ? ORDER BY rowid";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, key_id);
  return Query<GrantRecord>(db_, s, "list grants", ReadGrant);
}

StatusOr<std::vector<GrantRecord>> Store::ListGrantsInvolving(std::string_view user_id,
                                                              std::string_view domain_id) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("SELECT ") + kGrantColumns +
                    " FROM grants WHERE grantee_principal IN (?1, ?2) OR retiring_principal IN (?1, ?2) "
                    "ORDER BY rowid";
  Stmt s(*statements_, sql.c_str());
  s.Bind(1, user_id).Bind(2, domain_id);
  return Query<GrantRecord>(db_, s, "list grants", ReadGrant);
}

StatusOr<int64_t> Store::CountGrantsForKey(std::string_view key_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT COUNT(*) FROM grants WHERE key_id = ?");
  s.Bind(1, key_id);
  auto rows = Query<int64_t>(db_, s, "count grants", [](const Stmt& r) { return r.Int(0); });
  if (!rows.ok()) return rows.status();
  return rows->empty() ? 0 : rows->front();
}

Status Store::DeleteGrant(std::string_view grant_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_,
         "WITH RECURSIVE doomed(id) AS (SELECT ?1 UNION SELECT g.grant_id FROM grants g JOIN doomed "
         "ON g.parent_grant_id = doomed.id) DELETE FROM grants WHERE grant_id IN (SELECT id FROM doomed)");
  s.Bind(1, grant_id);
  return s.Run("delete grant");
}

// --- access keys

namespace {
constexpr const char* kAccessKeyColumns =
    "access, user_id, sealed_secret, description, status, created_ms, expires_ms, security_token_hash, source";

AccessKeyRecord ReadAccessKey(const Stmt& s) {
  AccessKeyRecord k;
  k.access = s.Text(0);
  k.user_id = s.Text(1);
  k.sealed_secret = s.Blob(2);
  k.description = s.Text(3);
  k.status = s.Text(4);
  k.created_ms = s.Int(5);
  k.expires_ms = s.Int(6);
  k.security_token_hash = s.Text(7);
  k.source = s.Text(8);
  return k;
}
}  // namespace

Status Store::PutAccessKey(const AccessKeyRecord& k) {
  RecursiveMutexLock lock(&mu_);
  std::string sql = std::string("INSERT OR REPLACE INTO access_keys(") + kAccessKeyColumns + ") VALUES(?,?,?,?,?,?,?,?,?)";
  Stmt s(*statements_, sql);
  s.Bind(1, k.access).Bind(2, k.user_id).BindBlob(3, k.sealed_secret).Bind(4, k.description).Bind(5, k.status);
  s.Bind(6, k.created_ms).Bind(7, k.expires_ms).Bind(8, k.security_token_hash).Bind(9, k.source);
  return s.Run("write access key");
}

StatusOr<std::optional<AccessKeyRecord>> Store::GetAccessKey(std::string_view access) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, std::string("SELECT ") + kAccessKeyColumns + " FROM access_keys WHERE access = ?");
  s.Bind(1, access);
  return First(Query<AccessKeyRecord>(db_, s, "read access key", ReadAccessKey));
}

StatusOr<std::vector<AccessKeyRecord>> Store::ListAccessKeys(std::string_view user_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, std::string("SELECT ") + kAccessKeyColumns + " FROM access_keys WHERE user_id = ? ORDER BY rowid");
  s.Bind(1, user_id);
  return Query<AccessKeyRecord>(db_, s, "list access keys", ReadAccessKey);
}

Status Store::DeleteAccessKey(std::string_view access) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM access_keys WHERE access = ?");
  s.Bind(1, access);
  return s.Run("delete access key");
}

Status Store::ReplaceFileAccessKeys(const std::vector<AccessKeyRecord>& keys) {
  return RunInTransaction([&]() -> Status {
    RecursiveMutexLock lock(&mu_);  // re-entered: RunInTransaction holds it
    Stmt del(*statements_, "DELETE FROM access_keys WHERE source = 'file'");
    KMSFS_RETURN_IF_ERROR(del.Run("delete access keys"));
    for (const AccessKeyRecord& k : keys) KMSFS_RETURN_IF_ERROR(PutAccessKey(k));
    return Status::Ok();
  });
}

Status Store::PurgeAccessKeysExpiredBefore(int64_t ms) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM access_keys WHERE expires_ms > 0 AND expires_ms < ?");
  s.Bind(1, ms);
  return s.Run("purge access keys");
}

// --- import tokens

Status Store::PutImportToken(const ImportTokenRecord& t) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "INSERT OR REPLACE INTO import_tokens(token_id, key_id, algorithm, expires_s, "
              "sealed_private_key, created_ms) VALUES(?,?,?,?,?,?)");
  s.Bind(1, t.token_id).Bind(2, t.key_id).Bind(3, t.algorithm).Bind(4, t.expires_s);
  s.BindBlob(5, t.sealed_private_key).Bind(6, t.created_ms);
  return s.Run("write import token");
}

StatusOr<std::optional<ImportTokenRecord>> Store::GetImportToken(std::string_view token_id) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "SELECT token_id, key_id, algorithm, expires_s, sealed_private_key, created_ms "
              "FROM import_tokens WHERE token_id = ?");
  s.Bind(1, token_id);
  return First(Query<ImportTokenRecord>(db_, s, "read import token", [](const Stmt& r) {
    return ImportTokenRecord{r.Text(0), r.Text(1), r.Text(2), r.Int(3), r.Blob(4), r.Int(5)};
  }));
}

Status Store::PurgeImportTokensExpiredBefore(int64_t seconds) {
  RecursiveMutexLock lock(&mu_);
  Stmt s(*statements_, "DELETE FROM import_tokens WHERE expires_s < ?");
  s.Bind(1, seconds);
  return s.Run("purge import tokens");
}

}  // namespace kmsfs::kms::server
