// BYOK over the wire: spec §7 with every wrapping algorithm and error code.
#include <thread>

#include "tests/server/byok_util.h"
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdImportTest : public KmsdTest {
 protected:
  Json Params(const std::string& key, const std::string& alg = "RSAES_OAEP_SHA_256") {
    KmsReply r = alice_.Call("get-parameters-for-import", {{"key_id", key}, {"wrapping_algorithm", alg}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }
  KmsReply Import(const std::string& key, const Json& params, const std::string& wrapped,
                  const Json& expiration = nullptr) {
    Json body = {{"key_id", key}, {"import_token", params["import_token"]}, {"encrypted_key_material", wrapped}};
    if (!expiration.is_null()) body["expiration_time"] = expiration;
    return alice_.Call("import-key-material", body);
  }
  // Fetches parameters, wraps `material` and imports it; returns the reply.
  KmsReply ImportMaterial(const std::string& key, const std::vector<uint8_t>& material,
                          const std::string& alg = "RSAES_OAEP_SHA_256") {
    Json params = Params(key, alg);
    return Import(key, params, WrapKeyMaterial(params["public_key"], alg, material));
  }
  KmsReply DecryptDek(const std::string& key, const std::string& ct) {
    return alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
  }
};

TEST_F(KmsdImportTest, ExternalKeyStartsPendingImport) {
  std::string key = alice_.CreateKey("byok", "external");
  KmsReply d = alice_.Call("describe-key", {{"key_id", key}});
  EXPECT_EQ(d.body["key_info"]["key_state"], "5");
  EXPECT_EQ(d.body["key_info"]["origin"], "external");
}

TEST_F(KmsdImportTest, GetParametersReturnsFreshRsa2048KeyAndToken) {
  std::string key = alice_.CreateKey("byok", "external");
  Json a = Params(key, "RSAES_OAEP_SHA_1");
  Json b = Params(key, "RSAES_OAEP_SHA_1");
  EXPECT_EQ(a["key_id"], key);
  EXPECT_TRUE(a["expiration_time"].is_number_integer());
  EXPECT_GE(a["import_token"].get<std::string>().size(), 200u);
  EXPECT_EQ(RsaPublicKeyBits(a["public_key"]), 2048);
  EXPECT_NE(a["public_key"], b["public_key"]);
  EXPECT_NE(a["import_token"], b["import_token"]);
}

TEST_F(KmsdImportTest, EveryWrappingAlgorithmImportsUsableMaterial) {
  for (const char* alg : {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}) {
    std::string key = alice_.CreateKey(std::string("byok-") + alg, "external");
    KmsReply r = ImportMaterial(key, Bytes(32, 11), alg);
    ASSERT_EQ(r.status, 200) << alg << ": " << r.raw;
    EXPECT_EQ(r.body, Json::object());
    EXPECT_EQ(alice_.StateOf(key), "2") << alg;
    std::string ct = alice_.EncryptDek(key, Bytes(64, 12));
    EXPECT_EQ(DecryptDek(key, ct).status, 200) << alg;
  }
}

TEST_F(KmsdImportTest, ExpirationTimeMayBeNumberOrStringAndMustBeInTheFuture) {
  std::string k1 = alice_.CreateKey("exp1", "external");
  std::string k2 = alice_.CreateKey("exp2", "external");
  const int64_t future = std::time(nullptr) + 3600;
  Json p1 = Params(k1);
  EXPECT_KMS_ERROR(Import(k1, p1, WrapKeyMaterial(p1["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1)), 1000), 400,
                   "KMS.2602");
  EXPECT_KMS_ERROR(Import(k1, p1, WrapKeyMaterial(p1["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1)), "soon"), 400,
                   "KMS.0308");
  ASSERT_EQ(Import(k1, p1, WrapKeyMaterial(p1["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1)), future).status, 200);
  Json p2 = Params(k2);
  ASSERT_EQ(Import(k2, p2, WrapKeyMaterial(p2["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 2)),
                   std::to_string(future))
                .status,
            200);
  for (const std::string& k : {k1, k2}) {
    EXPECT_EQ(alice_.Call("describe-key", {{"key_id", k}}).body["key_info"]["expiration_time"],
              std::to_string(future * 1000));
  }
}

TEST_F(KmsdImportTest, TokenOfAnotherKeyIs2603) {
  std::string a = alice_.CreateKey("a", "external");
  std::string b = alice_.CreateKey("b", "external");
  Json pa = Params(a);
  EXPECT_KMS_ERROR(Import(b, pa, WrapKeyMaterial(pa["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1))), 400,
                   "KMS.2603");
}

TEST_F(KmsdImportTest, ForgedOrDamagedTokenIs2605) {
  std::string key = alice_.CreateKey("a", "external");
  Json p = Params(key);
  std::string wrapped = WrapKeyMaterial(p["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1));
  Json damaged = p;
  std::string t = p["import_token"];
  t[100] = t[100] == 'A' ? 'B' : 'A';
  damaged["import_token"] = t;
  EXPECT_KMS_ERROR(Import(key, damaged, wrapped), 400, "KMS.2605");
  damaged["import_token"] = std::string(200, 'A');
  EXPECT_KMS_ERROR(Import(key, damaged, wrapped), 400, "KMS.2605");
  damaged["import_token"] = "short";
  EXPECT_KMS_ERROR(Import(key, damaged, wrapped), 400, "KMS.2605");
}

// A wrong length must not answer differently from a wrong padding: for
// RSAES-PKCS1-v1_5 that difference is a Bleichenbacher padding oracle.
TEST_F(KmsdImportTest, EveryUnwrapFailureGetsTheSameAnswerForEveryAlgorithm) {
  std::string key = alice_.CreateKey("a", "external");
  for (const char* alg : {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}) {
    SCOPED_TRACE(alg);
    std::vector<std::string> raws;
    for (size_t length : {0u, 16u, 31u, 33u, 64u}) {
      Json p = Params(key, alg);
      KmsReply r = Import(key, p, WrapKeyMaterial(p["public_key"], alg, Bytes(length, 1)));
      EXPECT_KMS_ERROR(r, 400, "KMS.0311");
      raws.push_back(r.body.dump());
    }
    Json p = Params(key, alg);
    const std::string other = std::string(alg) == "RSAES_PKCS1_V1_5" ? "RSAES_OAEP_SHA_1" : "RSAES_PKCS1_V1_5";
    KmsReply wrong_alg = Import(key, p, WrapKeyMaterial(p["public_key"], other, Bytes(32, 1)));
    EXPECT_KMS_ERROR(wrong_alg, 400, "KMS.0311");
    raws.push_back(wrong_alg.body.dump());
    for (const std::string& raw : raws) EXPECT_EQ(raw, raws.front());
  }
  EXPECT_EQ(alice_.StateOf(key), "5");
}

TEST_F(KmsdImportTest, UnwrapFailureIs0311) {
  std::string key = alice_.CreateKey("a", "external");
  Json p = Params(key, "RSAES_OAEP_SHA_256");
  // Wrapped with PKCS#1 v1.5 but the token says OAEP-SHA-256.
  EXPECT_KMS_ERROR(Import(key, p, WrapKeyMaterial(p["public_key"], "RSAES_PKCS1_V1_5", Bytes(32, 1))), 400,
                   "KMS.0311");
  // Wrapped with another import's public key.
  Json other = Params(key);
  EXPECT_KMS_ERROR(Import(key, p, WrapKeyMaterial(other["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1))), 400,
                   "KMS.0311");
}

TEST_F(KmsdImportTest, MalformedWrappedMaterialIs0308) {
  std::string key = alice_.CreateKey("a", "external");
  Json p = Params(key);
  EXPECT_KMS_ERROR(Import(key, p, "AAAA"), 400, "KMS.0308");
  EXPECT_KMS_ERROR(Import(key, p, std::string(344, '*')), 400, "KMS.0308");
  EXPECT_KMS_ERROR(alice_.Call("get-parameters-for-import", {{"key_id", key}, {"wrapping_algorithm", "SM2_ENCRYPT"}}),
                   400, "KMS.0308");
  EXPECT_KMS_ERROR(alice_.Call("get-parameters-for-import", {{"key_id", key}}), 400, "KMS.0204");
}

TEST_F(KmsdImportTest, KeyOriginAndStateAreChecked) {
  std::string kms_key = alice_.CreateKey("native");
  EXPECT_KMS_ERROR(alice_.Call("get-parameters-for-import", {{"key_id", kms_key}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}}),
                   400, "KMS.0309");
  EXPECT_KMS_ERROR(alice_.Call("delete-imported-key-material", {{"key_id", kms_key}}), 400, "KMS.0309");
  std::string key = alice_.CreateKey("ext", "external");
  Json p = Params(key);
  std::string wrapped = WrapKeyMaterial(p["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1));
  EXPECT_KMS_ERROR(alice_.Call("import-key-material", {{"key_id", kms_key}, {"import_token", p["import_token"]},
                                                       {"encrypted_key_material", wrapped}}),
                   400, "KMS.0309");
  EXPECT_KMS_ERROR(alice_.Call("delete-imported-key-material", {{"key_id", key}}), 400, "KMS.2701");
  ASSERT_EQ(Import(key, p, wrapped).status, 200);
  EXPECT_KMS_ERROR(Import(key, p, wrapped), 400, "KMS.0310");
  EXPECT_KMS_ERROR(alice_.Call("get-parameters-for-import", {{"key_id", key}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}}),
                   400, "KMS.0310");
  // Only the owner imports.
  EXPECT_KMS_ERROR(bob_.Call("delete-imported-key-material", {{"key_id", key}}), 403, "KMS.0306");
}

TEST_F(KmsdImportTest, DeletedMaterialMayOnlyComeBackIdentical) {
  std::string key = alice_.CreateKey("cycle", "external");
  ASSERT_EQ(ImportMaterial(key, Bytes(32, 21)).status, 200);
  std::string ct = alice_.EncryptDek(key, Bytes(64, 22));
  KmsReply del = alice_.Call("delete-imported-key-material", {{"key_id", key}});
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_EQ(del.body, Json::object());
  EXPECT_EQ(alice_.StateOf(key), "5");
  EXPECT_KMS_ERROR(DecryptDek(key, ct), 400, "KMS.1301");
  EXPECT_KMS_ERROR(ImportMaterial(key, Bytes(32, 23)), 400, "KMS.2606");
  ASSERT_EQ(ImportMaterial(key, Bytes(32, 21), "RSAES_PKCS1_V1_5").status, 200);
  KmsReply back = DecryptDek(key, ct);
  ASSERT_EQ(back.status, 200) << back.raw;
  EXPECT_EQ(back.body["data_key"], DekPlainText(Bytes(64, 22)).substr(0, 128));
}

// After a deletion the key remembers which material it had. Under
// RSAES-PKCS1-v1_5 a mauled ciphertext now and then unwraps to other
// material: that answer must be the one a failed unwrap gets, byte for byte,
// or the difference is a padding oracle on the import (Bleichenbacher).
TEST_F(KmsdImportTest, OtherMaterialUnderPkcs1AnswersLikeAFailedUnwrap) {
  std::string key = alice_.CreateKey("oracle", "external");
  ASSERT_EQ(ImportMaterial(key, Bytes(32, 41), "RSAES_PKCS1_V1_5").status, 200);
  ASSERT_EQ(alice_.Call("delete-imported-key-material", {{"key_id", key}}).status, 200);
  Json p = Params(key, "RSAES_PKCS1_V1_5");
  KmsReply bad_padding = Import(key, p, WrapKeyMaterial(p["public_key"], "RSAES_OAEP_SHA_1", Bytes(32, 41)));
  KmsReply other_material = Import(key, p, WrapKeyMaterial(p["public_key"], "RSAES_PKCS1_V1_5", Bytes(32, 42)));
  EXPECT_KMS_ERROR(bad_padding, 400, "KMS.0311");
  EXPECT_KMS_ERROR(other_material, 400, "KMS.0311");
  EXPECT_EQ(other_material.body.dump(), bad_padding.body.dump());
  EXPECT_EQ(alice_.StateOf(key), "5");
  // The material it had still comes back.
  ASSERT_EQ(Import(key, p, WrapKeyMaterial(p["public_key"], "RSAES_PKCS1_V1_5", Bytes(32, 41))).status, 200);
}

TEST_F(KmsdImportTest, ReplayedImportRequestIsRefusedAndChangesNothing) {
  std::string key = alice_.CreateKey("replay", "external");
  Json params = Params(key);
  const std::string wrapped = WrapKeyMaterial(params["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 31));
  ASSERT_EQ(Import(key, params, wrapped).status, 200);
  std::string ct = alice_.EncryptDek(key, Bytes(64, 32));
  // The same request again: the key is no longer pending import.
  EXPECT_KMS_ERROR(Import(key, params, wrapped), 400, "KMS.0310");
  // The token replayed with other material changes nothing either.
  EXPECT_KMS_ERROR(Import(key, params, WrapKeyMaterial(params["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 33))),
                   400, "KMS.0310");
  EXPECT_EQ(alice_.StateOf(key), "2");
  KmsReply back = DecryptDek(key, ct);
  ASSERT_EQ(back.status, 200) << back.raw;
  EXPECT_EQ(back.body["data_key"], DekPlainText(Bytes(64, 32)).substr(0, 128));
}

TEST_F(KmsdImportTest, DisabledImportedKeyMayHaveItsMaterialDeleted) {
  std::string key = alice_.CreateKey("off", "external");
  ASSERT_EQ(ImportMaterial(key, Bytes(32, 5)).status, 200);
  ASSERT_EQ(alice_.Call("disable-key", {{"key_id", key}}).status, 200);
  EXPECT_EQ(alice_.Call("delete-imported-key-material", {{"key_id", key}}).status, 200);
  EXPECT_EQ(alice_.StateOf(key), "5");
}

class KmsdShortImportTokenTest : public KmsdImportTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.import_token_ttl_sec = 1;
    return o;
  }
};

TEST_F(KmsdShortImportTokenTest, ExpiredImportTokenIs2601) {
  std::string key = alice_.CreateKey("late", "external");
  Json p = Params(key);
  std::string wrapped = WrapKeyMaterial(p["public_key"], "RSAES_OAEP_SHA_256", Bytes(32, 1));
  // Waiting for time to pass (the token's 1 s lifetime), not for readiness.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_KMS_ERROR(Import(key, p, wrapped), 400, "KMS.2601");
  EXPECT_EQ(alice_.StateOf(key), "5");
}

}  // namespace
}  // namespace kmsfs::testing
