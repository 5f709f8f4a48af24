#include "kms/server/identity.h"

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using ::kmsfs::testing::TempDir;

Json PasswordLogin(const std::string& name, const std::string& domain, const std::string& password,
                   const Json& scope = nullptr) {
  Json body = {{"auth",
                {{"identity",
                  {{"methods", {"password"}},
                   {"password", {{"user", {{"name", name}, {"password", password}, {"domain", {{"name", domain}}}}}}}}}}}};
  if (!scope.is_null()) body["auth"]["scope"] = scope;
  return body;
}

class KmsdIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.Join("kmsd.db"));
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    Identity::Options o;
    o.hashing.opslimit = 1;
    o.hashing.memlimit = 8192;
    identity_ = std::make_unique<Identity>(store_.get(), &clock_, o);
  }

  StatusOr<IssuedToken> Login(const Json& body, const std::string& peer = "10.0.0.1") {
    std::chrono::milliseconds retry(0);
    return identity_->Login(body, "", peer, &retry);
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Identity> identity_;
};

TEST_F(KmsdIdentityTest, PlainPasswordsAreStoredAsArgon2idHashes) {
  UserSpec spec;
  spec.name = "alice";
  spec.id = "a1";
  spec.project_id = "p1";
  spec.project_name = "eu-de";
  spec.domain = "wonder";
  spec.domain_id = "d1";
  spec.password = SecretBytes::CopyFrom(AsBytes("alice-pw"));
  auto rec = identity_->MakeUserRecord(spec, false);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(rec->verifier.empty());
  ASSERT_TRUE(store_->PutUser(*rec).ok());
  EXPECT_TRUE(Login(PasswordLogin("alice", "wonder", "alice-pw")).ok());
  // The project may be named by its name.
  auto by_name = Login(PasswordLogin("alice", "wonder", "alice-pw", {{"project", {{"name", "eu-de"}}}}));
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(by_name->caller.project_id, "p1");
  EXPECT_EQ(Identity::TokenBody(*by_name, Catalog{"http://kmsd", "eu-de"})["token"]["project"]["name"], "eu-de");
  EXPECT_FALSE(Login(PasswordLogin("alice", "wonder", "alice-pw", {{"project", {{"name", "p1"}}}})).ok())
      << "a named project is not found by its id as a name";
}

TEST_F(KmsdIdentityTest, UnknownNameFailsExactlyLikeAWrongPassword) {
  UserSpec spec;
  spec.name = "alice";
  spec.id = "a1";
  spec.project_id = "p1";
  spec.domain = "wonder";
  spec.domain_id = "d1";
  spec.password = SecretBytes::CopyFrom(AsBytes("alice-pw"));
  ASSERT_TRUE(store_->PutUser(identity_->MakeUserRecord(spec, false).value()).ok());
  Status wrong = Login(PasswordLogin("alice", "wonder", "nope")).status();
  Status unknown = Login(PasswordLogin("alicf", "wonder", "nope")).status();
  EXPECT_EQ(wrong.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.code(), wrong.code());
  EXPECT_EQ(unknown.message(), wrong.message());
}

TEST_F(KmsdIdentityTest, OldPbkdf2VerifierIsReplacedByArgon2idAtTheNextLogin) {
  UserRecord u;
  u.id = "a1";
  u.name = "admin";
  u.domain = "admin";
  u.domain_id = "d1";
  u.project_id = "p1";
  u.project_name = "p1";
  u.salt = crypto::RandomVector(16);
  u.iterations = 10000;
  const crypto::Sha256Digest v = crypto::Pbkdf2Sha256(AsBytes("old-pw"), u.salt, u.iterations).value();
  u.verifier.assign(v.begin(), v.end());
  ASSERT_TRUE(store_->PutUser(u).ok());
  EXPECT_FALSE(Login(PasswordLogin("admin", "admin", "wrong")).ok());
  EXPECT_EQ(store_->FindUserById("a1").value()->iterations, 10000) << "a failed login changes nothing";
  ASSERT_TRUE(Login(PasswordLogin("admin", "admin", "old-pw")).ok());
  const UserRecord after = *store_->FindUserById("a1").value();
  EXPECT_EQ(after.password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(after.iterations, 0);
  EXPECT_TRUE(after.verifier.empty());
  EXPECT_TRUE(Login(PasswordLogin("admin", "admin", "old-pw")).ok());
}

TEST_F(KmsdIdentityTest, ThrottledLoginSaysHowLongToWait) {
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(Login(PasswordLogin("ghost", "d", "x")).ok());
  std::chrono::milliseconds retry(0);
  auto r = identity_->Login(PasswordLogin("ghost", "d", "x"), "", "10.0.0.1", &retry);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_GT(retry.count(), 0);
  EXPECT_LE(retry.count(), 1000);
  EXPECT_EQ(Login(PasswordLogin("ghost", "d", "x"), "10.0.0.2").status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace kmsfs::kms::server
