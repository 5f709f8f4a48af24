// In-process tests of the KMS actions whose behaviour depends on time passing
// (deletion dates, material and token expiry), driven by a fake clock.
#include "kms/server/service.h"

#include <gtest/gtest.h>

#include "crypto/random.h"
#include "kms/server/api_error.h"
#include "kms/server/identity.h"
#include "tests/server/byok_util.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using ::kmsfs::testing::TempDir;

class KmsdServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.Join("kmsd.db"));
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auto ring = RootKeyring::FromBytes(SecretBytes::Random(32));
    ASSERT_TRUE(ring.ok());
    ring_ = std::move(ring).value();
    service_ = std::make_unique<Service>(store_.get(), ring_.get(), &clock_, Service::Options{});
    alice_ = Caller{"alice1", "alice", "domA", "alice-domain", "projA"};
    bob_ = Caller{"bob1", "bob", "domB", "bob-domain", "projB"};
  }

  // The response on success; {"error_code": …} on failure.
  Json Call(const Caller& c, std::string_view action, const Json& body) {
    auto r = service_->Handle(c, action, body.dump());
    if (!r.ok()) return {{"error_code", std::string(ApiErrorCode(r.status()))}};
    return *r;
  }
  std::string CreateKey(const Caller& c, const std::string& alias, const std::string& origin = "kms") {
    Json r = Call(c, "create-key", {{"key_alias", alias}, {"origin", origin}});
    EXPECT_TRUE(r.contains("key_info")) << r.dump();
    return r.contains("key_info") ? r["key_info"].value("key_id", std::string()) : std::string();
  }
  std::string StateOf(const std::string& key_id) {
    Json r = Call(alice_, "describe-key", {{"key_id", key_id}});
    if (!r.contains("key_info")) return r.value("error_code", std::string("?"));
    return r["key_info"]["key_state"].get<std::string>();
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RootKeyring> ring_;
  std::unique_ptr<Service> service_;
  Caller alice_, bob_;
};

TEST_F(KmsdServiceTest, ScheduledKeyIsPurgedOnceItsDateHasPassed) {
  std::string key = CreateKey(alice_, "doomed");
  Json grant = Call(alice_, "create-grant",
                    {{"key_id", key}, {"grantee_principal", bob_.user_id}, {"operations", {"describe-key"}}});
  ASSERT_TRUE(grant.contains("grant_id"));
  Json sched = Call(alice_, "schedule-key-deletion", {{"key_id", key}, {"pending_days", "7"}});
  EXPECT_EQ(sched, Json({{"key_id", key}, {"key_state", "4"}}));
  Json info = Call(alice_, "describe-key", {{"key_id", key}})["key_info"];
  EXPECT_EQ(info["scheduled_deletion_date"], std::to_string(clock_.WallNowMs() + 7 * 86'400'000LL));

  clock_.AdvanceMs(7 * 86'400'000LL - 1);
  EXPECT_EQ(StateOf(key), "4");
  clock_.AdvanceMs(1);
  EXPECT_EQ(StateOf(key), "KMS.0207");
  EXPECT_FALSE(store_->GetGrant(grant["grant_id"].get<std::string>()).value().has_value());
  Json list = Call(alice_, "list-keys", Json::object());
  for (const auto& id : list["keys"]) EXPECT_NE(id, key);
}

TEST_F(KmsdServiceTest, ImportedMaterialIsErasedAtItsExpirationTime) {
  std::string key = CreateKey(alice_, "byok", "external");
  Json params = Call(alice_, "get-parameters-for-import", {{"key_id", key}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}});
  ASSERT_TRUE(params.contains("public_key")) << params.dump();
  std::string wrapped = ::kmsfs::testing::WrapKeyMaterial(params["public_key"], "RSAES_OAEP_SHA_256",
                                                          crypto::RandomVector(32));
  const int64_t expiry_s = clock_.WallNowSec() + 100;
  Json imported = Call(alice_, "import-key-material",
                       {{"key_id", key},
                        {"import_token", params["import_token"]},
                        {"encrypted_key_material", wrapped},
                        {"expiration_time", expiry_s}});
  ASSERT_EQ(imported, Json::object());
  Json info = Call(alice_, "describe-key", {{"key_id", key}})["key_info"];
  EXPECT_EQ(info["key_state"], "2");
  EXPECT_EQ(info["expiration_time"], std::to_string(expiry_s * 1000));
  EXPECT_TRUE(Call(alice_, "create-datakey", {{"key_id", key}, {"datakey_length", "512"}}).contains("cipher_text"));

  clock_.AdvanceMs(100'000);
  EXPECT_EQ(StateOf(key), "5");
  EXPECT_EQ(Call(alice_, "create-datakey", {{"key_id", key}})["error_code"], "KMS.1301");
}

TEST_F(KmsdServiceTest, ImportTokenExpiresWithTheClock) {
  std::string key = CreateKey(alice_, "byok", "external");
  Json params = Call(alice_, "get-parameters-for-import", {{"key_id", key}, {"wrapping_algorithm", "RSAES_OAEP_SHA_1"}});
  EXPECT_EQ(params["expiration_time"], clock_.WallNowSec() + 86400);
  std::string wrapped = ::kmsfs::testing::WrapKeyMaterial(params["public_key"], "RSAES_OAEP_SHA_1", crypto::RandomVector(32));
  clock_.AdvanceMs(86'400'000);
  Json r = Call(alice_, "import-key-material",
                {{"key_id", key}, {"import_token", params["import_token"]}, {"encrypted_key_material", wrapped}});
  EXPECT_EQ(r["error_code"], "KMS.2601");
}

TEST_F(KmsdServiceTest, IdentityTokensExpireWithTheClock) {
  Identity::Options options;
  options.token_ttl_sec = 60;
  Identity identity(store_.get(), &clock_, options);
  UserRecord user;
  user.id = "u1";
  user.name = "u";
  user.domain = "d";
  user.domain_id = "dd";
  user.project_id = "p";
  ASSERT_TRUE(store_->PutUser(user).ok());
  auto token = identity.IssueToken(user);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(identity.Authenticate(token->token).ok());
  clock_.AdvanceMs(59'999);
  EXPECT_TRUE(identity.Authenticate(token->token).ok());
  clock_.AdvanceMs(1);
  EXPECT_EQ(ApiErrorCode(identity.Authenticate(token->token).status()), "KMS.0303");
  EXPECT_EQ(ApiErrorCode(identity.Authenticate("nope").status()), "KMS.0302");
  EXPECT_EQ(ApiErrorCode(identity.Authenticate("  ").status()), "KMS.0301");
}

TEST_F(KmsdServiceTest, DefaultKeyIsCreatedOncePerDomain) {
  ASSERT_TRUE(service_->EnsureDefaultKey(alice_.domain_id, alice_.project_id).ok());
  ASSERT_TRUE(service_->EnsureDefaultKey(alice_.domain_id, alice_.project_id).ok());
  Json list = Call(alice_, "list-keys", Json::object());
  ASSERT_EQ(list["total"], 1);
  EXPECT_EQ(list["key_details"][0]["key_alias"], "kmsfs/default");
  EXPECT_EQ(list["key_details"][0]["default_key_flag"], "1");
  Json by_alias = Call(alice_, "create-datakey", {{"key_id", "alias/kmsfs/default"}});
  EXPECT_TRUE(by_alias.contains("cipher_text")) << by_alias.dump();
}

TEST_F(KmsdServiceTest, UnknownActionIsInvalidUrl) {
  EXPECT_EQ(Call(alice_, "create-alias", Json::object())["error_code"], "KMS.0201");
  EXPECT_FALSE(Service::IsKnownAction("create-alias"));
  EXPECT_TRUE(Service::IsKnownAction("encrypt-datakey"));
  EXPECT_TRUE(Service::IsKnownAction("update-key-alias"));
}

TEST_F(KmsdServiceTest, OnlyTheAccountActionsAreGetActions) {
  EXPECT_TRUE(Service::IsGetAction("user-quotas"));
  EXPECT_TRUE(Service::IsGetAction("user-instances"));
  EXPECT_FALSE(Service::IsGetAction("list-keys"));
  EXPECT_FALSE(Service::IsGetAction("no-such-action"));
}

TEST_F(KmsdServiceTest, PaginateFollowsMarkers) {
  auto req = Request::Parse(R"({"limit":"2","marker":"3"})", {});
  ASSERT_TRUE(req.ok());
  auto p = Paginate(*req, 6);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->begin, 3u);
  EXPECT_EQ(p->end, 5u);
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_marker, "5");
  auto last = Paginate(*Request::Parse(R"({"limit":"2","marker":"5"})", {}), 6);
  EXPECT_FALSE(last->truncated);
  EXPECT_EQ(last->next_marker, "");
  EXPECT_EQ(ApiErrorCode(Paginate(*Request::Parse(R"({"limit":"0"})", {}), 6).status()), "KMS.1601");
  EXPECT_EQ(ApiErrorCode(Paginate(*Request::Parse(R"({"marker":"-1"})", {}), 6).status()), "KMS.1602");
}

TEST_F(KmsdServiceTest, NewKeyIdsAreVersion4Uuids) {
  for (int i = 0; i < 20; ++i) {
    std::string id = NewKeyId();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
  }
}

}  // namespace
}  // namespace kmsfs::kms::server
