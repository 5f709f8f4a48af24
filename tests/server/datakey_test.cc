// Data-key and data actions over the wire: spec §4 and the envelope of §5.
#include <openssl/evp.h>

#include <regex>

#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

std::string FlipHexAt(std::string hex, size_t i) {
  hex[i] = hex[i] == '0' ? '1' : '0';
  return hex;
}

std::vector<uint8_t> FromBase64(const std::string& b64) {
  std::vector<uint8_t> out(b64.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  size_t pad = b64.size() >= 2 ? (b64[b64.size() - 1] == '=') + (b64[b64.size() - 2] == '=') : 0;
  out.resize(static_cast<size_t>(std::max(n, 0)) - pad);
  return out;
}

class KmsdDataKeyTest : public KmsdTest {
 protected:
  void SetUp() override {
    KmsdTest::SetUp();
    key_ = alice_.CreateKey("data");
  }
  KmsReply Decrypt(const std::string& ct, const Json& ctx = nullptr, const std::string& len = "64") {
    Json body = {{"key_id", key_}, {"cipher_text", ct}, {"datakey_cipher_length", len}};
    if (!ctx.is_null()) body["encryption_context"] = ctx;
    return alice_.Call("decrypt-datakey", body);
  }
  std::string key_;
};

TEST_F(KmsdDataKeyTest, CreateDataKeyReturnsDekAndItsEnvelope) {
  KmsReply r = alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", "512"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key_id"], key_);
  std::string plain = r.body["plain_text"];
  std::string ct = r.body["cipher_text"];
  EXPECT_TRUE(std::regex_match(plain, std::regex("[0-9A-F]{128}")));
  EXPECT_TRUE(std::regex_match(ct, std::regex("[0-9A-F]{376}")));
  EXPECT_EQ(ct.substr(0, 8), "02009800");
  KmsReply d = Decrypt(ct);
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["data_key"], plain);
  EXPECT_EQ(d.body["datakey_length"], "64");
  std::vector<uint8_t> dek;
  for (size_t i = 0; i < plain.size(); i += 2) dek.push_back(static_cast<uint8_t>(std::stoi(plain.substr(i, 2), nullptr, 16)));
  EXPECT_EQ(d.body["datakey_dgst"], DekPlainText(dek).substr(128));
}

TEST_F(KmsdDataKeyTest, CreateDataKeyWithoutPlaintextOmitsIt) {
  KmsReply r = alice_.Call("create-datakey-without-plaintext", {{"key_id", key_}, {"datakey_length", "512"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(r.body.contains("plain_text"));
  EXPECT_EQ(Decrypt(r.body["cipher_text"]).status, 200);
}

TEST_F(KmsdDataKeyTest, DataKeyLengthDefaultsAndKeySpec) {
  KmsReply dflt = alice_.Call("create-datakey", {{"key_id", key_}});
  EXPECT_EQ(dflt.body["plain_text"].get<std::string>().size(), 64u);  // 256 bits
  KmsReply aes128 = alice_.Call("create-datakey", {{"key_id", key_}, {"key_spec", "AES_128"}});
  EXPECT_EQ(aes128.body["plain_text"].get<std::string>().size(), 32u);
  KmsReply both = alice_.Call("create-datakey", {{"key_id", key_}, {"key_spec", "AES_128"}, {"datakey_length", "1024"}});
  EXPECT_EQ(both.body["plain_text"].get<std::string>().size(), 256u);  // datakey_length wins
  EXPECT_EQ(Decrypt(both.body["cipher_text"], nullptr, "128").status, 200);
}

TEST_F(KmsdDataKeyTest, DataKeyLengthErrors) {
  for (const char* len : {"4", "8200", "abc", "", "-8"}) {
    EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", len}}), 400, "KMS.1901");
  }
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", "12"}}), 400, "KMS.1903");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", key_}, {"key_spec", "AES_512"}}), 400, "KMS.1902");
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", 512.5}}), 400, "KMS.0202");
  // Field checks come before the key lookup.
  EXPECT_KMS_ERROR(alice_.Call("create-datakey", {{"key_id", "nope"}, {"datakey_length", "4"}}), 400, "KMS.1901");
}

TEST_F(KmsdDataKeyTest, EncryptDataKeyRoundTrips) {
  std::vector<uint8_t> dek = Bytes(64, 9);
  KmsReply r = alice_.Call("encrypt-datakey",
                           {{"key_id", key_}, {"plain_text", DekPlainText(dek)}, {"datakey_plain_length", "64"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key_id"], key_);
  EXPECT_EQ(r.body["datakey_length"], "64");
  std::string ct = r.body["cipher_text"];
  EXPECT_EQ(ct.size(), 376u);
  KmsReply d = Decrypt(ct);
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body["data_key"], DekPlainText(dek).substr(0, 128));
  // Lower-case hex is accepted too, in both directions.
  std::string lower = ct;
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(Decrypt(lower).status, 200);
}

TEST_F(KmsdDataKeyTest, EncryptDataKeyAcceptsOtherDekSizes) {
  std::vector<uint8_t> dek = Bytes(32, 1);
  std::string ct = alice_.EncryptDek(key_, dek);
  EXPECT_EQ(ct.size(), 2 * (32 + 124u));
  EXPECT_KMS_ERROR(Decrypt(ct), 400, "KMS.2204");
  EXPECT_EQ(Decrypt(ct, nullptr, "32").status, 200);
}

TEST_F(KmsdDataKeyTest, EncryptDataKeyErrors) {
  std::vector<uint8_t> dek = Bytes(64, 2);
  const std::string good = DekPlainText(dek);
  auto call = [&](const Json& plain, const Json& len) {
    return alice_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", plain}, {"datakey_plain_length", len}});
  };
  EXPECT_KMS_ERROR(call(good.substr(0, 191), "64"), 400, "KMS.2101");          // odd length
  EXPECT_KMS_ERROR(call("ZZ" + good.substr(2), "64"), 400, "KMS.2101");        // not hex
  EXPECT_KMS_ERROR(call(good.substr(0, 128) + " " + good.substr(128), "64"), 400, "KMS.2101");  // space
  EXPECT_KMS_ERROR(call("", "64"), 400, "KMS.2101");
  EXPECT_KMS_ERROR(call(good, "0"), 400, "KMS.2102");
  EXPECT_KMS_ERROR(call(good, "1025"), 400, "KMS.2102");
  EXPECT_KMS_ERROR(call(good, "sixty-four"), 400, "KMS.2102");
  EXPECT_KMS_ERROR(call(good, "32"), 400, "KMS.2104");
  EXPECT_KMS_ERROR(call(FlipHexAt(good, 0), "64"), 400, "KMS.2103");  // digest no longer matches
  EXPECT_KMS_ERROR(call(good, 64.0), 400, "KMS.0202");
  EXPECT_KMS_ERROR(alice_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", good}}), 400, "KMS.0204");
}

TEST_F(KmsdDataKeyTest, DecryptDataKeyErrors) {
  const std::string ct = alice_.EncryptDek(key_, Bytes(64, 4));
  EXPECT_KMS_ERROR(Decrypt("XYZ"), 400, "KMS.2201");
  EXPECT_KMS_ERROR(Decrypt(ct.substr(0, 374)), 400, "KMS.2201");
  EXPECT_KMS_ERROR(Decrypt(std::string(376, 'A')), 400, "KMS.2201");
  EXPECT_KMS_ERROR(Decrypt(ct, nullptr, "0"), 400, "KMS.2202");
  EXPECT_KMS_ERROR(Decrypt(ct, nullptr, "abc"), 400, "KMS.2202");
  EXPECT_KMS_ERROR(Decrypt(ct, nullptr, "32"), 400, "KMS.2204");
}

TEST_F(KmsdDataKeyTest, TamperedEnvelopeIs2201Everywhere) {
  const std::string ct = alice_.EncryptDek(key_, Bytes(64, 5));
  // The nonce, the ciphertext, the tag, the version and the trailer.
  for (size_t i : {8u, 40u, 180u, 200u, 310u, 312u, 375u}) {
    EXPECT_KMS_ERROR(Decrypt(FlipHexAt(ct, i)), 400, "KMS.2201");
  }
}

TEST_F(KmsdDataKeyTest, EnvelopeOfAnotherKeyIs2201) {
  std::string other = alice_.CreateKey("other");
  const std::string ct = alice_.EncryptDek(other, Bytes(64, 6));
  EXPECT_KMS_ERROR(Decrypt(ct), 400, "KMS.2201");
}

TEST_F(KmsdDataKeyTest, EncryptionContextMustMatchExactly) {
  Json ctx = {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}, {"volume", "v1"}};
  const std::string ct = alice_.EncryptDek(key_, Bytes(64, 7), ctx);
  EXPECT_EQ(Decrypt(ct, ctx).status, 200);
  // Order does not matter (the canonical form sorts keys).
  KmsReply reordered = alice_.CallRaw(
      "decrypt-datakey", R"({"key_id":")" + key_ + R"(","cipher_text":")" + ct +
                             R"(","datakey_cipher_length":"64","encryption_context":{"volume":"v1","kmsfs_file_id":"00112233445566778899aabbccddeeff"}})");
  EXPECT_EQ(reordered.status, 200) << reordered.raw;
  EXPECT_KMS_ERROR(Decrypt(ct), 400, "KMS.2201");                        // missing
  EXPECT_KMS_ERROR(Decrypt(ct, Json::object()), 400, "KMS.2201");        // empty = missing
  EXPECT_KMS_ERROR(Decrypt(ct, {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}}), 400, "KMS.2201");
  Json extra = ctx;
  extra["more"] = "x";
  EXPECT_KMS_ERROR(Decrypt(ct, extra), 400, "KMS.2201");
  Json changed = ctx;
  changed["volume"] = "V1";
  EXPECT_KMS_ERROR(Decrypt(ct, changed), 400, "KMS.2201");
  // An envelope made without context opens with {} or none.
  const std::string plain_ct = alice_.EncryptDek(key_, Bytes(64, 8));
  EXPECT_EQ(Decrypt(plain_ct, Json::object()).status, 200);
  EXPECT_KMS_ERROR(Decrypt(plain_ct, ctx), 400, "KMS.2201");
}

TEST_F(KmsdDataKeyTest, AdditionalAuthenticatedDataIsBoundLikeTheContext) {
  auto encrypt = [&](const Json& aad) {
    Json body = {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 9))}, {"datakey_plain_length", "64"}};
    if (!aad.is_null()) body["additional_authenticated_data"] = aad;
    KmsReply r = alice_.Call("encrypt-datakey", body);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body.value("cipher_text", std::string());
  };
  auto decrypt = [&](const std::string& ct, const Json& aad) {
    Json body = {{"key_id", key_}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}};
    if (!aad.is_null()) body["additional_authenticated_data"] = aad;
    return alice_.Call("decrypt-datakey", body);
  };
  const std::string with = encrypt("file-1");
  KmsReply ok = decrypt(with, "file-1");
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["data_key"], DekPlainText(Bytes(64, 9)).substr(0, 128));
  EXPECT_KMS_ERROR(decrypt(with, "file-2"), 400, "KMS.2201");
  EXPECT_KMS_ERROR(decrypt(with, nullptr), 400, "KMS.2201");
  EXPECT_KMS_ERROR(decrypt(with, ""), 400, "KMS.2201");
  const std::string without = encrypt(nullptr);
  EXPECT_EQ(decrypt(without, "").status, 200) << "an empty AAD is no AAD";
  EXPECT_KMS_ERROR(decrypt(without, "file-1"), 400, "KMS.2201");
  // AAD cannot stand in for a context, nor a context for AAD.
  const Json ctx = {{"a", "b"}};
  KmsReply with_ctx = alice_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 9))},
                                                      {"datakey_plain_length", "64"}, {"encryption_context", ctx}});
  EXPECT_KMS_ERROR(decrypt(with_ctx.body["cipher_text"], "{\"a\":\"b\"}"), 400, "KMS.2201");

  // create-datakey binds it too, and encrypt-data / decrypt-data.
  KmsReply made = alice_.Call("create-datakey", {{"key_id", key_}, {"additional_authenticated_data", "x"}});
  ASSERT_EQ(made.status, 200) << made.raw;
  KmsReply opened = alice_.Call("decrypt-datakey", {{"key_id", key_}, {"cipher_text", made.body["cipher_text"]},
                                                    {"datakey_cipher_length", "32"}, {"additional_authenticated_data", "x"}});
  EXPECT_EQ(opened.status, 200) << opened.raw;
  EXPECT_KMS_ERROR(alice_.Call("decrypt-datakey", {{"key_id", key_}, {"cipher_text", made.body["cipher_text"]},
                                                   {"datakey_cipher_length", "32"}}),
                   400, "KMS.2201");
  KmsReply data = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "hello"},
                                               {"additional_authenticated_data", "row-7"}});
  ASSERT_EQ(data.status, 200) << data.raw;
  KmsReply back = alice_.Call("decrypt-data", {{"cipher_text", data.body["cipher_text"]},
                                               {"additional_authenticated_data", "row-7"}});
  EXPECT_EQ(back.status, 200) << back.raw;
  EXPECT_EQ(back.body["plain_text"], "hello");
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", data.body["cipher_text"]},
                                                {"additional_authenticated_data", "row-8"}}),
                   400, "KMS.2201");
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", data.body["cipher_text"]}}), 400, "KMS.2201");
}

TEST_F(KmsdDataKeyTest, AdditionalAuthenticatedDataIsCheckedForTypeAndSize) {
  auto create = [&](const Json& aad) {
    return alice_.Call("create-datakey", {{"key_id", key_}, {"additional_authenticated_data", aad}});
  };
  EXPECT_EQ(create(std::string(128, 'a')).status, 200);
  EXPECT_KMS_ERROR(create(std::string(129, 'a')), 400, "KMS.0308");
  EXPECT_KMS_ERROR(create(7), 400, "KMS.0202");
  EXPECT_KMS_ERROR(create(Json::object()), 400, "KMS.0202");
}

// otcextensions sends these as JSON numbers; the SDK and the docs as strings.
TEST_F(KmsdDataKeyTest, NumericFieldsMayBeJsonIntegersWithTheSameRangeChecks) {
  KmsReply wrapped = alice_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 3))},
                                                     {"datakey_plain_length", 64}});
  ASSERT_EQ(wrapped.status, 200) << wrapped.raw;
  EXPECT_EQ(wrapped.body["datakey_length"], "64") << "answers keep the documented string";
  KmsReply unwrapped = alice_.Call("decrypt-datakey", {{"key_id", key_}, {"cipher_text", wrapped.body["cipher_text"]},
                                                       {"datakey_cipher_length", 64}});
  ASSERT_EQ(unwrapped.status, 200) << unwrapped.raw;
  EXPECT_EQ(unwrapped.body["datakey_length"], "64");
  KmsReply made = alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", 512}});
  ASSERT_EQ(made.status, 200) << made.raw;
  EXPECT_EQ(made.body["plain_text"].get<std::string>().size(), 128u);
  EXPECT_EQ(alice_.Call("gen-random", {{"random_data_length", 256}}).body["random_data"].get<std::string>().size(), 64u);

  auto create = [&](const Json& len) { return alice_.Call("create-datakey", {{"key_id", key_}, {"datakey_length", len}}); };
  EXPECT_KMS_ERROR(create(513), 400, "KMS.1903");
  EXPECT_KMS_ERROR(create(0), 400, "KMS.1901");
  EXPECT_KMS_ERROR(create(-8), 400, "KMS.1901");
  EXPECT_KMS_ERROR(create(8200), 400, "KMS.1901");
  EXPECT_KMS_ERROR(create(18446744073709551615ULL), 400, "KMS.1901");
  EXPECT_KMS_ERROR(create(512.0), 400, "KMS.0202");  // a number must be an integer
  EXPECT_KMS_ERROR(create(true), 400, "KMS.0202");
  EXPECT_KMS_ERROR(alice_.Call("encrypt-datakey", {{"key_id", key_}, {"plain_text", DekPlainText(Bytes(64, 3))},
                                                   {"datakey_plain_length", 2000}}),
                   400, "KMS.2102");
  EXPECT_KMS_ERROR(alice_.Call("gen-random", {{"random_data_length", 12}}), 400, "KMS.1802");
}

TEST_F(KmsdDataKeyTest, EncryptionContextValidation) {
  auto create = [&](const Json& ctx) {
    return alice_.Call("create-datakey", {{"key_id", key_}, {"encryption_context", ctx}});
  };
  EXPECT_KMS_ERROR(create({{"a", 1}}), 400, "KMS.0208");
  EXPECT_KMS_ERROR(create({{"a", {{"b", "c"}}}}), 400, "KMS.0208");
  EXPECT_KMS_ERROR(create({{"a", std::string(8200, 'x')}}), 400, "KMS.0208");
  EXPECT_KMS_ERROR(create("a=b"), 400, "KMS.0202");
  EXPECT_KMS_ERROR(create(Json::array({"a"})), 400, "KMS.0202");
  EXPECT_EQ(create({{"\xc3\xa9t\xc3\xa9", "\xe2\x82\xac"}}).status, 200);
}

TEST_F(KmsdDataKeyTest, EncryptDataAndDecryptDataRoundTrip) {
  Json ctx = {{"purpose", "test"}};
  KmsReply e = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "12345678"}, {"encryption_context", ctx}});
  ASSERT_EQ(e.status, 200) << e.raw;
  EXPECT_EQ(e.body["key_id"], key_);
  std::string ct = e.body["cipher_text"];
  EXPECT_TRUE(std::regex_match(ct, std::regex("[0-9A-Za-z+/=]+")));
  EXPECT_EQ(FromBase64(ct).size(), 8u + 140u);
  KmsReply d = alice_.Call("decrypt-data", {{"cipher_text", ct}, {"encryption_context", ctx}});
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["key_id"], key_);
  EXPECT_EQ(d.body["plain_text"], "12345678");
  EXPECT_EQ(d.body["plain_text_base64"], "MTIzNDU2Nzg=");
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", ct}}), 400, "KMS.2201");
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", ct}, {"encryption_context", ctx},
                                                {"key_id", alice_.CreateKey("x")}}),
                   400, "KMS.2201");
}

TEST_F(KmsdDataKeyTest, EncryptDataLimitsAndErrors) {
  std::string big(4096, 'x');
  KmsReply max = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", big}});
  ASSERT_EQ(max.status, 200);
  EXPECT_EQ(FromBase64(max.body["cipher_text"]).size(), 4236u);
  KmsReply back = alice_.Call("decrypt-data", {{"cipher_text", max.body["cipher_text"]}});
  EXPECT_EQ(back.body["plain_text"], big);
  EXPECT_KMS_ERROR(alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", big + "x"}}), 400, "KMS.2101");
  EXPECT_KMS_ERROR(alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", ""}}), 400, "KMS.2101");
  EXPECT_KMS_ERROR(alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "x"},
                                                {"encryption_algorithm", "RSAES_OAEP_SHA_256"}}),
                   400, "KMS.2105");
  std::string ct = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "hello"}}).body["cipher_text"];
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", "short"}}), 400, "KMS.2201");
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", std::string(200, '!')}}), 400, "KMS.2201");
  std::string tampered = ct;
  tampered[30] = tampered[30] == 'A' ? 'B' : 'A';
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", tampered}}), 400, "KMS.2201");
  // A DEK envelope is not a data envelope.
  std::string dek_ct = alice_.EncryptDek(key_, Bytes(64, 1));
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", dek_ct}}), 400, "KMS.2201");
}

TEST_F(KmsdDataKeyTest, DecryptDataOfUnknownKeyIs0207) {
  std::string ct = alice_.Call("encrypt-data", {{"key_id", key_}, {"plain_text", "hello"}}).body["cipher_text"];
  auto env = FromBase64(ct);
  // Rewrite the embedded key id (then the trailer no longer matches, but the key lookup comes first).
  std::string fake = "00000000-0000-4000-8000-000000000000";
  std::copy(fake.begin(), fake.end(), env.end() - 72);
  std::string b64(4 * ((env.size() + 2) / 3) + 1, '\0');
  b64.resize(static_cast<size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), env.data(),
                                                 static_cast<int>(env.size()))));
  EXPECT_KMS_ERROR(alice_.Call("decrypt-data", {{"cipher_text", b64}}), 404, "KMS.0207");
}

TEST_F(KmsdDataKeyTest, AliasesWorkForDataKeyActions) {
  KmsReply r = alice_.Call("create-datakey", {{"key_id", "alias/data"}, {"datakey_length", "512"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key_id"], key_);
  KmsReply d = alice_.Call("decrypt-datakey", {{"key_id", "alias/data"}, {"cipher_text", r.body["cipher_text"]},
                                               {"datakey_cipher_length", "64"}});
  EXPECT_EQ(d.status, 200) << d.raw;
}

}  // namespace
}  // namespace kmsfs::testing
