#include "fs/format/name_codec.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "base/hex.h"
#include "crypto/kdf.h"
#include "tests/vectors/format_v2_golden.h"

namespace kmsfs::format {
namespace {

SecretBytes ExampleVolumeKey() {
  SecretBytes key(kVolumeKeySize);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i);
  return key;
}
VolumeId ExampleVolumeId() {
  VolumeId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0x10 + i);
  return id;
}
DirValue ExampleDir() {
  DirValue d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(0x20 + i);
  return d;
}

std::unique_ptr<NameCodec> Codec(crypto::CipherSuite suite = crypto::CipherSuite::kAes256Gcm) {
  auto c = NameCodec::New(ExampleVolumeKey(), ExampleVolumeId(), suite);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// The worked example of docs/FORMAT.md §10, cross-checked with an
// independent AES-SIV and HKDF (Python's cryptography package).
TEST(NameCodecTest, GoldenNameEncodesByteExactly) {
  auto c = Codec();
  auto encoded = c->Encrypt(ExampleDir(), vectors::kExampleName);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_EQ(*encoded, vectors::kExampleEncodedName);
  EXPECT_EQ(NameCodec::StoredName(*encoded), vectors::kExampleEncodedName);
  auto back = c->Decrypt(ExampleDir(), vectors::kExampleEncodedName);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, vectors::kExampleName);
}

TEST(NameCodecTest, GoldenNameKeyIsHkdfOfTheVolumeKey) {
  const std::string info = "kmsfs v2 name key";
  auto key = crypto::HkdfSha256(ExampleVolumeKey().span(), ExampleVolumeId(),
                                {reinterpret_cast<const uint8_t*>(info.data()), info.size()}, 64);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(HexEncode(key->span()), vectors::kExampleNameKeyHex);
}

TEST(NameCodecTest, GoldenLongNameHasItsHashedStoredForm) {
  auto c = Codec();
  auto encoded = c->Encrypt(ExampleDir(), std::string(200, 'n'));
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->size(), 299u);
  EXPECT_EQ(NameCodec::StoredName(*encoded), vectors::kExampleLongStoredName);
  EXPECT_TRUE(NameCodec::IsLongName(vectors::kExampleLongStoredName));
  EXPECT_EQ(NameCodec::SidecarName(vectors::kExampleLongStoredName),
            std::string(vectors::kExampleLongStoredName) + ".name");
}

TEST(NameCodecTest, EveryLengthAndEveryAllowedByteRoundTrips) {
  auto c = Codec();
  size_t longest_short = 0;
  for (size_t n = 1; n <= kMaxNameSize; ++n) {
    std::string name(n, 'a' + n % 26);
    auto e = c->Encrypt(ExampleDir(), name);
    ASSERT_TRUE(e.ok()) << n;
    const std::string stored = NameCodec::StoredName(*e);
    EXPECT_LE(stored.size(), kMaxStoredName) << n;
    if (!NameCodec::IsLongName(stored)) longest_short = n;
    EXPECT_EQ(stored.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ,
              std::string::npos);
    auto d = c->Decrypt(ExampleDir(), *e);
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_EQ(*d, name);
  }
  EXPECT_EQ(longest_short, 159u) << "names up to 159 bytes are stored directly";
  for (int b = 1; b < 256; ++b) {
    if (b == '/') continue;
    const std::string name = "x" + std::string(1, static_cast<char>(b)) + "y";
    auto e = c->Encrypt(ExampleDir(), name);
    ASSERT_TRUE(e.ok()) << b;
    auto d = c->Decrypt(ExampleDir(), *e);
    ASSERT_TRUE(d.ok()) << b;
    EXPECT_EQ(*d, name) << b;
  }
}

TEST(NameCodecTest, NamesAreBoundToTheirDirectoryAndExactLengthsDoNotShow) {
  auto c = Codec();
  DirValue other = ExampleDir();
  other[0] ^= 1;
  auto here = c->Encrypt(ExampleDir(), "report.pdf");
  auto there = c->Encrypt(other, "report.pdf");
  ASSERT_TRUE(here.ok() && there.ok());
  EXPECT_NE(*here, *there);
  EXPECT_EQ(c->Decrypt(other, *here).status().code(), StatusCode::kDataLoss) << "a name moved between directories";
  // 1..15 bytes pad to one block: the same length on disk.
  std::set<size_t> lengths;
  for (size_t n = 1; n <= 15; ++n) lengths.insert(c->Encrypt(ExampleDir(), std::string(n, 'q'))->size());
  EXPECT_EQ(lengths.size(), 1u);
}

TEST(NameCodecTest, TamperedOrForeignNamesAreRefused) {
  auto c = Codec();
  const std::string good = *c->Encrypt(ExampleDir(), "salaries-2026.xlsx");
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(c->Decrypt(ExampleDir(), bad).ok()) << i;
  }
  for (const char* junk : {"", "a", "AAAA", "not base64!", "x.y", "AA==",
                           "EAp7AV2q9y3zOPLLeKoBK00M7xIYdnr2znt7GQbWLAl0QMRzmTgVMYgqtoInjip"}) {
    EXPECT_EQ(c->Decrypt(ExampleDir(), junk).status().code(), StatusCode::kDataLoss) << junk;
  }
  // Another volume's key.
  auto other = NameCodec::New(SecretBytes::Random(kVolumeKeySize), ExampleVolumeId(), crypto::CipherSuite::kAes256Gcm);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->Decrypt(ExampleDir(), good).status().code(), StatusCode::kDataLoss);
}

TEST(NameCodecTest, InvalidNamesAreRefusedBeforeEncryption) {
  auto c = Codec();
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                                 std::string("a\0b", 3)}) {
    EXPECT_EQ(c->Encrypt(ExampleDir(), bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(c->Encrypt(ExampleDir(), std::string(256, 'x')).status().sys_errno(), ENAMETOOLONG);
}

TEST(NameCodecTest, TargetsOfEveryLengthRoundTripAndAreRandomized) {
  for (auto suite : {crypto::CipherSuite::kAes256Gcm, crypto::CipherSuite::kXChaCha20Poly1305}) {
    auto c = Codec(suite);
    for (size_t n = 1; n <= kMaxTargetSize; n += (n < 64 ? 1 : 97)) {
      const std::string target(n, '/');
      auto e = c->EncryptTarget(target);
      ASSERT_TRUE(e.ok()) << n;
      EXPECT_EQ(c->TargetPlainSize(e->size()), n);
      auto d = c->DecryptTarget(*e);
      ASSERT_TRUE(d.ok()) << n;
      EXPECT_EQ(*d, target);
    }
    auto max = c->EncryptTarget(std::string(kMaxTargetSize, 't'));
    ASSERT_TRUE(max.ok());
    EXPECT_GT(max->size(), kMaxStoredTarget) << "the longest targets go to the target store";
    EXPECT_NE(*c->EncryptTarget("../x"), *c->EncryptTarget("../x")) << "a fresh nonce per target";
    std::string bad = *c->EncryptTarget("../x");
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    EXPECT_EQ(c->DecryptTarget(bad).status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(c->EncryptTarget(std::string(kMaxTargetSize + 1, 't')).status().sys_errno(), ENAMETOOLONG);
    EXPECT_FALSE(c->EncryptTarget("").ok());
  }
}

TEST(NameCodecTest, OnlyIdsOfTheTargetStoresOwnFormAreAccepted) {
  const std::string id = NameCodec::TargetId("anything");
  EXPECT_TRUE(NameCodec::IsTargetId(id));
  for (const std::string& bad : {std::string(""), id.substr(1), id + "A", std::string("../../etc/passwd"),
                                 std::string(40, 'a') + "/.x", std::string(42, 'a') + "/"}) {
    EXPECT_FALSE(NameCodec::IsTargetId(bad)) << bad;
  }
}

TEST(NameCodecTest, DirValuesEncodeStrictly) {
  const std::vector<uint8_t> encoded = EncodeDirValue(ExampleDir());
  EXPECT_EQ(HexEncode(encoded), vectors::kExampleDirValueXattrHex);
  auto back = DecodeDirValue(encoded);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, ExampleDir());
  std::vector<uint8_t> bad = encoded;
  bad[0] = 'X';
  EXPECT_EQ(DecodeDirValue(bad).status().code(), StatusCode::kDataLoss);
  bad = encoded;
  bad[5] = 2;
  EXPECT_EQ(DecodeDirValue(bad).status().code(), StatusCode::kDataLoss);
  bad = encoded;
  bad.pop_back();
  EXPECT_EQ(DecodeDirValue(bad).status().code(), StatusCode::kDataLoss);
}

TEST(NameCodecTest, Base64UrlIsUnpaddedAndCanonical) {
  EXPECT_EQ(Base64UrlEncode(std::vector<uint8_t>{0xfb, 0xff}), "-_8");
  EXPECT_TRUE(Base64UrlDecode("-_8").ok());
  EXPECT_FALSE(Base64UrlDecode("-_8=").ok());
  EXPECT_FALSE(Base64UrlDecode("-_9").ok()) << "trailing bits must be zero";
  EXPECT_FALSE(Base64UrlDecode("+/8").ok());
}

}  // namespace
}  // namespace kmsfs::format
