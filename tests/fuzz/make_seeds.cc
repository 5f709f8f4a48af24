// Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.
// Usage: fuzz_make_seeds CORPUS_DIR. The output is committed; rerun this only
// when a target's input layout or the fixed keys of fuzz_util.h change.
//
// Blocks and envelopes are sealed under the fixed keys, so each corpus holds
// valid inputs (which open) next to near-valid ones (one field off).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "fs/format/block_codec.h"
#include "fs/format/file_header.h"
#include "kms/server/envelope.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/vectors/format_v1_golden.h"

namespace kmsfs::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;
using Json = nlohmann::json;

std::filesystem::path g_root;

void Write(std::string_view target, std::string_view name, const Bytes& bytes) {
  const auto dir = g_root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s/%.*s\n", dir.c_str(), static_cast<int>(name.size()), name.data());
    std::exit(1);
  }
}
void Write(std::string_view target, std::string_view name, std::string_view text) {
  Write(target, name, Bytes(text.begin(), text.end()));
}
Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
Bytes Text(std::string_view s) { return Bytes(s.begin(), s.end()); }

void FileHeaders() {
  const Bytes golden = HexDecode(vectors::kHeaderV1Hex).value();
  Write("fuzz_file_header", "golden_v1", golden);
  format::FileHeader h = format::FileHeader::Decode(golden).value();
  h.suite = crypto::CipherSuite::kXChaCha20Poly1305;
  h.block_size = 512;
  h.key_id = "alias/k";
  h.wrapped_dek = "0200ab";
  Write("fuzz_file_header", "xchacha_short", h.Encode());
  h.key_id = std::string(255, 'k');
  h.block_size = 1 << 20;
  Write("fuzz_file_header", "longest_key_id", h.Encode());
  Bytes trailing = golden;
  trailing.push_back(0);
  Write("fuzz_file_header", "near_trailing_byte", trailing);
  Write("fuzz_file_header", "near_truncated", Bytes(golden.begin(), golden.end() - 1));
  Bytes v2 = golden;
  v2[5] = 2;
  Write("fuzz_file_header", "near_version_2", v2);
  Bytes reserved = golden;
  reserved[7] = 1;
  Write("fuzz_file_header", "near_reserved_set", reserved);
  Bytes odd_block = golden;
  odd_block[10] = 0x10;
  odd_block[11] = 0x01;
  Write("fuzz_file_header", "near_block_size_4097", odd_block);
}

void VolumeConfigs() {
  const std::string golden = vectors::kVolumeConfigV1Json;
  Write("fuzz_volume_config", "golden_v1", golden);
  Json j = Json::parse(golden);
  Write("fuzz_volume_config", "compact", j.dump());
  Json x = j;
  x["cipher_suite"] = "XChaCha20-Poly1305";
  x["block_size"] = 1 << 20;
  x["project_id"] = "";
  x["created"] = "";
  Write("fuzz_volume_config", "xchacha_1mib", x.dump(1));
  Json unknown = j;
  unknown["extra"] = true;
  Write("fuzz_volume_config", "near_unknown_field", unknown.dump());
  Json v2 = j;
  v2["version"] = 2;
  Write("fuzz_volume_config", "near_version_2", v2.dump());
  Json neg = j;
  neg["block_size"] = -4096;
  Write("fuzz_volume_config", "near_negative_block_size", neg.dump());
  Json short_id = j;
  short_id["canary"]["file_id"] = "5f0c2e1d9a7b4c3e8d6f1a2b3c4d5e6";
  Write("fuzz_volume_config", "near_short_file_id", short_id.dump());
  Json no_canary = j;
  no_canary.erase("canary");
  Write("fuzz_volume_config", "near_no_canary", no_canary.dump());
  Json float_version = j;
  float_version["version"] = 1.0;
  Write("fuzz_volume_config", "near_float_version", float_version.dump());
}

// fuzz_block_open input: selector byte (suite bit 0, block size bits 1-2,
// round trip bit 3), first block byte, payload.
Bytes BlockInput(crypto::CipherSuite suite, int size_index, bool round_trip, uint8_t first,
                 const Bytes& payload) {
  uint8_t sel = static_cast<uint8_t>((suite == crypto::CipherSuite::kXChaCha20Poly1305 ? 1 : 0) |
                                     (size_index << 1) | (round_trip ? 8 : 0));
  return Cat({sel, first}, payload);
}

Bytes Seal(crypto::CipherSuite suite, uint32_t block_size, uint64_t first, const Bytes& plain) {
  const SecretBytes dek = FixedDek();
  auto codec = format::BlockCodec::New(suite, block_size, dek, kFixedFileId).value();
  Bytes sealed(format::BackingSize(plain.size(), codec->geometry()));
  if (!codec->Seal(first, plain, sealed).ok()) std::exit(1);
  return sealed;
}

void Blocks() {
  using crypto::CipherSuite;
  constexpr std::string_view t = "fuzz_block_open";
  // The FORMAT.md example file, sealed under the same DEK and file id.
  Write(t, "golden_block0", BlockInput(CipherSuite::kAes256Gcm, 3, false, 0,
                                       HexDecode(vectors::kBlock0SealedHex).value()));
  Bytes text(2200);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>('a' + i % 26);
  Write(t, "aes_512_three_blocks_at_3",
        BlockInput(CipherSuite::kAes256Gcm, 0, false, 3,
                   Seal(CipherSuite::kAes256Gcm, 512, 3, Bytes(text.begin(), text.begin() + 1300))));
  Write(t, "xchacha_1024_two_blocks",
        BlockInput(CipherSuite::kXChaCha20Poly1305, 1, false, 0,
                   Seal(CipherSuite::kXChaCha20Poly1305, 1024, 0, Bytes(text.begin(), text.begin() + 2048))));
  Write(t, "aes_2048_wrapping_index",
        BlockInput(CipherSuite::kAes256Gcm, 2, false, 0xff,
                   Seal(CipherSuite::kAes256Gcm, 2048, UINT64_MAX - 1, Bytes(text.begin(), text.begin() + 2100))));
  Write(t, "hole_full_block", BlockInput(CipherSuite::kAes256Gcm, 0, false, 0, Bytes(512 + 28, 0)));
  Write(t, "hole_partial_block", BlockInput(CipherSuite::kXChaCha20Poly1305, 0, false, 0, Bytes(100, 0)));
  Write(t, "sealed_then_hole",
        BlockInput(CipherSuite::kAes256Gcm, 0, false, 0,
                   Cat(Seal(CipherSuite::kAes256Gcm, 512, 0, Bytes(text.begin(), text.begin() + 512)),
                       Bytes(540, 0))));
  Bytes flipped = Seal(CipherSuite::kAes256Gcm, 512, 0, Bytes(text.begin(), text.begin() + 700));
  flipped[600] ^= 4;
  Write(t, "near_flipped_bit", BlockInput(CipherSuite::kAes256Gcm, 0, false, 0, flipped));
  Write(t, "near_impossible_size", BlockInput(CipherSuite::kAes256Gcm, 0, false, 0, Bytes(540 + 20, 7)));
  Write(t, "round_trip_aes", BlockInput(CipherSuite::kAes256Gcm, 0, true, 1, Text("Hello, kmsfs! a short block")));
  Write(t, "round_trip_xchacha",
        BlockInput(CipherSuite::kXChaCha20Poly1305, 1, true, 0, Bytes(text.begin(), text.begin() + 1300)));
}

// fuzz_envelope input: selector byte (kind bit 0: data, context bit 1, round
// trip bit 2), then the envelope or plaintext.
Bytes EnvelopeInput(kms::server::EnvelopeKind kind, int ctx, bool round_trip, const Bytes& rest) {
  const uint8_t sel = static_cast<uint8_t>((kind == kms::server::EnvelopeKind::kData ? 1 : 0) | (ctx << 1) |
                                           (round_trip ? 4 : 0));
  return Cat({sel}, rest);
}

void Envelopes() {
  using kms::server::EnvelopeKind;
  constexpr std::string_view t = "fuzz_envelope";
  const SecretBytes m = FixedCmkMaterial();
  Bytes dek(64);
  for (size_t i = 0; i < dek.size(); ++i) dek[i] = static_cast<uint8_t>(i);
  auto seal = [&](EnvelopeKind kind, int ctx, const Bytes& plain) {
    return kms::server::SealEnvelope(m, kFixedKeyId, kFixedKeyVersion, kind, plain, kContexts[ctx]).value();
  };
  const Bytes dk = seal(EnvelopeKind::kDataKey, 0, dek);
  Write(t, "datakey_64", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, dk));
  Write(t, "datakey_64_context", EnvelopeInput(EnvelopeKind::kDataKey, 1, false, seal(EnvelopeKind::kDataKey, 1, dek)));
  Write(t, "datakey_1", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, seal(EnvelopeKind::kDataKey, 0, Bytes{1})));
  Write(t, "data_12345678", EnvelopeInput(EnvelopeKind::kData, 0, false, seal(EnvelopeKind::kData, 0, Text("12345678"))));
  Bytes bad_length = dk;
  bad_length[2] ^= 1;
  Write(t, "near_length_field", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, bad_length));
  Bytes bad_pad = dk;
  bad_pad[4 + 12 + 64 + 16] = 1;
  Write(t, "near_padding", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, bad_pad));
  Bytes bad_id = dk;
  bad_id[dk.size() - 72] = 'Z';
  Write(t, "near_key_id", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, bad_id));
  Bytes bad_mac = dk;
  bad_mac.back() ^= 0x80;
  Write(t, "near_mac", EnvelopeInput(EnvelopeKind::kDataKey, 0, false, bad_mac));
  Write(t, "near_wrong_kind", EnvelopeInput(EnvelopeKind::kData, 0, false, dk));
  Write(t, "round_trip_dek", EnvelopeInput(EnvelopeKind::kDataKey, 1, true, dek));
  Write(t, "round_trip_text", EnvelopeInput(EnvelopeKind::kData, 0, true, Text("hello, envelope")));
}

// fuzz_kmsd_request input: action index (bit 7: caller bob; bit 6: 8 days
// later), then the body.
void Requests() {
  constexpr std::string_view t = "fuzz_kmsd_request";
  constexpr int kBob = 0x80;
  constexpr int kLater = 0x40;
  auto write = [&](std::string_view action, int flags, std::string_view name, std::string_view body) {
    size_t index = 0;
    while (kKmsdActions[index] != action) ++index;
    const uint8_t sel = static_cast<uint8_t>(index | flags);
    const std::string prefix = std::string(action) + ((flags & kBob) ? "_bob" : "") + ((flags & kLater) ? "_later" : "");
    Write(t, prefix + "_" + std::string(name), Cat({sel}, Text(body)));
  };
  const std::string dek_and_digest =
      std::string(128, '0') + "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B";
  write("create-key", 0, "minimal", R"({"key_alias":"new-key"})");
  write("create-key", 0, "full",
        R"({"key_alias":"alias/x","key_spec":"AES_256","key_usage":"ENCRYPT_DECRYPT","key_description":"d",)"
        R"("origin":"kms","realm":"eu-de","sequence":"919c82d4-8046-4722-9094-35c3c6524cff"})");
  write("create-key", 0, "external", R"({"key_alias":"byok2","origin":"external"})");
  write("create-key", 0, "near_default_alias", R"({"key_alias":"kms/default"})");
  write("describe-key", 0, "by_id", R"({"key_id":"@KEY@"})");
  write("describe-key", 0, "by_alias", R"({"key_id":"alias/fuzz"})");
  write("describe-key", kBob, "by_urn", R"({"key_id":"kms:eu-de:x:alias:fuzz"})");
  write("describe-key", kBob, "granted", R"({"key_id":"@KEY@"})");
  write("list-keys", 0, "page", R"({"limit":"1","marker":"1","key_state":"2"})");
  write("list-keys", 0, "empty", "");
  write("enable-key", 0, "enabled", R"({"key_id":"@KEY@"})");
  write("disable-key", 0, "enabled", R"({"key_id":"@KEY@"})");
  write("schedule-key-deletion", 0, "seven_days", R"({"key_id":"@KEY@","pending_days":"7"})");
  write("cancel-key-deletion", 0, "not_scheduled", R"({"key_id":"@KEY@"})");
  write("enable-key-rotation", 0, "key", R"({"key_id":"@KEY@"})");
  write("disable-key-rotation", 0, "key", R"({"key_id":"@KEY@"})");
  write("get-key-rotation-status", 0, "key", R"({"key_id":"@KEY@"})");
  write("gen-random", 0, "512", R"({"random_data_length":"512"})");
  write("create-datakey", 0, "512", R"({"key_id":"@KEY@","datakey_length":"512"})");
  write("create-datakey", 0, "context",
        R"({"key_id":"@KEY@","key_spec":"AES_256","encryption_context":{"kmsfs_file_id":"a0a1"}})");
  write("create-datakey", kBob, "granted", R"({"key_id":"@KEY@","datakey_length":"512"})");
  write("create-datakey-without-plaintext", 0, "512", R"({"key_id":"@KEY@","datakey_length":"512"})");
  write("encrypt-datakey", 0, "zero_dek",
        R"({"key_id":"@KEY@","plain_text":")" + dek_and_digest + R"(","datakey_plain_length":"64"})");
  write("encrypt-datakey", 0, "near_digest",
        R"({"key_id":"@KEY@","plain_text":")" + std::string(192, '0') + R"(","datakey_plain_length":"64"})");
  write("decrypt-datakey", 0, "ct", R"({"key_id":"@KEY@","cipher_text":"@CT@","datakey_cipher_length":"64"})");
  write("decrypt-datakey", kBob, "granted",
        R"({"key_id":"@KEY@","cipher_text":"@CT@","datakey_cipher_length":"64"})");
  write("decrypt-datakey", 0, "near_context",
        R"({"key_id":"@KEY@","cipher_text":"@CT@","datakey_cipher_length":"64","encryption_context":{"a":"b"}})");
  write("encrypt-data", 0, "text", R"({"key_id":"@KEY@","plain_text":"12345678"})");
  write("encrypt-data", 0, "context",
        R"({"key_id":"alias/fuzz","plain_text":"\u00e9\u4e2d","encryption_context":{"b":"1","a":"2"},)"
        R"("encryption_algorithm":"SYMMETRIC_DEFAULT"})");
  write("decrypt-data", 0, "data", R"({"cipher_text":"@DATA@"})");
  write("decrypt-data", kBob, "not_granted", R"({"cipher_text":"@DATA@"})");
  write("create-grant", 0, "user",
        R"({"key_id":"@KEY@","grantee_principal":"bob1","operations":["describe-key","encrypt-datakey"],)"
        R"("name":"g1","retiring_principal":"alice1"})");
  write("create-grant", 0, "domain",
        R"({"key_id":"@KEY@","grantee_principal":"abc123","operations":["create-grant","decrypt-data"],)"
        R"("grantee_principal_type":"domain"})");
  write("create-grant", kBob, "regrant",
        R"({"key_id":"@KEY@","grantee_principal":"carol1","operations":["describe-key"]})");
  write("list-grants", 0, "key", R"({"key_id":"@KEY@","limit":"","marker":""})");
  write("revoke-grant", 0, "grant", R"({"key_id":"@KEY@","grant_id":"@GRANT@"})");
  write("retire-grant", kBob, "grantee", R"({"key_id":"@KEY@","grant_id":"@GRANT@"})");
  write("retire-grant", 0, "retiring", R"({"key_id":"@KEY@","grant_id":"@GRANT@"})");
  write("list-retirable-grants", 0, "all", R"({"limit":"10"})");
  write("get-parameters-for-import", 0, "oaep256",
        R"({"key_id":"@XKEY@","wrapping_algorithm":"RSAES_OAEP_SHA_256"})");
  write("get-parameters-for-import", 0, "pkcs1",
        R"({"key_id":"@XKEY@","wrapping_algorithm":"RSAES_PKCS1_V1_5"})");
  write("import-key-material", 0, "valid",
        R"({"key_id":"@XKEY@","import_token":"@ITOKEN@","encrypted_key_material":"@MATERIAL@"})");
  write("import-key-material", 0, "expiring",
        R"({"key_id":"@XKEY@","import_token":"@ITOKEN@","encrypted_key_material":"@MATERIAL@",)"
        R"("expiration_time":1800000000})");
  write("import-key-material", 0, "near_token",
        R"({"key_id":"@XKEY@","import_token":"AAAA@ITOKEN@","encrypted_key_material":"@MATERIAL@"})");
  write("delete-imported-key-material", 0, "pending", R"({"key_id":"@XKEY@"})");
  write("login", 0, "by_name",
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice",)"
        R"("password":"fuzz-password","domain":{"name":"alice-domain"}}}},"scope":{"project":{"id":"projA"}}}})");
  write("login", 0, "by_id",
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"bob1",)"
        R"("password":"fuzz-password"}}}}})");
  write("login", 0, "near_password",
        R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"bob1","password":"x"}}}}})");
  write("authenticate", 0, "unknown", "MIIEhAYJKoZIhvcNAQcCoIIEdTCCBHECAQExDTALBglghkgBZQMEAgEw");
  write("authenticate", 0, "empty", "");
  write("authenticate", 0, "token", "@TOKEN@");
  write("authenticate", kLater, "expired", "@TOKEN@");
  write("describe-key", 0, "default", R"({"key_id":"@DKEY@"})");
  write("disable-key", 0, "default", R"({"key_id":"@DKEY@"})");
  write("schedule-key-deletion", 0, "default", R"({"key_id":"@DKEY@","pending_days":"30"})");
  write("create-grant", 0, "default",
        R"({"key_id":"@DKEY@","grantee_principal":"bob1","operations":["describe-key"]})");
  write("create-datakey", 0, "default_alias", R"({"key_id":"alias/kmsfs/default","datakey_length":"512"})");
  write("describe-key", 0, "doomed", R"({"key_id":"@DOOMED@"})");
  write("describe-key", kLater, "doomed_purged", R"({"key_id":"@DOOMED@"})");
  write("cancel-key-deletion", 0, "doomed", R"({"key_id":"@DOOMED@"})");
  write("list-keys", kLater, "after_purge", "{}");
  write("create-datakey", 0, "expiring", R"({"key_id":"@EKEY@","datakey_length":"512"})");
  write("create-datakey", kLater, "expired_material", R"({"key_id":"@EKEY@","datakey_length":"512"})");
  write("delete-imported-key-material", 0, "imported", R"({"key_id":"@EKEY@"})");
  write("import-key-material", kLater, "expired_token",
        R"({"key_id":"@XKEY@","import_token":"@ITOKEN@","encrypted_key_material":"@MATERIAL@"})");
  write("import-key-material", 0, "other_key",
        R"({"key_id":"@EKEY@","import_token":"@ITOKEN@","encrypted_key_material":"@MATERIAL@"})");
}

}  // namespace
}  // namespace kmsfs::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  kmsfs::fuzz::g_root = argv[1];
  kmsfs::fuzz::FileHeaders();
  kmsfs::fuzz::VolumeConfigs();
  kmsfs::fuzz::Blocks();
  kmsfs::fuzz::Envelopes();
  kmsfs::fuzz::Requests();
  return 0;
}
