#include "fs/format/file_header.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "base/hex.h"
#include "tests/format/format_example.h"
#include "tests/vectors/format_v1_golden.h"
#include "tests/vectors/format_v2_golden.h"

namespace kmsfs::format {
namespace {

std::vector<uint8_t> GoldenHeader() { return *HexDecode(vectors::kHeaderV1Hex); }

void ExpectDataLoss(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  auto h = FileHeader::Decode(bytes);
  ASSERT_FALSE(h.ok()) << "accepted; wanted error containing: " << fragment;
  EXPECT_EQ(h.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(h.status().message().find(fragment), std::string::npos) << h.status().message();
}

TEST(FileHeaderTest, GoldenBytesDecodeToKnownFields) {
  auto h = FileHeader::Decode(GoldenHeader());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->suite, crypto::CipherSuite::kAes256Gcm);
  EXPECT_EQ(h->block_size, 4096u);
  EXPECT_EQ(FileIdHex(h->file_id), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(h->key_id, "0d0466b0-e727-4d9c-b35d-f84bb474a37f");
  EXPECT_EQ(h->wrapped_dek.size(), 376u);
  EXPECT_EQ(h->wrapped_dek.substr(0, 8), "02009800");
  EXPECT_EQ(*h, example::Header());
}

TEST(FileHeaderTest, EncodeReproducesGoldenBytes) {
  EXPECT_EQ(HexEncode(example::Header().Encode()), vectors::kHeaderV1Hex);
}

TEST(FileHeaderTest, LayoutIsBigEndianAtDocumentedOffsets) {
  FileHeader h = example::Header();
  h.suite = crypto::CipherSuite::kXChaCha20Poly1305;
  h.block_size = 0x00010000;
  h.key_id = "k";
  h.wrapped_dek = "abCD";
  const auto b = h.Encode();
  ASSERT_EQ(b.size(), FileHeader::kFixedSize + 1 + 4);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "KMSF");
  EXPECT_EQ(b[4], 0x00);
  EXPECT_EQ(b[5], 0x01);  // version 1
  EXPECT_EQ(b[6], 0x02);  // XChaCha20-Poly1305
  EXPECT_EQ(b[7], 0x00);  // reserved
  EXPECT_EQ(b[8], 0x00);
  EXPECT_EQ(b[9], 0x01);
  EXPECT_EQ(b[10], 0x00);
  EXPECT_EQ(b[11], 0x00);
  EXPECT_EQ(b[12], 0xa0);  // file id
  EXPECT_EQ(b[27], 0xaf);
  EXPECT_EQ(b[28], 1);  // key_id_len
  EXPECT_EQ(b[29], 'k');
  EXPECT_EQ(b[30], 0x00);  // wrapped_len
  EXPECT_EQ(b[31], 0x04);
  EXPECT_EQ(std::string(b.begin() + 32, b.end()), "abCD");
}

TEST(FileHeaderTest, RoundTripsBothSuitesAndAllBlockSizes) {
  for (auto suite : {crypto::CipherSuite::kAes256Gcm, crypto::CipherSuite::kXChaCha20Poly1305}) {
    for (uint32_t bs = 512; bs <= (1u << 20); bs <<= 1) {
      FileHeader h = example::Header();
      h.suite = suite;
      h.block_size = bs;
      auto back = FileHeader::Decode(h.Encode());
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(*back, h);
    }
  }
}

TEST(FileHeaderTest, MaximalHeaderFitsIn4096Bytes) {
  FileHeader h = example::Header();
  h.key_id = std::string(255, 'k');
  h.wrapped_dek = std::string(4096 - FileHeader::kFixedSize - 255, 'A');
  ASSERT_TRUE(h.Validate().ok());
  const auto b = h.Encode();
  EXPECT_EQ(b.size(), 4096u);
  ASSERT_TRUE(FileHeader::Decode(b).ok());
  h.wrapped_dek += "AA";
  EXPECT_EQ(h.Validate().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(h.Encode().empty());
}

TEST(FileHeaderTest, ValidateRejectsWhatDecodeWouldReject) {
  auto check = [](auto mutate) {
    FileHeader h = example::Header();
    mutate(h);
    EXPECT_EQ(h.Validate().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(h.Encode().empty());
  };
  check([](FileHeader& h) { h.key_id.clear(); });
  check([](FileHeader& h) { h.key_id = std::string(256, 'k'); });
  check([](FileHeader& h) { h.key_id = "has space"; });
  check([](FileHeader& h) { h.key_id = "tab\there"; });
  check([](FileHeader& h) { h.key_id = "caf\xc3\xa9"; });
  check([](FileHeader& h) { h.wrapped_dek.clear(); });
  check([](FileHeader& h) { h.wrapped_dek = "abc"; });
  check([](FileHeader& h) { h.wrapped_dek = "zz"; });
  check([](FileHeader& h) { h.block_size = 4095; });
  check([](FileHeader& h) { h.block_size = 256; });
  check([](FileHeader& h) { h.suite = static_cast<crypto::CipherSuite>(9); });
}

TEST(FileHeaderTest, DecodeRejectsEachMalformation) {
  const auto good = GoldenHeader();
  auto with = [&](size_t at, uint8_t value) {
    auto b = good;
    b[at] = value;
    return b;
  };
  ExpectDataLoss({}, "truncated");
  ExpectDataLoss({'K', 'M', 'S'}, "truncated");
  ExpectDataLoss(std::vector<uint8_t>(good.begin(), good.begin() + 20), "truncated");
  ExpectDataLoss(std::vector<uint8_t>(good.begin(), good.end() - 1), "truncated");
  ExpectDataLoss(with(0, 'X'), "magic");
  ExpectDataLoss(with(5, 3), "version 3");
  ExpectDataLoss(with(4, 1), "version 257");
  ExpectDataLoss(with(6, 0), "suite");
  ExpectDataLoss(with(6, 3), "suite");
  ExpectDataLoss(with(7, 1), "unknown flag bits");
  ExpectDataLoss(with(11, 0x01), "block size");  // 0x1001
  ExpectDataLoss(with(9, 0x20), "block size");   // 2 MiB + 4096
  ExpectDataLoss(with(28, 0), "key id is empty");
  ExpectDataLoss(with(29, 0x07), "key id");
  ExpectDataLoss(with(29, ' '), "key id");
  ExpectDataLoss(with(29, 0xff), "key id");
  const size_t wrapped_len_at = 29 + 36;
  {
    auto b = with(wrapped_len_at, 0);
    b[wrapped_len_at + 1] = 0;
    b.resize(wrapped_len_at + 2);
    ExpectDataLoss(b, "wrapped DEK is empty");
  }
  ExpectDataLoss(with(wrapped_len_at + 2, 'g'), "hex");
  {
    auto b = good;
    b.push_back('0');
    ExpectDataLoss(b, "trailing");
  }
  {
    // An odd-length wrapped DEK is not hex of whole bytes.
    auto b = good;
    b.pop_back();
    b[wrapped_len_at + 1] -= 1;
    ExpectDataLoss(b, "hex");
  }
  ExpectDataLoss(std::vector<uint8_t>(4097, 0), "more than 4096");
}

TEST(FileHeaderTest, FileIdHexIsLowerCase32Chars) {
  FileId id{};
  id[0] = 0xAB;
  id[15] = 0x0F;
  EXPECT_EQ(FileIdHex(id), "ab00000000000000000000000000000f");
}

}  // namespace
}  // namespace kmsfs::format

namespace kmsfs::format {
namespace {

FileHeader HeaderV2() {
  FileHeader h = example::Header();
  h.version = 2;
  return h;
}

TEST(FileHeaderV2Test, GoldenBytesRoundTrip) {
  EXPECT_EQ(HexEncode(HeaderV2().Encode()), vectors::kHeaderV2Hex);
  auto h = FileHeader::Decode(*HexDecode(vectors::kHeaderV2Hex));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h, HeaderV2());
  EXPECT_EQ(h->wrapped_dek, example::WrappedDek()) << "the KMS text comes back exactly, upper case included";
  EXPECT_EQ(HeaderV2().Encode().size(), 255u);
}

TEST(FileHeaderV2Test, LowerCaseWrappedDeksKeepTheirCase) {
  FileHeader h = HeaderV2();
  std::transform(h.wrapped_dek.begin(), h.wrapped_dek.end(), h.wrapped_dek.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  const auto bytes = h.Encode();
  EXPECT_EQ(bytes[7], 0x00) << "no upper-case flag";
  auto back = FileHeader::Decode(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->wrapped_dek, h.wrapped_dek);
}

TEST(FileHeaderV2Test, MixedCaseUnknownFlagsAndAFlagWithoutLettersAreRefused) {
  FileHeader mixed = HeaderV2();
  mixed.wrapped_dek = "abCD";
  EXPECT_EQ(mixed.Validate().code(), StatusCode::kInvalidArgument);
  auto good = *HexDecode(vectors::kHeaderV2Hex);
  auto bad = good;
  bad[7] = 0x03;
  auto h = FileHeader::Decode(bad);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("unknown flag bits"), std::string::npos);
  FileHeader digits = HeaderV2();
  digits.wrapped_dek = "0123456789";
  auto encoded = digits.Encode();
  encoded[7] = 0x01;  // upper-case flag on hex without letters: two encodings of one header
  EXPECT_EQ(FileHeader::Decode(encoded).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kmsfs::format
