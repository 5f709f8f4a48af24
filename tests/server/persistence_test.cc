// Restart and crash: keys, material versions, grants, imported material and
// tokens all survive; old ciphertexts still decrypt.
#include "tests/server/byok_util.h"
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdPersistenceTest : public KmsdTest {
 protected:
  KmsReply DecryptAs(const KmsWire& who, const std::string& key, const std::string& ct) {
    return who.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
  }
};

TEST_F(KmsdPersistenceTest, RestartLosesNothing) {
  // A plain key with a grant, a rotated key, and an imported key.
  std::string plain = alice_.CreateKey("plain");
  std::string grant = alice_.GrantTo(plain, users_[1].id, {"decrypt-datakey"});
  std::string plain_ct = alice_.EncryptDek(plain, Bytes(64, 1), {{"f", "1"}});

  std::string rotated = alice_.CreateKey("rotated");
  std::string old_ct = alice_.EncryptDek(rotated, Bytes(64, 2));
  ASSERT_EQ(alice_.Call("enable-key-rotation", {{"key_id", rotated}}).status, 200);
  std::string new_ct = alice_.EncryptDek(rotated, Bytes(64, 3));

  std::string imported = alice_.CreateKey("imported", "external");
  KmsReply p = alice_.Call("get-parameters-for-import", {{"key_id", imported}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}});
  ASSERT_EQ(alice_.Call("import-key-material",
                        {{"key_id", imported}, {"import_token", p.body["import_token"]},
                         {"encrypted_key_material", WrapKeyMaterial(p.body["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 4))}})
                .status,
            200);
  std::string imported_ct = alice_.EncryptDek(imported, Bytes(64, 5));
  std::string data_ct = alice_.Call("encrypt-data", {{"key_id", plain}, {"plain_text", "persist"}}).body["cipher_text"];

  ASSERT_TRUE(kmsd_->Restart());
  RefreshEndpoints();

  // Tokens issued before the restart still work.
  KmsReply list = alice_.Call("list-keys", Json::object());
  ASSERT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.body["total"], 4);  // 3 + the default key
  EXPECT_EQ(alice_.Call("describe-key", {{"key_id", plain}}).body["key_info"]["key_alias"], "plain");
  KmsReply d1 = alice_.Call("decrypt-datakey", {{"key_id", plain}, {"cipher_text", plain_ct},
                                                {"datakey_cipher_length", "64"}, {"encryption_context", {{"f", "1"}}}});
  EXPECT_EQ(d1.status, 200) << d1.raw;
  EXPECT_EQ(DecryptAs(alice_, rotated, old_ct).status, 200);
  EXPECT_EQ(DecryptAs(alice_, rotated, new_ct).status, 200);
  EXPECT_EQ(alice_.EncryptDek(rotated, Bytes(64, 6)).substr(304, 8), "01000000");
  EXPECT_EQ(DecryptAs(alice_, imported, imported_ct).status, 200);
  EXPECT_EQ(alice_.Call("decrypt-data", {{"cipher_text", data_ct}}).body["plain_text"], "persist");
  // The grant still authorises bob, and still can be revoked.
  KmsReply bob_list = alice_.Call("list-grants", {{"key_id", plain}});
  ASSERT_EQ(bob_list.body["total"], 1);
  EXPECT_EQ(bob_list.body["grants"][0]["grant_id"], grant);
  EXPECT_EQ(bob_.Call("decrypt-datakey", {{"key_id", plain}, {"cipher_text", alice_.EncryptDek(plain, Bytes(64, 7))},
                                          {"datakey_cipher_length", "64"}})
                .status,
            200);
  EXPECT_EQ(alice_.Call("get-key-rotation-status", {{"key_id", rotated}}).body["number_of_rotations"], 1);
}

TEST_F(KmsdPersistenceTest, CrashAfterAnAnswerKeepsWhatWasAnswered) {
  std::string key = alice_.CreateKey("durable");
  std::string ct = alice_.EncryptDek(key, Bytes(64, 9));
  std::string grant = alice_.GrantTo(key, users_[2].id, {"decrypt-datakey"});
  ASSERT_EQ(alice_.Call("disable-key", {{"key_id", key}}).status, 200);
  kmsd_->Kill();  // SIGKILL: no clean shutdown
  ASSERT_TRUE(kmsd_->Restart());
  RefreshEndpoints();
  EXPECT_EQ(alice_.StateOf(key), "3");
  ASSERT_EQ(alice_.Call("enable-key", {{"key_id", key}}).status, 200);
  EXPECT_EQ(DecryptAs(carol_, key, ct).status, 200);
}

TEST_F(KmsdPersistenceTest, UsersRemovedFromTheFileLoseTheirTokens) {
  const std::string carol_token = carol_.token();
  KmsdProcess::Options opts;
  opts.users = {users_[0], users_[1]};
  opts.data_dir = kmsd_->data_dir();
  kmsd_->Stop();
  auto again = KmsdProcess::Start(opts);
  ASSERT_NE(again, nullptr);
  KmsWire carol(again->endpoint(), users_[2], carol_token);
  EXPECT_KMS_ERROR(carol.Call("list-keys", Json::object()), 403, "KMS.0302");
  KmsWire alice(again->endpoint(), users_[0], alice_.token());
  EXPECT_EQ(alice.Call("list-keys", Json::object()).status, 200);
}

}  // namespace
}  // namespace kmsfs::testing
