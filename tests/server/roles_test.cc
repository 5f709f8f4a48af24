// IAM roles of the users file over the wire (Service::Authorize,
// RequireAdminRole, RequireUserRole): in one domain, kms_admin manages and
// uses every key, kms_user uses but does not manage, and a user with role
// "none" reaches keys only through grants, as an IAM user without a KMS
// policy in the cloud.
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdRolesTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    const KmsdUser alice = o.users[0];
    KmsdUser dave{"dave", "dave-secret-pw", "0da4e000000000000000000000000004", alice.project_id, alice.domain};
    dave.role = "kms_user";
    KmsdUser erin{"erin", "erin-secret-pw", "0e41e000000000000000000000000005", alice.project_id, alice.domain};
    erin.role = "none";
    o.users.push_back(dave);
    o.users.push_back(erin);
    return o;
  }
  void SetUp() override {
    KmsdTest::SetUp();
    if (HasFatalFailure()) return;
    dave_ = KmsWire(kmsd_->endpoint(), users_[3], kmsd_->Login(users_[3]));
    erin_ = KmsWire(kmsd_->endpoint(), users_[4], kmsd_->Login(users_[4]));
    key_ = alice_.CreateKey("shared-in-domain");
    ct_ = alice_.EncryptDek(key_, Bytes(64, 3));
  }
  KmsReply Decrypt(const KmsWire& who) {
    return who.Call("decrypt-datakey", {{"key_id", key_}, {"cipher_text", ct_}, {"datakey_cipher_length", "64"}});
  }
  // Every managing action on key_, with a valid body.
  std::vector<std::pair<std::string, Json>> ManagingCalls() const {
    return {{"disable-key", {{"key_id", key_}}},
            {"schedule-key-deletion", {{"key_id", key_}, {"pending_days", "7"}}},
            {"enable-key-rotation", {{"key_id", key_}}},
            {"update-key-alias", {{"key_id", key_}, {"key_alias", "renamed"}}},
            {"update-key-description", {{"key_id", key_}, {"key_description", "changed"}}},
            {"update-key-rotation-interval", {{"key_id", key_}, {"rotation_interval", 30}}},
            {"rotate-on-demand", {{"key_id", key_}}}};
  }

  KmsWire dave_, erin_;
  std::string key_, ct_;
};

TEST_F(KmsdRolesTest, KmsUserUsesTheDomainsKeysButCannotManageThem) {
  EXPECT_EQ(Decrypt(dave_).status, 200) << Decrypt(dave_).raw;
  EXPECT_EQ(dave_.EncryptDek(key_, Bytes(64, 5)).empty(), false);
  EXPECT_EQ(dave_.Call("describe-key", {{"key_id", key_}}).status, 200);
  EXPECT_EQ(dave_.Call("list-keys", Json::object()).status, 200);
  EXPECT_EQ(dave_.Call("list-grants", {{"key_id", key_}}).status, 200);
  EXPECT_EQ(dave_.Call("gen-random", {{"random_data_length", "256"}}).status, 200);
  EXPECT_EQ(dave_.Get("user-quotas").status, 200);
  EXPECT_KMS_ERROR(dave_.Call("create-key", {{"key_alias", "dave-key"}}), 403, "KMS.0330");
  for (const auto& [action, body] : ManagingCalls()) {
    {
      SCOPED_TRACE(action);
      EXPECT_KMS_ERROR(dave_.Call(action, body), 403, "KMS.0330");
    }
  }
  // Granting is managing too: without a grant holding create-grant, refused.
  EXPECT_KMS_ERROR(dave_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", bob_.user().id},
                                               {"operations", {"decrypt-datakey"}}}),
                   403, "KMS.0306");
  EXPECT_EQ(alice_.StateOf(key_), "2");
}

TEST_F(KmsdRolesTest, RoleLessUserNeedsAGrantAndRevokingItStopsIt) {
  EXPECT_KMS_ERROR(Decrypt(erin_), 403, "KMS.0306");
  EXPECT_KMS_ERROR(erin_.Call("describe-key", {{"key_id", key_}}), 403, "KMS.0306");
  EXPECT_KMS_ERROR(erin_.Call("describe-key", {{"key_id", "alias/shared-in-domain"}}), 403, "KMS.0306");
  EXPECT_KMS_ERROR(erin_.Call("create-key", {{"key_alias", "erin-key"}}), 403, "KMS.0330");
  EXPECT_KMS_ERROR(erin_.Call("list-keys", Json::object()), 403, "KMS.0330");
  EXPECT_KMS_ERROR(erin_.Call("gen-random", {{"random_data_length", "256"}}), 403, "KMS.0330");
  EXPECT_KMS_ERROR(erin_.Get("user-quotas"), 403, "KMS.0330");
  EXPECT_KMS_ERROR(erin_.Get("user-instances"), 403, "KMS.0330");

  const std::string grant = alice_.GrantTo(key_, erin_.user().id, {"decrypt-datakey", "describe-key"});
  KmsReply opened = Decrypt(erin_);
  ASSERT_EQ(opened.status, 200) << opened.raw;
  EXPECT_EQ(opened.body["data_key"], DekPlainText(Bytes(64, 3)).substr(0, 128));
  EXPECT_EQ(erin_.Call("describe-key", {{"key_id", key_}}).status, 200);
  // The grant lists only these two operations, and never management.
  EXPECT_KMS_ERROR(erin_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 1))},
                                                  {"datakey_plain_length", "64"}}),
                   403, "KMS.0306");
  for (const auto& [action, body] : ManagingCalls()) {
    {
      SCOPED_TRACE(action);
      EXPECT_KMS_ERROR(erin_.Call(action, body), 403, "KMS.0330");
    }
  }

  ASSERT_EQ(alice_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}).status, 200);
  EXPECT_KMS_ERROR(Decrypt(erin_), 403, "KMS.0306");
  EXPECT_KMS_ERROR(erin_.Call("describe-key", {{"key_id", key_}}), 403, "KMS.0306");
}

TEST_F(KmsdRolesTest, RevokingAGrantRevokesTheGrantsMadeThroughIt) {
  const std::string alice_domain = alice_.Call("describe-key", {{"key_id", key_}}).body["key_info"]["domain_id"];
  ASSERT_FALSE(alice_domain.empty());
  const std::string grant =
      alice_.GrantTo(key_, bob_.user().id, {"encrypt-datakey", "decrypt-datakey", "create-grant"});
  auto bob_grants = [&](const std::string& grantee, const std::string& type) {
    return bob_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", grantee},
                                      {"grantee_principal_type", type},
                                      {"operations", {"encrypt-datakey", "decrypt-datakey"}}});
  };
  // A grantee may not grant to itself, nor widen access back into the owner's domain.
  EXPECT_KMS_ERROR(bob_grants(bob_.user().id, "user"), 403, "KMS.0306");
  EXPECT_KMS_ERROR(bob_grants(alice_domain, "domain"), 403, "KMS.0306");
  const KmsReply to_carol = bob_grants(carol_.user().id, "user");
  ASSERT_EQ(to_carol.status, 200) << to_carol.raw;
  ASSERT_EQ(carol_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", erin_.user().id},
                                         {"operations", {"decrypt-datakey"}}})
                .status,
            403)
      << "carol holds no create-grant";
  ASSERT_EQ(Decrypt(carol_).status, 200);
  EXPECT_KMS_ERROR(Decrypt(erin_), 403, "KMS.0306");

  ASSERT_EQ(alice_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}).status, 200);
  EXPECT_KMS_ERROR(Decrypt(bob_), 403, "KMS.0306");
  // The grant bob made went with his.
  EXPECT_KMS_ERROR(Decrypt(carol_), 403, "KMS.0306");
  const KmsReply listed = alice_.Call("list-grants", {{"key_id", key_}});
  ASSERT_EQ(listed.status, 200) << listed.raw;
  EXPECT_EQ(listed.body["total"], 0) << listed.raw;
}

TEST_F(KmsdRolesTest, RetiringAGrantRetiresTheGrantsMadeThroughIt) {
  const std::string grant =
      alice_.GrantTo(key_, bob_.user().id, {"decrypt-datakey", "create-grant", "retire-grant"});
  const KmsReply to_carol = bob_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", carol_.user().id},
                                                       {"operations", {"decrypt-datakey"}}});
  ASSERT_EQ(to_carol.status, 200) << to_carol.raw;
  ASSERT_EQ(Decrypt(carol_).status, 200);
  ASSERT_EQ(bob_.Call("retire-grant", {{"key_id", key_}, {"grant_id", grant}}).status, 200);
  EXPECT_KMS_ERROR(Decrypt(carol_), 403, "KMS.0306");
}

TEST_F(KmsdRolesTest, AbsentRoleKeepsFullControlOfTheDomainsKeys) {
  // alice has no "role" in the users file: kms_admin, as before roles.
  for (const auto& [action, body] : ManagingCalls()) {
    if (action == "schedule-key-deletion" || action == "disable-key") continue;
    EXPECT_EQ(alice_.Call(action, body).status, 200) << action;
  }
  EXPECT_EQ(alice_.Call("disable-key", {{"key_id", key_}}).status, 200);
  EXPECT_EQ(alice_.Call("schedule-key-deletion", {{"key_id", key_}, {"pending_days", "7"}}).status, 200);
}

}  // namespace
}  // namespace kmsfs::testing
