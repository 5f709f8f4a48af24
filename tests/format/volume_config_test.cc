#include "fs/format/volume_config.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testutil/temp_dir.h"
#include "tests/vectors/format_v1_golden.h"
#include "tests/vectors/format_v2_golden.h"

namespace kmsfs::format {
namespace {

constexpr const char* kDocumentedJson = vectors::kVolumeConfigV1Json;

VolumeConfig Example() {
  auto c = VolumeConfig::FromJson(kDocumentedJson);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : VolumeConfig{};
}

// Applies `edit` to the parsed documented JSON and expects FromJson to fail
// with kDataLoss naming `field`.
template <typename Edit>
void ExpectRejected(Edit edit, const std::string& field) {
  nlohmann::json j = nlohmann::json::parse(kDocumentedJson);
  edit(j);
  auto c = VolumeConfig::FromJson(j.dump());
  ASSERT_FALSE(c.ok()) << "accepted: " << j.dump();
  EXPECT_EQ(c.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(c.status().message().find("\"" + field + "\""), std::string::npos)
      << c.status().message();
}

TEST(VolumeConfigTest, DocumentedExampleParses) {
  VolumeConfig c = Example();
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.key_id, "0d0466b0-e727-4d9c-b35d-f84bb474a37f");
  EXPECT_EQ(c.project_id, "05a41e0bd580d4a82f8bc00a2e5b33ad");
  EXPECT_EQ(c.suite, crypto::CipherSuite::kAes256Gcm);
  EXPECT_EQ(c.block_size, 4096u);
  EXPECT_EQ(FileIdHex(c.canary_file_id), "5f0c2e1d9a7b4c3e8d6f1a2b3c4d5e6f");
  EXPECT_EQ(c.canary_wrapped_dek, "0200980042");
  EXPECT_EQ(c.created, "2024-05-01T12:00:00Z");
}

TEST(VolumeConfigTest, ToJsonIsTheDocumentedText) {
  EXPECT_EQ(Example().ToJson(), kDocumentedJson);
}

TEST(VolumeConfigTest, RoundTripsXChaChaAndOtherBlockSizes) {
  VolumeConfig c = Example();
  c.suite = crypto::CipherSuite::kXChaCha20Poly1305;
  c.block_size = 1 << 20;
  c.project_id.clear();
  auto back = VolumeConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
  EXPECT_NE(c.ToJson().find("\"XChaCha20-Poly1305\""), std::string::npos);
}

TEST(VolumeConfigTest, RejectsMissingFieldsByName) {
  for (const char* f : {"format", "version", "key_id", "project_id", "cipher_suite", "block_size",
                        "canary", "created"}) {
    ExpectRejected([f](nlohmann::json& j) { j.erase(f); }, f);
  }
  ExpectRejected([](nlohmann::json& j) { j["canary"].erase("file_id"); }, "canary.file_id");
  ExpectRejected([](nlohmann::json& j) { j["canary"].erase("wrapped_dek"); }, "canary.wrapped_dek");
}

TEST(VolumeConfigTest, RejectsMistypedFieldsByName) {
  ExpectRejected([](nlohmann::json& j) { j["version"] = "1"; }, "version");
  ExpectRejected([](nlohmann::json& j) { j["version"] = 1.0; }, "version");
  ExpectRejected([](nlohmann::json& j) { j["version"] = -1; }, "version");
  ExpectRejected([](nlohmann::json& j) { j["key_id"] = 5; }, "key_id");
  ExpectRejected([](nlohmann::json& j) { j["project_id"] = nullptr; }, "project_id");
  ExpectRejected([](nlohmann::json& j) { j["cipher_suite"] = 1; }, "cipher_suite");
  ExpectRejected([](nlohmann::json& j) { j["block_size"] = "4096"; }, "block_size");
  ExpectRejected([](nlohmann::json& j) { j["canary"] = "x"; }, "canary");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["file_id"] = 7; }, "canary.file_id");
  ExpectRejected([](nlohmann::json& j) { j["created"] = false; }, "created");
  ExpectRejected([](nlohmann::json& j) { j["format"] = "gocryptfs"; }, "format");
}

TEST(VolumeConfigTest, RejectsBadValuesByName) {
  ExpectRejected([](nlohmann::json& j) { j["version"] = 3; }, "version");
  ExpectRejected([](nlohmann::json& j) { j["version"] = 0; }, "version");
  ExpectRejected([](nlohmann::json& j) { j["key_id"] = ""; }, "key_id");
  ExpectRejected([](nlohmann::json& j) { j["key_id"] = "a b"; }, "key_id");
  ExpectRejected([](nlohmann::json& j) { j["cipher_suite"] = "aes-256-gcm"; }, "cipher_suite");
  ExpectRejected([](nlohmann::json& j) { j["cipher_suite"] = "AES-128-GCM"; }, "cipher_suite");
  for (uint64_t bs : {0ull, 256ull, 4095ull, 6144ull, 2097152ull, 4294971392ull}) {
    ExpectRejected([bs](nlohmann::json& j) { j["block_size"] = bs; }, "block_size");
  }
  ExpectRejected([](nlohmann::json& j) { j["canary"]["file_id"] = "abc"; }, "canary.file_id");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["file_id"] = std::string(32, 'g'); },
                 "canary.file_id");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["file_id"] = std::string(34, 'a'); },
                 "canary.file_id");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["wrapped_dek"] = ""; }, "canary.wrapped_dek");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["wrapped_dek"] = "abc"; },
                 "canary.wrapped_dek");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["wrapped_dek"] = "0x12"; },
                 "canary.wrapped_dek");
  ExpectRejected([](nlohmann::json& j) { j["surprise"] = 1; }, "surprise");
  ExpectRejected([](nlohmann::json& j) { j["canary"]["extra"] = 1; }, "canary.extra");
}

TEST(VolumeConfigTest, RejectsNonObjectsAndBrokenJson) {
  for (const char* text : {"", "[]", "1", "null", "\"kmsfs\"", "{", "{\"format\":\"kmsfs\",}"}) {
    auto c = VolumeConfig::FromJson(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kDataLoss);
  }
  EXPECT_EQ(VolumeConfig::FromJson(std::string(VolumeConfig::kMaxJsonSize + 1, ' ')).status().code(),
            StatusCode::kDataLoss);
}

TEST(VolumeConfigTest, DeeplyNestedJsonIsRejectedCleanly) {
  std::string deep(VolumeConfig::kMaxJsonSize / 2, '[');
  deep += std::string(VolumeConfig::kMaxJsonSize / 2, ']');
  EXPECT_EQ(VolumeConfig::FromJson(deep).status().code(), StatusCode::kDataLoss);
}

TEST(VolumeConfigTest, StoreThenLoadRoundTripsWithMode0644AndNoTempFiles) {
  testing::TempDir dir;
  VolumeConfig c = Example();
  ASSERT_TRUE(c.Store(dir.path()).ok());
  auto loaded = VolumeConfig::Load(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, c);
  struct stat st {};
  ASSERT_EQ(stat(dir.Join(kConfigFileName).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // Overwrite: the new content replaces the old atomically.
  c.created = "2025-01-01T00:00:00Z";
  ASSERT_TRUE(c.Store(dir.path()).ok());
  EXPECT_EQ(VolumeConfig::Load(dir.path())->created, "2025-01-01T00:00:00Z");
  std::vector<std::string> names;
  DIR* d = opendir(dir.path().c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names.push_back(e->d_name);
  }
  closedir(d);
  EXPECT_EQ(names, std::vector<std::string>{kConfigFileName});
}

TEST(VolumeConfigTest, StoreRefusesAnInvalidConfigAndWritesNothing) {
  testing::TempDir dir;
  VolumeConfig c = Example();
  c.block_size = 1000;
  EXPECT_EQ(c.Store(dir.path()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(VolumeConfig::Load(dir.path()).status().code(), StatusCode::kNotFound);
  c = Example();
  c.canary_wrapped_dek.clear();
  EXPECT_EQ(c.Store(dir.path()).code(), StatusCode::kInvalidArgument);
}

TEST(VolumeConfigTest, LoadReportsMissingCorruptAndOversizedFiles) {
  testing::TempDir dir;
  EXPECT_EQ(VolumeConfig::Load(dir.path()).status().code(), StatusCode::kNotFound);
  testing::WriteFileOrDie(dir.Join(kConfigFileName), "{\"format\":\"kmsfs\"");
  EXPECT_EQ(VolumeConfig::Load(dir.path()).status().code(), StatusCode::kDataLoss);
  testing::WriteFileOrDie(dir.Join(kConfigFileName), std::string(100000, ' '));
  EXPECT_EQ(VolumeConfig::Load(dir.path()).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(VolumeConfig::Load(dir.Join("no-such-dir")).status().code(), StatusCode::kNotFound);
}

TEST(VolumeConfigTest, StoreIntoMissingDirectoryFails) {
  testing::TempDir dir;
  EXPECT_FALSE(Example().Store(dir.Join("missing")).ok());
}

}  // namespace
}  // namespace kmsfs::format

namespace kmsfs::format {
namespace {

SecretBytes ExampleVolumeKey() {
  SecretBytes key(kVolumeKeySize);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i);
  return key;
}

VolumeConfig ExampleV2() {
  auto c = VolumeConfig::FromJson(vectors::kVolumeConfigV2Json);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : VolumeConfig{};
}

TEST(VolumeConfigV2Test, DocumentedExampleParsesRoundTripsAndItsMacVerifies) {
  VolumeConfig c = ExampleV2();
  EXPECT_EQ(c.version, 2);
  EXPECT_EQ(VolumeIdHex(c.volume_id), "101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(c.names, NameMode::kEncrypted);
  EXPECT_EQ(c.header, HeaderMode::kXattr);
  EXPECT_FALSE(c.rewrap.has_value());
  EXPECT_EQ(c.ToJson(), vectors::kVolumeConfigV2Json);
  EXPECT_TRUE(c.VerifyMac(ExampleVolumeKey()).ok());
  EXPECT_EQ(c.VerifyMac(SecretBytes::Random(kVolumeKeySize)).code(), StatusCode::kDataLoss);
  VolumeConfig resealed = c;
  ASSERT_TRUE(resealed.Seal(ExampleVolumeKey()).ok());
  EXPECT_EQ(resealed.mac, c.mac);
}

TEST(VolumeConfigV2Test, AnyFieldChangedWithoutTheVolumeKeyFailsTheMac) {
  const SecretBytes key = ExampleVolumeKey();
  std::vector<std::function<void(VolumeConfig&)>> edits = {
      [](VolumeConfig& c) { c.key_id = "5a1b9c3e-0000-4d9c-b35d-f84bb474a37f"; },
      [](VolumeConfig& c) { c.project_id = "other"; },
      [](VolumeConfig& c) { c.suite = crypto::CipherSuite::kXChaCha20Poly1305; },
      [](VolumeConfig& c) { c.block_size = 8192; },
      [](VolumeConfig& c) { c.names = NameMode::kPlaintext; },
      [](VolumeConfig& c) { c.header = HeaderMode::kInline; },
      [](VolumeConfig& c) { c.volume_id[0] ^= 1; },
      [](VolumeConfig& c) { c.wrapped_volume_key = "0200980043"; },
      [](VolumeConfig& c) { c.rewrap = VolumeConfig::Rewrap{"attacker-key", "00"}; },
      [](VolumeConfig& c) { c.created = "2027-01-01T00:00:00Z"; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    VolumeConfig c = ExampleV2();
    edits[i](c);
    // Through the file, as a writer of the backing directory would.
    auto parsed = VolumeConfig::FromJson(c.ToJson());
    ASSERT_TRUE(parsed.ok()) << i << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->VerifyMac(key).code(), StatusCode::kDataLoss) << "edit " << i;
  }
}

TEST(VolumeConfigV2Test, RewrapFieldRoundTrips) {
  VolumeConfig c = ExampleV2();
  c.rewrap = VolumeConfig::Rewrap{"5a1b9c3e-0000-4d9c-b35d-f84bb474a37f", "0200aa"};
  ASSERT_TRUE(c.Seal(ExampleVolumeKey()).ok());
  auto back = VolumeConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, c);
  EXPECT_TRUE(back->VerifyMac(ExampleVolumeKey()).ok());
}

TEST(VolumeConfigV2Test, RejectsBadV2FieldsByName) {
  auto rejected = [](auto edit, const std::string& field) {
    nlohmann::json j = nlohmann::json::parse(vectors::kVolumeConfigV2Json);
    edit(j);
    auto c = VolumeConfig::FromJson(j.dump());
    ASSERT_FALSE(c.ok()) << j.dump();
    EXPECT_NE(c.status().message().find("\"" + field + "\""), std::string::npos) << c.status().message();
  };
  rejected([](nlohmann::json& j) { j.erase("volume_id"); }, "volume_id");
  rejected([](nlohmann::json& j) { j["volume_id"] = "abc"; }, "volume_id");
  rejected([](nlohmann::json& j) { j["names"] = "hidden"; }, "names");
  rejected([](nlohmann::json& j) { j["header"] = "sidecar"; }, "header");
  rejected([](nlohmann::json& j) { j.erase("volume_key"); }, "volume_key");
  rejected([](nlohmann::json& j) { j.erase("mac"); }, "mac");
  rejected([](nlohmann::json& j) { j["mac"] = "00"; }, "mac");
  rejected([](nlohmann::json& j) { j["rewrap"] = "x"; }, "rewrap");
  rejected([](nlohmann::json& j) { j["rewrap"] = {{"to_key", "k"}}; }, "rewrap.volume_key");
  rejected([](nlohmann::json& j) { j["canary"] = {{"file_id", "00"}, {"wrapped_dek", "00"}}; }, "canary");
}

}  // namespace
}  // namespace kmsfs::format
