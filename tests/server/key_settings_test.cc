// Changes to an existing key over the wire (service_key_settings.cc):
// update-key-alias, update-key-description, update-key-rotation-interval and
// rotate-on-demand, with their validation and who may call them.
#include <string>

#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdKeySettingsTest : public KmsdTest {
 protected:
  std::string DefaultKeyOf(const KmsWire& who) {
    KmsReply r = who.Call("describe-key", {{"key_id", "alias/kmsfs/default"}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.ok() ? r.body["key_info"]["key_id"].get<std::string>() : "";
  }
  std::string Decrypt(const KmsWire& who, const std::string& key, const std::string& ct) {
    KmsReply r = who.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
    return r.ok() ? r.body["data_key"].get<std::string>() : r.code();
  }
};

std::string Hex(const std::vector<uint8_t>& b) { return DekPlainText(b).substr(0, b.size() * 2); }

TEST_F(KmsdKeySettingsTest, UpdateKeyAliasRenamesTheKey) {
  const std::string id = alice_.CreateKey("before-rename");
  KmsReply r = alice_.Call("update-key-alias", {{"key_id", id}, {"key_alias", "after-rename"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, Json({{"key_info", {{"key_id", id}, {"key_alias", "after-rename"}}}}));
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["key_alias"], "after-rename");
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", "alias/after-rename"}}).body["key_info"]["key_id"], id);
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", "alias/before-rename"}}), 404, "KMS.0207");
  // The old alias is free again; renaming to the same alias is a no-op.
  alice_.CreateKey("before-rename");
  EXPECT_EQ(alice_.Call("update-key-alias", {{"key_id", id}, {"key_alias", "after-rename"}}).status, 200);
}

TEST_F(KmsdKeySettingsTest, UpdateKeyAliasRefusesBadTakenAndDefaultAliases) {
  const std::string id = alice_.CreateKey("rename-me");
  alice_.CreateKey("taken");
  struct Case {
    Json alias;
    int http;
    const char* code;
  };
  const Case cases[] = {
      {"", 400, "KMS.1101"},
      {std::string(256, 'a'), 400, "KMS.1101"},
      {"with space", 400, "KMS.1101"},
      {"k\xc3\xa9y", 400, "KMS.1101"},        // é
      {std::string("a\0b", 3), 400, "KMS.1101"},
      {"mine/default", 400, "KMS.1101"},
      {"taken", 400, "KMS.1104"},
      {7, 400, "KMS.0202"},
      {Json::array({"x"}), 400, "KMS.0202"},
  };
  for (const Case& c : cases) {
    {
      SCOPED_TRACE(c.alias.dump());
      EXPECT_KMS_ERROR(alice_.Call("update-key-alias", {{"key_id", id}, {"key_alias", c.alias}}), c.http, c.code);
    }
  }
  EXPECT_KMS_ERROR(alice_.Call("update-key-alias", {{"key_id", id}}), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.Call("update-key-alias", {{"key_id", "alias/rename-me"}, {"key_alias", "x"}}), 400,
                   "KMS.0205");
  EXPECT_KMS_ERROR(alice_.Call("update-key-alias", {{"key_id", DefaultKeyOf(alice_)}, {"key_alias", "x"}}), 400,
                   "KMS.0211");
  // A 255-character alias is the longest allowed.
  EXPECT_EQ(alice_.Call("update-key-alias", {{"key_id", id}, {"key_alias", std::string(255, 'z')}}).status, 200);
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["key_alias"], std::string(255, 'z'));
}

TEST_F(KmsdKeySettingsTest, UpdateKeyDescriptionStoresUpTo255Characters) {
  const std::string id = alice_.CreateKey("described-later");
  std::string accents;
  for (int i = 0; i < 255; ++i) accents += "\xc3\xa9";  // 255 characters, 510 bytes
  KmsReply r = alice_.Call("update-key-description", {{"key_id", id}, {"key_description", accents}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, Json({{"key_info", {{"key_id", id}, {"key_description", accents}}}}));
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["key_description"], accents);
  EXPECT_KMS_ERROR(alice_.Call("update-key-description", {{"key_id", id}, {"key_description", accents + "x"}}),
                   400, "KMS.1103");
  EXPECT_KMS_ERROR(alice_.Call("update-key-description", {{"key_id", id}, {"key_description", 1}}), 400,
                   "KMS.0202");
  EXPECT_KMS_ERROR(alice_.Call("update-key-description", {{"key_id", id}}), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.CallRaw("update-key-description",
                                  R"({"key_id":")" + id + "\",\"key_description\":\"\xff\xfe\"}"),
                   400, "KMS.0202");
  // An empty description clears it.
  EXPECT_EQ(alice_.Call("update-key-description", {{"key_id", id}, {"key_description", ""}}).status, 200);
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["key_description"], "");
  EXPECT_KMS_ERROR(
      alice_.Call("update-key-description", {{"key_id", DefaultKeyOf(alice_)}, {"key_description", "x"}}), 400,
      "KMS.0211");
}

TEST_F(KmsdKeySettingsTest, UpdateKeyRotationIntervalAcceptsThirtyTo365Days) {
  const std::string id = alice_.CreateKey("interval");
  for (const Json& bad : {Json("29"), Json("366"), Json(0), Json(-30), Json("abc"), Json(""), Json("30.5")}) {
    {
      SCOPED_TRACE(bad.dump());
      EXPECT_KMS_ERROR(alice_.Call("update-key-rotation-interval", {{"key_id", id}, {"rotation_interval", bad}}),
                     400, "KMS.3001");
    }
  }
  EXPECT_KMS_ERROR(alice_.Call("update-key-rotation-interval", {{"key_id", id}, {"rotation_interval", 9.5}}), 400,
                   "KMS.0202");
  EXPECT_KMS_ERROR(alice_.Call("update-key-rotation-interval", {{"key_id", id}}), 400, "KMS.0204");
  for (const Json& good : {Json(30), Json("365"), Json(90)}) {
    KmsReply r = alice_.Call("update-key-rotation-interval", {{"key_id", id}, {"rotation_interval", good}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body, Json::object());
  }
  EXPECT_EQ(alice_.Call("get-key-rotation-status", {{"key_id", id}}).body["rotation_interval"], 90);
  const std::string external = alice_.CreateKey("interval-external", "external");
  EXPECT_KMS_ERROR(
      alice_.Call("update-key-rotation-interval", {{"key_id", external}, {"rotation_interval", 90}}), 400,
      "KMS.0312");
  EXPECT_KMS_ERROR(
      alice_.Call("update-key-rotation-interval", {{"key_id", DefaultKeyOf(alice_)}, {"rotation_interval", 90}}),
      400, "KMS.0211");
}

TEST_F(KmsdKeySettingsTest, RotateOnDemandAddsAVersionAndOldCiphertextsStillDecrypt) {
  const std::string id = alice_.CreateKey("rotated");
  const std::vector<uint8_t> dek = Bytes(64, 9);
  const std::string before = alice_.EncryptDek(id, dek);
  KmsReply r = alice_.Call("rotate-on-demand", {{"key_id", id}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, Json({{"key_id", id}}));
  ASSERT_EQ(alice_.Call("rotate-on-demand", {{"key_id", id}}).status, 200);
  KmsReply status = alice_.Call("get-key-rotation-status", {{"key_id", id}});
  EXPECT_EQ(status.body["number_of_rotations"], 2);
  EXPECT_EQ(status.body["key_rotation_enabled"], false) << "on demand does not turn scheduled rotation on";
  const std::string after = alice_.EncryptDek(id, dek);
  EXPECT_NE(before.substr(before.size() - 72, 8), after.substr(after.size() - 72, 8)) << "material version";
  EXPECT_EQ(Decrypt(alice_, id, before), Hex(dek));
  EXPECT_EQ(Decrypt(alice_, id, after), Hex(dek));

  ASSERT_EQ(alice_.Call("disable-key", {{"key_id", id}}).status, 200);
  EXPECT_KMS_ERROR(alice_.Call("rotate-on-demand", {{"key_id", id}}), 400, "KMS.1301");
  EXPECT_KMS_ERROR(alice_.Call("rotate-on-demand", {{"key_id", alice_.CreateKey("rot-ext", "external")}}), 400,
                   "KMS.0312");
  EXPECT_KMS_ERROR(alice_.Call("rotate-on-demand", {{"key_id", DefaultKeyOf(alice_)}}), 400, "KMS.0211");
  const std::string rsa =
      alice_.Call("create-key", {{"key_alias", "rot-rsa"}, {"key_spec", "RSA_2048"}}).body["key_info"]["key_id"];
  EXPECT_KMS_ERROR(alice_.Call("rotate-on-demand", {{"key_id", rsa}}), 400, "KMS.0324");
}

TEST_F(KmsdKeySettingsTest, OnlyTheOwningDomainChangesAKeyGrantsNeverDo) {
  const std::string id = alice_.CreateKey("owned");
  // bob holds every grantable operation; still none of these.
  alice_.GrantTo(id, bob_.user().id,
                 {"create-datakey", "create-datakey-without-plaintext", "encrypt-datakey", "decrypt-datakey",
                  "describe-key", "create-grant", "retire-grant", "encrypt-data", "decrypt-data"});
  const std::pair<const char*, Json> calls[] = {
      {"update-key-alias", {{"key_id", id}, {"key_alias", "stolen"}}},
      {"update-key-description", {{"key_id", id}, {"key_description", "stolen"}}},
      {"update-key-rotation-interval", {{"key_id", id}, {"rotation_interval", 30}}},
      {"rotate-on-demand", {{"key_id", id}}},
  };
  for (const auto& [action, body] : calls) {
    {
      SCOPED_TRACE(action);
      EXPECT_KMS_ERROR(bob_.Call(action, body), 403, "KMS.0306");
    }
    {
      SCOPED_TRACE(action);
      EXPECT_KMS_ERROR(carol_.Call(action, body), 403, "KMS.0306");
    }
  }
  KmsReply k = alice_.Call("describe-key", {{"key_id", id}});
  EXPECT_EQ(k.body["key_info"]["key_alias"], "owned");
  EXPECT_EQ(k.body["key_info"]["key_description"], "");
  EXPECT_EQ(alice_.Call("get-key-rotation-status", {{"key_id", id}}).body["number_of_rotations"], 0);
  EXPECT_KMS_ERROR(alice_.Call("rotate-on-demand", {{"key_id", "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}}), 404,
                   "KMS.0207");
}

TEST_F(KmsdKeySettingsTest, ChangesSurviveARestart) {
  const std::string id = alice_.CreateKey("persisted");
  const std::string ct = alice_.EncryptDek(id, Bytes(64, 4));
  ASSERT_EQ(alice_.Call("update-key-alias", {{"key_id", id}, {"key_alias", "persisted-2"}}).status, 200);
  ASSERT_EQ(alice_.Call("update-key-description", {{"key_id", id}, {"key_description", "d"}}).status, 200);
  ASSERT_EQ(alice_.Call("update-key-rotation-interval", {{"key_id", id}, {"rotation_interval", 45}}).status, 200);
  ASSERT_EQ(alice_.Call("rotate-on-demand", {{"key_id", id}}).status, 200);
  ASSERT_TRUE(kmsd_->Restart());
  RefreshEndpoints();
  KmsReply k = alice_.Call("describe-key", {{"key_id", "alias/persisted-2"}});
  ASSERT_EQ(k.status, 200) << k.raw;
  EXPECT_EQ(k.body["key_info"]["key_description"], "d");
  KmsReply s = alice_.Call("get-key-rotation-status", {{"key_id", id}});
  EXPECT_EQ(s.body["rotation_interval"], 45);
  EXPECT_EQ(s.body["number_of_rotations"], 1);
  EXPECT_EQ(Decrypt(alice_, id, ct), Hex(Bytes(64, 4)));
}

}  // namespace
}  // namespace kmsfs::testing
