// Key management actions over the wire: spec §3 (create, describe, list,
// enable/disable, deletion, rotation, gen-random) with their error codes.
#include <regex>
#include <set>

#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdKeyActionsTest : public KmsdTest {};

TEST_F(KmsdKeyActionsTest, CreateKeyReturnsKeyIdAndDomainId) {
  KmsReply r = alice_.Call("create-key", {{"key_alias", "first"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const std::string id = r.body["key_info"]["key_id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  EXPECT_EQ(r.body["key_info"]["domain_id"].get<std::string>().size(), 32u);
  EXPECT_EQ(r.body["key_info"].size(), 2u);
}

TEST_F(KmsdKeyActionsTest, DescribeKeyReturnsEveryDocumentedField) {
  std::string id = alice_.CreateKey("described");
  KmsReply r = alice_.Call("describe-key", {{"key_id", id}, {"sequence", "919c82d4-8046-4722-9094-35c3c6524cff"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const Json& k = r.body["key_info"];
  ASSERT_TRUE(k.is_object());  // an object, as every example shows
  for (const char* f : {"key_id", "domain_id", "key_alias", "realm", "key_description", "key_spec", "key_usage",
                        "creation_date", "scheduled_deletion_date", "key_state", "default_key_flag", "key_type",
                        "expiration_time", "origin"}) {
    ASSERT_TRUE(k.contains(f)) << f;
    EXPECT_TRUE(k[f].is_string()) << f;
  }
  EXPECT_EQ(k["key_id"], id);
  EXPECT_EQ(k["key_alias"], "described");
  EXPECT_EQ(k["key_spec"], "AES_256");
  EXPECT_EQ(k["key_usage"], "ENCRYPT_DECRYPT");
  EXPECT_EQ(k["key_state"], "2");
  EXPECT_EQ(k["default_key_flag"], "0");
  EXPECT_EQ(k["origin"], "kms");
  EXPECT_EQ(k["scheduled_deletion_date"], "");
  EXPECT_EQ(k["expiration_time"], "");
  EXPECT_EQ(k["creation_date"].get<std::string>().size(), 13u);  // epoch milliseconds
}

TEST_F(KmsdKeyActionsTest, KeysResolveByAliasAndUrn) {
  std::string id = alice_.CreateKey("named-key");
  KmsReply by_alias = alice_.Call("describe-key", {{"key_id", "alias/named-key"}});
  ASSERT_EQ(by_alias.status, 200) << by_alias.raw;
  EXPECT_EQ(by_alias.body["key_info"]["key_id"], id);
  std::string domain = by_alias.body["key_info"]["domain_id"];
  KmsReply by_urn = alice_.Call("describe-key", {{"key_id", "kms:eu-de:" + domain + ":alias:named-key"}});
  ASSERT_EQ(by_urn.status, 200) << by_urn.raw;
  EXPECT_EQ(by_urn.body["key_info"]["key_id"], id);
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", "alias/other"}}), 404, "KMS.0207");
  // Actions that take only UUIDs refuse aliases.
  EXPECT_KMS_ERROR(alice_.Call("disable-key", {{"key_id", "alias/named-key"}}), 400, "KMS.0205");
}

TEST_F(KmsdKeyActionsTest, MalformedAndUnknownKeyIds) {
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", "not-a-key"}}), 400, "KMS.0205");
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", ""}}), 400, "KMS.0205");
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}}), 404,
                   "KMS.0207");
  EXPECT_KMS_ERROR(alice_.Call("describe-key", Json::object()), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", 42}}), 400, "KMS.0202");
}

TEST_F(KmsdKeyActionsTest, CreateKeyValidation) {
  struct Case {
    Json body;
    const char* code;
  };
  const Case cases[] = {
      {Json::object(), "KMS.0204"},
      {{{"key_alias", 7}}, "KMS.0202"},
      {{{"key_alias", "bad alias"}}, "KMS.1101"},
      {{{"key_alias", ""}}, "KMS.1101"},
      {{{"key_alias", std::string(256, 'a')}}, "KMS.1101"},
      {{{"key_alias", "obs/default"}}, "KMS.1101"},
      {{{"key_alias", "ok"}, {"key_description", std::string(256, 'd')}}, "KMS.1103"},
      {{{"key_alias", "ok"}, {"key_spec", "AES_512"}}, "KMS.1110"},
      {{{"key_alias", "ok"}, {"key_usage", "WRAP"}}, "KMS.0308"},
      {{{"key_alias", "ok"}, {"key_spec", "EC_P256"}, {"key_usage", "ENCRYPT_DECRYPT"}}, "KMS.1114"},
      {{{"key_alias", "ok"}, {"key_usage", "SIGN_VERIFY"}}, "KMS.1115"},
      {{{"key_alias", "ok"}, {"origin", "hsm"}}, "KMS.0308"},
      {{{"key_alias", "ok"}, {"realm", "eu de"}}, "KMS.1102"},
      {{{"key_alias", "ok"}, {"sequence", "short"}}, "KMS.0206"},
  };
  for (const Case& c : cases) {
    EXPECT_KMS_ERROR(alice_.Call("create-key", c.body), 400, c.code);
  }
  // Multi-byte characters count as one each: 255 of them are fine.
  std::string desc;
  for (int i = 0; i < 255; ++i) desc += "\xc3\xa9";
  EXPECT_EQ(alice_.Call("create-key", {{"key_alias", "unicode"}, {"key_description", desc}}).status, 200);
}

TEST_F(KmsdKeyActionsTest, DuplicateAliasIs1104ButOtherProjectsMayReuseIt) {
  alice_.CreateKey("shared-name");
  EXPECT_KMS_ERROR(alice_.Call("create-key", {{"key_alias", "shared-name"}}), 400, "KMS.1104");
  EXPECT_FALSE(bob_.CreateKey("shared-name").empty());
}

TEST_F(KmsdKeyActionsTest, HundredAndFirstKeyIs1105) {
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(carol_.CreateKey("quota-" + std::to_string(i)).empty()) << i;
  EXPECT_KMS_ERROR(carol_.Call("create-key", {{"key_alias", "one-too-many"}}), 400, "KMS.1105");
  EXPECT_FALSE(alice_.CreateKey("other-project").empty());  // quota is per project
}

TEST_F(KmsdKeyActionsTest, ListKeysPaginatesInCreationOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(alice_.CreateKey("list-" + std::to_string(i)));
  // The domain's default key comes first (created at start-up).
  KmsReply all = alice_.Call("list-keys", {{"limit", ""}, {"marker", ""}});
  ASSERT_EQ(all.status, 200) << all.raw;
  EXPECT_EQ(all.body["total"], 6);
  EXPECT_TRUE(all.body["total"].is_number_integer());
  EXPECT_EQ(all.body["truncated"], "false");
  EXPECT_EQ(all.body["next_marker"], "");
  EXPECT_EQ(all.body["key_details"][0]["default_key_flag"], "1");

  std::vector<std::string> seen;
  std::string marker;
  for (int page = 0; page < 10; ++page) {
    Json body = {{"limit", "2"}};
    if (!marker.empty()) body["marker"] = marker;
    KmsReply r = alice_.Call("list-keys", body);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["keys"].size(), r.body["key_details"].size());
    for (size_t i = 0; i < r.body["keys"].size(); ++i) {
      EXPECT_EQ(r.body["keys"][i], r.body["key_details"][i]["key_id"]);
      seen.push_back(r.body["keys"][i]);
    }
    if (r.body["truncated"] == "false") {
      EXPECT_EQ(r.body["next_marker"], "");
      break;
    }
    marker = r.body["next_marker"];
  }
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(seen.begin() + 1, seen.end()), ids);
}

TEST_F(KmsdKeyActionsTest, ListKeysFiltersByStateAndValidatesPaging) {
  std::string a = alice_.CreateKey("filter-a");
  alice_.CreateKey("filter-b");
  ASSERT_EQ(alice_.Call("disable-key", {{"key_id", a}}).status, 200);
  KmsReply disabled = alice_.Call("list-keys", {{"key_state", "3"}});
  ASSERT_EQ(disabled.status, 200);
  ASSERT_EQ(disabled.body["total"], 1);
  EXPECT_EQ(disabled.body["keys"][0], a);
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"key_state", "6"}}), 400, "KMS.0308");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"limit", "0"}}), 400, "KMS.1601");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"limit", "ten"}}), 400, "KMS.1601");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"marker", "-1"}}), 400, "KMS.1602");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"limit", true}}), 400, "KMS.0202");
  // Only the caller's project is listed.
  KmsReply bobs = bob_.Call("list-keys", Json::object());
  EXPECT_EQ(bobs.body["total"], 1);
}

TEST_F(KmsdKeyActionsTest, PagingStateAndDeletionDaysMayBeJsonIntegers) {
  for (int i = 0; i < 3; ++i) alice_.CreateKey(UniqueAlias());
  KmsReply page = alice_.Call("list-keys", {{"limit", 2}, {"marker", 1}, {"key_state", 2}});
  ASSERT_EQ(page.status, 200) << page.raw;
  EXPECT_EQ(page.body["keys"].size(), 2u);
  EXPECT_EQ(page.body["next_marker"], "3");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"limit", 0}}), 400, "KMS.1601");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"marker", -1}}), 400, "KMS.1602");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"key_state", 6}}), 400, "KMS.0308");
  EXPECT_KMS_ERROR(alice_.Call("list-keys", {{"limit", 1.5}}), 400, "KMS.0202");
  const std::string key = alice_.CreateKey(UniqueAlias());
  EXPECT_KMS_ERROR(alice_.Call("schedule-key-deletion", {{"key_id", key}, {"pending_days", 6}}), 400, "KMS.1401");
  KmsReply scheduled = alice_.Call("schedule-key-deletion", {{"key_id", key}, {"pending_days", 7}});
  ASSERT_EQ(scheduled.status, 200) << scheduled.raw;
  EXPECT_EQ(scheduled.body["key_state"], "4");
  EXPECT_EQ(alice_.Call("list-grants", {{"key_id", key}, {"limit", 5}}).status, 200);
}

TEST_F(KmsdKeyActionsTest, EnableAndDisableFollowTheStateMachine) {
  std::string id = alice_.CreateKey("toggle");
  EXPECT_KMS_ERROR(alice_.Call("enable-key", {{"key_id", id}}), 400, "KMS.1201");
  KmsReply off = alice_.Call("disable-key", {{"key_id", id}});
  ASSERT_EQ(off.status, 200);
  EXPECT_EQ(off.body, Json({{"key_info", {{"key_id", id}, {"key_state", "3"}}}}));
  EXPECT_KMS_ERROR(alice_.Call("disable-key", {{"key_id", id}}), 400, "KMS.1301");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", id}, {"datakey_length", "512"}}), 400, "KMS.0209");
  KmsReply on = alice_.Call("enable-key", {{"key_id", id}});
  EXPECT_EQ(on.body, Json({{"key_info", {{"key_id", id}, {"key_state", "2"}}}}));
}

TEST_F(KmsdKeyActionsTest, ScheduleAndCancelDeletion) {
  std::string id = alice_.CreateKey("doomed");
  for (const char* days : {"6", "1097", "seven", ""}) {
    EXPECT_KMS_ERROR(alice_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", days}}), 400, "KMS.1401");
  }
  EXPECT_KMS_ERROR(alice_.Call("schedule-key-deletion", {{"key_id", id}}), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.Call("cancel-key-deletion", {{"key_id", id}}), 400, "KMS.1501");
  KmsReply s = alice_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", "7"}});
  ASSERT_EQ(s.status, 200) << s.raw;
  EXPECT_EQ(s.body, Json({{"key_id", id}, {"key_state", "4"}}));  // not wrapped in key_info
  KmsReply d = alice_.Call("describe-key", {{"key_id", id}});
  EXPECT_EQ(d.body["key_info"]["key_state"], "4");
  EXPECT_EQ(d.body["key_info"]["scheduled_deletion_date"].get<std::string>().size(), 13u);
  EXPECT_KMS_ERROR(alice_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", "30"}}), 400, "KMS.1402");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", id}}), 400, "KMS.0210");
  EXPECT_KMS_ERROR(alice_.Call("enable-key", {{"key_id", id}}), 400, "KMS.0210");
  EXPECT_KMS_ERROR(alice_.Call("disable-key", {{"key_id", id}}), 400, "KMS.0210");
  KmsReply c = alice_.Call("cancel-key-deletion", {{"key_id", id}});
  EXPECT_EQ(c.body, Json({{"key_id", id}, {"key_state", "3"}}));  // back as Disabled
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["scheduled_deletion_date"], "");
  EXPECT_EQ(alice_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", "1096"}}).status, 200);
}

TEST_F(KmsdKeyActionsTest, DefaultKeyCannotBeManaged) {
  KmsReply d = alice_.Call("describe-key", {{"key_id", "alias/kmsfs/default"}});
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["key_info"]["default_key_flag"], "1");
  std::string id = d.body["key_info"]["key_id"];
  EXPECT_KMS_ERROR(alice_.Call("disable-key", {{"key_id", id}}), 400, "KMS.0211");
  EXPECT_KMS_ERROR(alice_.Call("enable-key", {{"key_id", id}}), 400, "KMS.0211");
  EXPECT_KMS_ERROR(alice_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", "7"}}), 400, "KMS.0211");
  EXPECT_KMS_ERROR(alice_.Call("enable-key-rotation", {{"key_id", id}}), 400, "KMS.0211");
  EXPECT_KMS_ERROR(alice_.Call("create-grant", {{"key_id", id}, {"grantee_principal", users_[1].id},
                                                {"operations", {"describe-key"}}}),
                   400, "KMS.0211");
  // It is usable for cryptography like any key.
  EXPECT_EQ(alice_.Call("create-datakey", {{"key_id", id}, {"datakey_length", "512"}}).status, 200);
}

TEST_F(KmsdKeyActionsTest, OnlyTheOwningDomainManagesAKey) {
  std::string id = alice_.CreateKey("mine");
  for (const char* action : {"enable-key", "disable-key", "cancel-key-deletion", "enable-key-rotation",
                             "disable-key-rotation", "get-key-rotation-status", "describe-key"}) {
    EXPECT_KMS_ERROR(bob_.Call(action, {{"key_id", id}}), 403, "KMS.0306");
  }
  EXPECT_KMS_ERROR(bob_.Call("schedule-key-deletion", {{"key_id", id}, {"pending_days", "7"}}), 403, "KMS.0306");
  EXPECT_EQ(alice_.StateOf(id), "2");
}

TEST_F(KmsdKeyActionsTest, RotationKeepsOldCiphertextsDecryptable) {
  std::string id = alice_.CreateKey("rotating");
  std::vector<uint8_t> dek = Bytes(64, 3);
  std::string before = alice_.EncryptDek(id, dek);
  EXPECT_EQ(before.substr(304, 8), "00000000");  // material version 0
  KmsReply rot = alice_.Call("enable-key-rotation", {{"key_id", id}});
  ASSERT_EQ(rot.status, 200) << rot.raw;
  EXPECT_EQ(rot.body, Json::object());
  std::string after = alice_.EncryptDek(id, dek);
  EXPECT_EQ(after.substr(304, 8), "01000000");  // new ciphertexts use version 1
  for (const std::string& ct : {before, after}) {
    KmsReply r = alice_.Call("decrypt-datakey", {{"key_id", id}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data_key"], DekPlainText(dek).substr(0, 128));
  }
  KmsReply status = alice_.Call("get-key-rotation-status", {{"key_id", id}});
  EXPECT_EQ(status.body["key_rotation_enabled"], true);
  EXPECT_EQ(status.body["number_of_rotations"], 1);
  EXPECT_EQ(status.body["rotation_interval"], 365);
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", id}}).body["key_info"]["key_rotation_enabled"], "true");
  EXPECT_KMS_ERROR(alice_.Call("enable-key-rotation", {{"key_id", id}}), 400, "KMS.2901");
  EXPECT_EQ(alice_.Call("disable-key-rotation", {{"key_id", id}}).status, 200);
  EXPECT_KMS_ERROR(alice_.Call("disable-key-rotation", {{"key_id", id}}), 400, "KMS.0313");
  ASSERT_EQ(alice_.Call("enable-key-rotation", {{"key_id", id}}).status, 200);
  EXPECT_EQ(alice_.EncryptDek(id, dek).substr(304, 8), "02000000");
}

TEST_F(KmsdKeyActionsTest, RotationRefusesExternalAndAsymmetricKeys) {
  std::string ext = alice_.CreateKey("ext", "external");
  EXPECT_KMS_ERROR(alice_.Call("enable-key-rotation", {{"key_id", ext}}), 400, "KMS.0312");
  KmsReply rsa = alice_.Call("create-key", {{"key_alias", "rsa"}, {"key_spec", "RSA_2048"}});
  ASSERT_EQ(rsa.status, 200) << rsa.raw;
  EXPECT_KMS_ERROR(alice_.Call("enable-key-rotation", {{"key_id", rsa.body["key_info"]["key_id"]}}), 400, "KMS.0324");
}

TEST_F(KmsdKeyActionsTest, NonAesKeysRefuseCryptography) {
  KmsReply sign = alice_.Call("create-key", {{"key_alias", "signer"}, {"key_spec", "RSA_2048"}});
  KmsReply enc = alice_.Call("create-key",
                             {{"key_alias", "rsa-enc"}, {"key_spec", "RSA_2048"}, {"key_usage", "ENCRYPT_DECRYPT"}});
  ASSERT_EQ(sign.status, 200);
  ASSERT_EQ(enc.status, 200);
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", sign.body["key_info"]["key_id"]}}).body["key_info"]["key_usage"],
            "SIGN_VERIFY");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", sign.body["key_info"]["key_id"]}}), 400, "KMS.0335");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", enc.body["key_info"]["key_id"]}}), 400, "KMS.0325");
  std::string pending = alice_.CreateKey("pending", "external");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", pending}}), 400, "KMS.1301");
}

TEST_F(KmsdKeyActionsTest, GenRandomReturnsHexOfTheRequestedLength) {
  KmsReply r = alice_.Call("gen-random", {{"random_data_length", "512"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  std::string hex = r.body["random_data"];
  EXPECT_TRUE(std::regex_match(hex, std::regex("[0-9A-F]{128}")));
  EXPECT_NE(hex, alice_.Call("gen-random", {{"random_data_length", "512"}}).body["random_data"]);
  EXPECT_EQ(alice_.Call("gen-random", {{"random_data_length", "8"}}).body["random_data"].get<std::string>().size(), 2u);
  EXPECT_KMS_ERROR(alice_.Call("gen-random", {{"random_data_length", "0"}}), 400, "KMS.1801");
  EXPECT_KMS_ERROR(alice_.Call("gen-random", {{"random_data_length", "8200"}}), 400, "KMS.1801");
  EXPECT_KMS_ERROR(alice_.Call("gen-random", {{"random_data_length", "12"}}), 400, "KMS.1802");
  EXPECT_KMS_ERROR(alice_.Call("gen-random", Json::object()), 400, "KMS.0204");
  EXPECT_KMS_ERROR(alice_.Call("gen-random", {{"random_data_length", 512.0}}), 400, "KMS.0202");
}

}  // namespace
}  // namespace kmsfs::testing
