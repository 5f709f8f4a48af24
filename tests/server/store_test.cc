#include "kms/server/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using ::kmsfs::testing::TempDir;

KeyRecord SampleKey(const std::string& id, const std::string& alias, const std::string& project = "p1") {
  KeyRecord k;
  k.key_id = id;
  k.domain_id = "d1";
  k.project_id = project;
  k.key_alias = alias;
  k.realm = "local";
  k.key_spec = "AES_256";
  k.key_usage = "ENCRYPT_DECRYPT";
  k.key_type = "1";
  k.origin = "kms";
  k.creation_ms = 1000;
  return k;
}

GrantRecord SampleGrant(const std::string& id, const std::string& key_id, const std::string& grantee) {
  GrantRecord g;
  g.grant_id = id;
  g.key_id = key_id;
  g.grantee_principal = grantee;
  g.grantee_type = "user";
  g.operations = {"decrypt-datakey", "describe-key"};
  g.issuing_principal = "owner";
  g.creation_ms = 2000;
  return g;
}

class KmsdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_.Join("kmsd.db"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(KmsdStoreTest, KeyRoundTripsEveryField) {
  KeyRecord k = SampleKey("k1", "alias-1");
  k.key_description = "d\xc3\xa9sc";
  k.key_state = kStateScheduledDeletion;
  k.default_key = true;
  k.scheduled_deletion_ms = 5;
  k.expiration_ms = 6;
  k.rotation_enabled = true;
  k.rotation_interval_days = 30;
  k.last_rotation_ms = 7;
  k.number_of_rotations = 2;
  k.current_version = 2;
  k.import_fingerprint = {1, 2, 3};
  ASSERT_TRUE(store_->InsertKey(k).ok());
  auto got = store_->GetKey("k1");
  ASSERT_TRUE(got.ok() && got->has_value());
  const KeyRecord& g = **got;
  EXPECT_EQ(g.key_alias, "alias-1");
  EXPECT_EQ(g.key_description, "d\xc3\xa9sc");
  EXPECT_EQ(g.key_state, kStateScheduledDeletion);
  EXPECT_TRUE(g.default_key);
  EXPECT_EQ(g.scheduled_deletion_ms, 5);
  EXPECT_EQ(g.expiration_ms, 6);
  EXPECT_TRUE(g.rotation_enabled);
  EXPECT_EQ(g.rotation_interval_days, 30);
  EXPECT_EQ(g.last_rotation_ms, 7);
  EXPECT_EQ(g.number_of_rotations, 2);
  EXPECT_EQ(g.current_version, 2u);
  EXPECT_EQ(g.import_fingerprint, (std::vector<uint8_t>{1, 2, 3}));
}

TEST_F(KmsdStoreTest, AliasIsUniquePerProjectOnly) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "same")).ok());
  Status dup = store_->InsertKey(SampleKey("k2", "same"));
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->InsertKey(SampleKey("k3", "same", "p2")).ok());
  auto found = store_->FindKeyByAlias("p2", "same");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->key_id, "k3");
}

TEST_F(KmsdStoreTest, UpdateKeyRenamesButNotOntoATakenAlias) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "one")).ok());
  ASSERT_TRUE(store_->InsertKey(SampleKey("k2", "two")).ok());
  KeyRecord k = SampleKey("k1", "two");
  EXPECT_EQ(store_->UpdateKey(k).code(), StatusCode::kAlreadyExists);
  auto unchanged = store_->GetKey("k1");
  ASSERT_TRUE(unchanged.ok() && unchanged->has_value());
  EXPECT_EQ((*unchanged)->key_alias, "one");
  k.key_alias = "three";
  ASSERT_TRUE(store_->UpdateKey(k).ok());
  auto renamed = store_->FindKeyByAlias("p1", "three");
  ASSERT_TRUE(renamed.ok() && renamed->has_value());
  EXPECT_EQ((*renamed)->key_id, "k1");
  auto old = store_->FindKeyByAlias("p1", "one");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
}

TEST_F(KmsdStoreTest, ListKeysKeepsCreationOrderAndCountsCustomKeys) {
  KeyRecord d = SampleKey("k0", "x/default");
  d.default_key = true;
  ASSERT_TRUE(store_->InsertKey(d).ok());
  ASSERT_TRUE(store_->InsertKey(SampleKey("zz", "b")).ok());
  ASSERT_TRUE(store_->InsertKey(SampleKey("aa", "a")).ok());
  auto keys = store_->ListKeys("p1");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[1].key_id, "zz");
  EXPECT_EQ((*keys)[2].key_id, "aa");
  EXPECT_EQ(store_->CountCustomKeys("p1").value(), 2);
  auto def = store_->FindDefaultKey("d1");
  ASSERT_TRUE(def.ok() && def->has_value());
  EXPECT_EQ((*def)->key_id, "k0");
}

TEST_F(KmsdStoreTest, MaterialIsVersioned) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "a")).ok());
  ASSERT_TRUE(store_->PutMaterial("k1", 0, {1}, 1).ok());
  ASSERT_TRUE(store_->PutMaterial("k1", 1, {2}, 2).ok());
  EXPECT_EQ(store_->GetMaterial("k1", 0).value().value(), std::vector<uint8_t>{1});
  EXPECT_EQ(store_->GetMaterial("k1", 1).value().value(), std::vector<uint8_t>{2});
  EXPECT_FALSE(store_->GetMaterial("k1", 2).value().has_value());
  ASSERT_TRUE(store_->DeleteMaterial("k1").ok());
  EXPECT_FALSE(store_->GetMaterial("k1", 0).value().has_value());
}

TEST_F(KmsdStoreTest, DeletingAKeyDeletesItsMaterialGrantsAndImportTokens) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "a")).ok());
  ASSERT_TRUE(store_->PutMaterial("k1", 0, {1}, 1).ok());
  ASSERT_TRUE(store_->InsertGrant(SampleGrant("g1", "k1", "bob")).ok());
  ASSERT_TRUE(store_->PutImportToken({"t1", "k1", "RSAES_OAEP_SHA_256", 99, {1}, 1}).ok());
  ASSERT_TRUE(store_->DeleteKey("k1").ok());
  EXPECT_FALSE(store_->GetKey("k1").value().has_value());
  EXPECT_FALSE(store_->GetMaterial("k1", 0).value().has_value());
  EXPECT_FALSE(store_->GetGrant("g1").value().has_value());
  EXPECT_FALSE(store_->GetImportToken("t1").value().has_value());
}

TEST_F(KmsdStoreTest, GrantsRoundTripAndAreFoundByPrincipal) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "a")).ok());
  GrantRecord g = SampleGrant("g1", "k1", "bob");
  g.name = "my_grant";
  g.retiring_principal = "carol";
  ASSERT_TRUE(store_->InsertGrant(g).ok());
  ASSERT_TRUE(store_->InsertGrant(SampleGrant("g2", "k1", "dave")).ok());
  auto got = store_->GetGrant("g1").value().value();
  EXPECT_EQ(got.operations, (std::vector<std::string>{"decrypt-datakey", "describe-key"}));
  EXPECT_EQ(got.name, "my_grant");
  EXPECT_EQ(got.retiring_principal, "carol");
  EXPECT_EQ(store_->ListGrantsForKey("k1").value().size(), 2u);
  EXPECT_EQ(store_->CountGrantsForKey("k1").value(), 2);
  auto carol = store_->ListGrantsInvolving("carol", "carol-domain").value();
  ASSERT_EQ(carol.size(), 1u);
  EXPECT_EQ(carol[0].grant_id, "g1");
  ASSERT_TRUE(store_->DeleteGrant("g1").ok());
  EXPECT_EQ(store_->CountGrantsForKey("k1").value(), 1);
}

TEST_F(KmsdStoreTest, DeletingAGrantDeletesTheGrantsMadeThroughItAndNoOthers) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "a")).ok());
  GrantRecord child = SampleGrant("g2", "k1", "carol");
  child.parent_grant_id = "g1";
  GrantRecord grandchild = SampleGrant("g3", "k1", "dave");
  grandchild.parent_grant_id = "g2";
  ASSERT_TRUE(store_->InsertGrant(SampleGrant("g1", "k1", "bob")).ok());
  ASSERT_TRUE(store_->InsertGrant(child).ok());
  ASSERT_TRUE(store_->InsertGrant(grandchild).ok());
  ASSERT_TRUE(store_->InsertGrant(SampleGrant("g4", "k1", "erin")).ok());
  EXPECT_EQ(store_->GetGrant("g2").value().value().parent_grant_id, "g1");
  EXPECT_EQ(store_->GetGrant("g1").value().value().parent_grant_id, "");
  ASSERT_TRUE(store_->DeleteGrant("g1").ok());
  auto left = store_->ListGrantsForKey("k1").value();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].grant_id, "g4");
}

TEST_F(KmsdStoreTest, TokensAreFoundByHashAndPurgedAfterExpiry) {
  ASSERT_TRUE(store_->PutToken("h1", {"u1", "p1", 10, 20}).ok());
  ASSERT_TRUE(store_->PutToken("h2", {"u1", "p1", 10, 200}).ok());
  auto t = store_->FindToken("h1").value();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->user_id, "u1");
  EXPECT_EQ(t->expires_ms, 20);
  ASSERT_TRUE(store_->PurgeTokensExpiredBefore(100).ok());
  EXPECT_FALSE(store_->FindToken("h1").value().has_value());
  EXPECT_TRUE(store_->FindToken("h2").value().has_value());
}

TEST_F(KmsdStoreTest, ReplacingFileUsersKeepsBuiltinUsers) {
  UserRecord admin;
  admin.id = "admin1";
  admin.name = "admin";
  admin.domain = "admin";
  admin.domain_id = "ad";
  admin.project_id = "pa";
  admin.builtin = true;
  ASSERT_TRUE(store_->PutUser(admin).ok());
  UserRecord alice = admin;
  alice.id = "a1";
  alice.name = "alice";
  alice.domain = "wonder";
  alice.domain_id = "wd";
  alice.builtin = false;
  ASSERT_TRUE(store_->ReplaceFileUsers({alice}).ok());
  ASSERT_TRUE(store_->ReplaceFileUsers({}).ok());
  EXPECT_FALSE(store_->FindUserById("a1").value().has_value());
  EXPECT_TRUE(store_->FindUserById("admin1").value().has_value());
  ASSERT_TRUE(store_->SetBuiltinUsersActive(false).ok());
  EXPECT_FALSE(store_->FindActiveUser("admin", "admin", "").value().has_value());
  ASSERT_TRUE(store_->SetBuiltinUsersActive(true).ok());
  EXPECT_TRUE(store_->FindActiveUser("admin", "", "ad").value().has_value());
  EXPECT_FALSE(store_->FindActiveUser("admin", "", "").value().has_value());
}

TEST_F(KmsdStoreTest, FailedTransactionLeavesNoTrace) {
  Status st = store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->InsertKey(SampleKey("k1", "a")));
    return Status::Internal("abort");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_->GetKey("k1").value().has_value());
}

TEST_F(KmsdStoreTest, NestedTransactionJoinsTheOuterOne) {
  Status st = store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->RunInTransaction([&] { return store_->InsertKey(SampleKey("k1", "a")); }));
    return Status::Internal("abort the outer one");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_->GetKey("k1").value().has_value());
  ASSERT_TRUE(store_->RunInTransaction([&]() -> Status {
    return store_->RunInTransaction([&] { return store_->InsertKey(SampleKey("k2", "b")); });
  }).ok());
  EXPECT_TRUE(store_->GetKey("k2").value().has_value());
}

TEST_F(KmsdStoreTest, DataSurvivesReopening) {
  ASSERT_TRUE(store_->InsertKey(SampleKey("k1", "a")).ok());
  ASSERT_TRUE(store_->PutMaterial("k1", 0, {7, 7}, 1).ok());
  store_.reset();
  auto reopened = Store::Open(dir_.Join("kmsd.db"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->GetKey("k1").value().has_value());
  EXPECT_EQ((*reopened)->GetMaterial("k1", 0).value().value(), (std::vector<uint8_t>{7, 7}));
}

// A database kmsd wrote before Argon2id, roles and project names (schema 1)
// opens: its users keep their PBKDF2 verifiers until their next login and
// get today's defaults.
TEST(KmsdStoreUpgradeTest, SchemaOneDatabaseIsUpgradedInPlace) {
  TempDir dir;
  const std::string path = dir.Join("kmsd.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* v1 = R"sql(
    CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
    CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT NOT NULL, domain TEXT NOT NULL, domain_id TEXT NOT NULL,
      project_id TEXT NOT NULL, salt BLOB NOT NULL, verifier BLOB NOT NULL, iterations INTEGER NOT NULL,
      builtin INTEGER NOT NULL, active INTEGER NOT NULL);
    CREATE TABLE tokens(hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT NOT NULL,
      issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
    INSERT INTO meta VALUES('schema_version', '1');
    INSERT INTO users VALUES('u1', 'admin', 'admin', 'd1', 'p1', x'0102', x'0304', 10000, 1, 1);
    INSERT INTO tokens VALUES('h1', 'u1', 'p1', 1, 2);
  )sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto user = (*store)->FindUserById("u1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->iterations, 10000);
  EXPECT_EQ((*user)->verifier, (std::vector<uint8_t>{3, 4}));
  EXPECT_EQ((*user)->password_hash, "");
  EXPECT_EQ((*user)->role, "kms_admin");
  EXPECT_EQ((*user)->project_name, "p1");
  auto token = (*store)->FindToken("h1");
  ASSERT_TRUE(token.ok() && token->has_value());
  EXPECT_EQ((*token)->methods, "password");
  EXPECT_EQ(*(*store)->GetMeta("schema_version").value(), "2");
  store->reset();
  EXPECT_TRUE(Store::Open(path).ok()) << "and opens again as schema 2";
}

// A grants table from before grants recorded their parent gains the column;
// its grants keep working and have no parent.
TEST(KmsdStoreUpgradeTest, GrantsTableWithoutParentColumnIsUpgraded) {
  TempDir dir;
  const std::string path = dir.Join("kmsd.db");
  {
    auto store = Store::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* old_grants = R"sql(
    DROP TABLE grants;
    CREATE TABLE grants(
      grant_id TEXT PRIMARY KEY, key_id TEXT NOT NULL REFERENCES keys(key_id) ON DELETE CASCADE,
      grantee_principal TEXT NOT NULL, grantee_type TEXT NOT NULL, operations TEXT NOT NULL,
      issuing_principal TEXT NOT NULL, name TEXT NOT NULL, retiring_principal TEXT NOT NULL,
      creation_ms INTEGER NOT NULL);
    INSERT INTO grants VALUES('g1', 'k1', 'bob', 'user', '["decrypt-datakey"]', 'alice', '', '', 1);
  )sql";
  ASSERT_EQ(sqlite3_exec(db, old_grants, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto g1 = (*store)->GetGrant("g1");
  ASSERT_TRUE(g1.ok() && g1->has_value()) << g1.status().ToString();
  EXPECT_EQ((*g1)->parent_grant_id, "");
  EXPECT_EQ((*g1)->grantee_principal, "bob");
  store->reset();
  EXPECT_TRUE(Store::Open(path).ok()) << "and opens again";
}

}  // namespace
}  // namespace kmsfs::kms::server
