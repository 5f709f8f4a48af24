// Grants over the wire: spec §6 (create, list, revoke, retire, retirable)
// and the authorisation matrix of §6.6.
#include <map>

#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdGrantTest : public KmsdTest {
 protected:
  void SetUp() override {
    KmsdTest::SetUp();
    key_ = alice_.CreateKey("granted");
    ct_ = alice_.EncryptDek(key_, Bytes(64, 1));
    data_ct_ = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "hello"}}).body["cipher_text"];
  }

  // Calls `op` on key_ as `who`, with a valid body for that operation.
  KmsReply Use(const KmsWire& who, const std::string& op) {
    if (op == "create-datakey" || op == "create-datakey-without-plaintext") {
      return who.Call(op, {{"key_id", key_}, {"datakey_length", "512"}});
    }
    if (op == "encrypt-datakey") {
      return who.Call(op, {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 2))}, {"datakey_plain_length", "64"}});
    }
    if (op == "decrypt-datakey") {
      return who.Call(op, {{"key_id", key_}, {"cipher_text", ct_}, {"datakey_cipher_length", "64"}});
    }
    if (op == "encrypt-data") return who.Call(op, {{"key_id", key_}, {"plain_text", "x"}});
    if (op == "decrypt-data") return who.Call(op, {{"cipher_text", data_ct_}});
    if (op == "describe-key") return who.Call(op, {{"key_id", key_}});
    if (op == "list-grants") return who.Call(op, {{"key_id", key_}});
    ADD_FAILURE() << "no call for " << op;
    return {};
  }

  const std::string& bob_id() const { return users_[1].id; }
  const std::string& carol_id() const { return users_[2].id; }

  std::string key_, ct_, data_ct_;
};

const std::vector<std::string> kUsableOps = {"create-datakey", "create-datakey-without-plaintext", "encrypt-datakey",
                                             "decrypt-datakey", "encrypt-data", "decrypt-data", "describe-key"};

TEST_F(KmsdGrantTest, OwnerDomainMayUseEveryOperation) {
  for (const std::string& op : kUsableOps) EXPECT_EQ(Use(alice_, op).status, 200) << op;
}

TEST_F(KmsdGrantTest, StrangerIsRefusedEveryOperation) {
  for (const std::string& op : kUsableOps) EXPECT_KMS_ERROR(Use(carol_, op), 403, "KMS.0306");
  EXPECT_KMS_ERROR(Use(carol_, "list-grants"), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, GranteeGetsExactlyTheGrantedOperation) {
  for (const std::string& granted : kUsableOps) {
    std::string grant = alice_.GrantTo(key_, bob_id(), {granted});
    for (const std::string& op : kUsableOps) {
      KmsReply r = Use(bob_, op);
      if (op == granted) {
        EXPECT_EQ(r.status, 200) << "granted " << granted << ": " << r.raw;
      } else {
        EXPECT_KMS_ERROR(r, 403, "KMS.0306");
      }
    }
    ASSERT_EQ(alice_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}).status, 200);
  }
}

TEST_F(KmsdGrantTest, PermissionsFromSeveralGrantsAddUp) {
  alice_.GrantTo(key_, bob_id(), {"encrypt-datakey"});
  alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"});
  EXPECT_EQ(Use(bob_, "encrypt-datakey").status, 200);
  EXPECT_EQ(Use(bob_, "decrypt-datakey").status, 200);
  // The grantee's ciphertext decrypts for the owner: same key, same envelope format.
  std::string bobs = bob_.EncryptDek(key_, Bytes(64, 3));
  EXPECT_EQ(alice_.Call("decrypt-datakey", {{"key_id", key_}, {"cipher_text", bobs}, {"datakey_cipher_length", "64"}})
                .status,
            200);
}

TEST_F(KmsdGrantTest, DomainGranteeCoversEveryUserOfThatDomain) {
  std::string bob_domain = bob_.Call("create-key", {{"key_alias", "probe"}}).body["key_info"]["domain_id"];
  alice_.GrantTo(key_, bob_domain, {"decrypt-datakey"}, {{"grantee_principal_type", "domain"}});
  EXPECT_EQ(Use(bob_, "decrypt-datakey").status, 200);
  EXPECT_KMS_ERROR(Use(carol_, "decrypt-datakey"), 403, "KMS.0306");
  // A user-type grant naming the domain id does not match users.
  std::string other = alice_.CreateKey("other");
  alice_.GrantTo(other, bob_domain, {"describe-key"});
  EXPECT_KMS_ERROR(bob_.Call("describe-key", {{"key_id", other}}), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, RevokedGrantStopsWorkingAtOnce) {
  std::string grant = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"});
  ASSERT_EQ(Use(bob_, "decrypt-datakey").status, 200);
  KmsReply r = alice_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, Json::object());
  EXPECT_KMS_ERROR(Use(bob_, "decrypt-datakey"), 403, "KMS.0306");
  EXPECT_KMS_ERROR(alice_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}), 400, "KMS.2502");
}

TEST_F(KmsdGrantTest, OnlyTheOwnerMayRevoke) {
  std::string grant = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey", "create-grant", "retire-grant"});
  EXPECT_KMS_ERROR(bob_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}), 403, "KMS.0306");
  EXPECT_KMS_ERROR(carol_.Call("revoke-grant", {{"key_id", key_}, {"grant_id", grant}}), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, RevokeAndRetireValidateGrantIds) {
  std::string other = alice_.CreateKey("other");
  std::string grant = alice_.GrantTo(other, bob_id(), {"describe-key"});
  for (const char* action : {"revoke-grant", "retire-grant"}) {
    EXPECT_KMS_ERROR(alice_.Call(action, {{"key_id", key_}, {"grant_id", "xyz"}}), 400, "KMS.2501");
    EXPECT_KMS_ERROR(alice_.Call(action, {{"key_id", key_}, {"grant_id", std::string(64, 'a')}}), 400, "KMS.2502");
    EXPECT_KMS_ERROR(alice_.Call(action, {{"key_id", key_}, {"grant_id", grant}}), 400, "KMS.2502");  // other key
    EXPECT_KMS_ERROR(alice_.Call(action, {{"key_id", key_}}), 400, "KMS.0204");
  }
  std::string upper = grant;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(alice_.Call("revoke-grant", {{"key_id", other}, {"grant_id", upper}}).status, 200);
}

TEST_F(KmsdGrantTest, GranteeWithRetireGrantMayRetireIt) {
  std::string grant = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey", "retire-grant"});
  KmsReply r = bob_.Call("retire-grant", {{"key_id", key_}, {"grant_id", grant}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_KMS_ERROR(Use(bob_, "decrypt-datakey"), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, GranteeWithoutRetireGrantMayNotRetire) {
  std::string grant = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"});
  EXPECT_KMS_ERROR(bob_.Call("retire-grant", {{"key_id", key_}, {"grant_id", grant}}), 403, "KMS.0306");
  EXPECT_KMS_ERROR(carol_.Call("retire-grant", {{"key_id", key_}, {"grant_id", grant}}), 403, "KMS.0306");
  EXPECT_EQ(Use(bob_, "decrypt-datakey").status, 200);
}

TEST_F(KmsdGrantTest, RetiringPrincipalAndIssuerMayRetire) {
  std::string g1 = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"}, {{"retiring_principal", carol_id()}});
  EXPECT_EQ(carol_.Call("retire-grant", {{"key_id", key_}, {"grant_id", g1}}).status, 200);
  std::string g2 = alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"});
  EXPECT_EQ(alice_.Call("retire-grant", {{"key_id", key_}, {"grant_id", g2}}).status, 200);
  EXPECT_KMS_ERROR(Use(bob_, "decrypt-datakey"), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, ListRetirableGrantsShowsWhatTheCallerMayRetire) {
  std::string g1 = alice_.GrantTo(key_, bob_id(), {"describe-key"}, {{"retiring_principal", carol_id()}});
  std::string g2 = alice_.GrantTo(key_, carol_id(), {"describe-key", "retire-grant"});
  alice_.GrantTo(key_, carol_id(), {"describe-key"});  // not retirable by carol
  KmsReply r = carol_.Call("list-retirable-grants", Json::object());
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["total"], 2);
  EXPECT_EQ(r.body["grants"][0]["grant_id"], g1);
  EXPECT_EQ(r.body["grants"][1]["grant_id"], g2);
  EXPECT_EQ(r.body["truncated"], "false");
  KmsReply page = carol_.Call("list-retirable-grants", {{"limit", "1"}});
  EXPECT_EQ(page.body["grants"].size(), 1u);
  EXPECT_EQ(page.body["truncated"], "true");
  EXPECT_EQ(page.body["next_marker"], "1");
  EXPECT_EQ(bob_.Call("list-retirable-grants", Json::object()).body["total"], 0);
}

TEST_F(KmsdGrantTest, ListGrantsShowsEveryFieldAndPaginates) {
  std::string g1 = alice_.GrantTo(key_, bob_id(), {"describe-key", "decrypt-datakey"},
                                  {{"name", "my_grant"}, {"retiring_principal", carol_id()}});
  alice_.GrantTo(key_, carol_id(), {"encrypt-datakey"});
  KmsReply r = alice_.Call("list-grants", {{"key_id", key_}, {"limit", ""}, {"marker", ""}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["total"], 2);
  const Json& g = r.body["grants"][0];
  EXPECT_EQ(g["key_id"], key_);
  EXPECT_EQ(g["grant_id"], g1);
  EXPECT_EQ(g["grantee_principal"], bob_id());
  EXPECT_EQ(g["grantee_principal_type"], "user");
  EXPECT_EQ(g["operations"], Json({"describe-key", "decrypt-datakey"}));
  EXPECT_EQ(g["issuing_principal"], users_[0].id);
  EXPECT_EQ(g["name"], "my_grant");
  EXPECT_EQ(g["retiring_principal"], carol_id());
  EXPECT_EQ(g["creation_date"].get<std::string>().size(), 13u);
  KmsReply first = alice_.Call("list-grants", {{"key_id", key_}, {"limit", "1"}});
  EXPECT_EQ(first.body["grants"].size(), 1u);
  EXPECT_EQ(first.body["next_marker"], "1");
  KmsReply second = alice_.Call("list-grants", {{"key_id", key_}, {"limit", "1"}, {"marker", "1"}});
  EXPECT_EQ(second.body["grants"][0]["grantee_principal"], carol_id());
  EXPECT_EQ(second.body["truncated"], "false");
  // A grantee holding describe-key may list; others may not.
  EXPECT_EQ(bob_.Call("list-grants", {{"key_id", key_}}).status, 200);
  EXPECT_KMS_ERROR(carol_.Call("list-grants", {{"key_id", key_}}), 403, "KMS.0306");
}

TEST_F(KmsdGrantTest, GranteeWithCreateGrantMayPassOnOnlyWhatItHolds) {
  alice_.GrantTo(key_, bob_id(), {"create-grant", "decrypt-datakey"});
  KmsReply ok = bob_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", carol_id()},
                                           {"operations", {"decrypt-datakey"}}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(Use(carol_, "decrypt-datakey").status, 200);
  EXPECT_KMS_ERROR(bob_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", carol_id()},
                                              {"operations", {"encrypt-datakey"}}}),
                   403, "KMS.0306");
  EXPECT_KMS_ERROR(carol_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", carol_id()},
                                                {"operations", {"decrypt-datakey"}}}),
                   403, "KMS.0306");
}

TEST_F(KmsdGrantTest, CreateGrantValidation) {
  auto grant = [&](const Json& ops, const Json& extra = Json::object()) {
    Json body = {{"key_id", key_}, {"grantee_principal", bob_id()}, {"operations", ops}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    return alice_.Call("create-grant", body);
  };
  EXPECT_KMS_ERROR(grant({"create-grant"}), 400, "KMS.2401");
  EXPECT_KMS_ERROR(grant({"create-grant", "create-grant"}), 400, "KMS.2401");
  EXPECT_KMS_ERROR(grant(Json::array()), 400, "KMS.2401");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey", "sign"}), 400, "KMS.0308");
  EXPECT_KMS_ERROR(grant("decrypt-datakey"), 400, "KMS.0202");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey", 5}), 400, "KMS.0202");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey"}, {{"grantee_principal", "bad-id"}}), 400, "KMS.2402");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey"}, {{"grantee_principal", std::string(65, 'a')}}), 400, "KMS.2402");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey"}, {{"retiring_principal", "a b"}}), 400, "KMS.2402");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey"}, {{"name", "bad name"}}), 400, "KMS.0308");
  EXPECT_KMS_ERROR(grant({"decrypt-datakey"}, {{"grantee_principal_type", "group"}}), 400, "KMS.0308");
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", key_}, {"operations", {"describe-key"}}}), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", "alias/granted"}, {"grantee_principal", bob_id()},
                                                {"operations", {"describe-key"}}}),
                   400, "KMS.0205");
  EXPECT_EQ(grant({"create-grant", "describe-key"}).status, 200);
}

TEST_F(KmsdGrantTest, CreateGrantChecksKeyState) {
  std::string pending = alice_.CreateKey("pending", "external");
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", pending}, {"grantee_principal", bob_id()},
                                                {"operations", {"describe-key"}}}),
                   400, "KMS.1301");
  ASSERT_EQ(alice_.Call("disable-key", {{"key_id", key_}}).status, 200);
  EXPECT_FALSE(alice_.GrantTo(key_, bob_id(), {"describe-key"}).empty());  // disabled keys accept grants
  ASSERT_EQ(alice_.Call("schedule-key-deletion", {{"key_id", key_}, {"pending_days", "7"}}).status, 200);
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", bob_id()},
                                                {"operations", {"describe-key"}}}),
                   400, "KMS.0210");
}

TEST_F(KmsdGrantTest, HundredGrantsPerKey) {
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(alice_.GrantTo(key_, bob_id(), {"describe-key"}).empty()) << i;
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", key_}, {"grantee_principal", bob_id()},
                                                {"operations", {"describe-key"}}}),
                   400, "KMS.2404");
}

TEST_F(KmsdGrantTest, GranteeUsesItsOwnProjectInTheUrl) {
  alice_.GrantTo(key_, bob_id(), {"decrypt-datakey"});
  // In alice's project URL bob's token is refused before any grant is consulted.
  EXPECT_KMS_ERROR(bob_.CallInProject(users_[0].project_id, "decrypt-datakey",
                                      {{"key_id", key_}, {"cipher_text", ct_}, {"datakey_cipher_length", "64"}}),
                   403, "KMS.0321");
  EXPECT_EQ(Use(bob_, "decrypt-datakey").status, 200);
}

}  // namespace
}  // namespace kmsfs::testing
