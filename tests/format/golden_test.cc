// The worked example of docs/FORMAT.md, checked against the code: the content
// key, the AD and the sealed block are reproduced byte for byte, the stored
// block opens to the documented plaintext, and the document really contains
// these bytes (so the prose cannot drift from the format).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/hex.h"
#include "crypto/aead_testing.h"
#include "fs/format/block_codec.h"
#include "tests/format/format_example.h"
#include "tests/testutil/bytes.h"
#include "tests/vectors/format_v1_golden.h"
#include "tests/vectors/format_v2_golden.h"

namespace kmsfs::format {
namespace {

using testing::Hex;

// The `xxd` rendering of `b` (16 bytes a line, 2-byte groups, ASCII column).
std::string XxdDump(const std::vector<uint8_t>& b) {
  std::string out;
  char buf[32];
  for (size_t off = 0; off < b.size(); off += 16) {
    std::snprintf(buf, sizeof(buf), "%08zx:", off);
    out += buf;
    for (size_t i = off; i < off + 16; ++i) {
      if (i % 2 == 0) out += ' ';
      if (i < b.size()) {
        std::snprintf(buf, sizeof(buf), "%02x", b[i]);
        out += buf;
      } else {
        out += "  ";
      }
    }
    out += "  ";
    for (size_t i = off; i < off + 16 && i < b.size(); ++i) {
      out += b[i] >= 0x20 && b[i] < 0x7f ? static_cast<char>(b[i]) : '.';
    }
    out += '\n';
  }
  return out;
}

TEST(GoldenTest, ContentKeyAndAdMatchTheExample) {
  auto key = DeriveContentKey(example::Dek(), example::Id());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(HexEncode(key->span()), vectors::kContentKeyHex);
  EXPECT_EQ(HexEncode(BlockAd(example::Id(), 0)), vectors::kBlock0AdHex);
}

TEST(GoldenTest, SealingTheExampleWithItsNonceGivesTheStoredBlock) {
  auto key = DeriveContentKey(example::Dek(), example::Id());
  ASSERT_TRUE(key.ok());
  const std::string text = example::kPlaintext;
  const std::vector<uint8_t> plain(text.begin(), text.end());
  const auto nonce = example::Nonce();
  std::vector<uint8_t> sealed(plain.size() + 28);
  ASSERT_TRUE(crypto::SealWithNonceForTesting(crypto::CipherSuite::kAes256Gcm, *key, nonce, plain,
                                              BlockAd(example::Id(), 0), sealed)
                  .ok());
  EXPECT_EQ(HexEncode(sealed), vectors::kBlock0SealedHex);
}

TEST(GoldenTest, StoredBlockOpensToTheExamplePlaintext) {
  auto header = FileHeader::Decode(Hex(vectors::kHeaderV1Hex));
  ASSERT_TRUE(header.ok());
  auto codec = BlockCodec::New(header->suite, header->block_size, example::Dek(), header->file_id);
  ASSERT_TRUE(codec.ok());
  const auto file = Hex(vectors::kBlock0SealedHex);
  auto size = PlainSize(file.size(), (*codec)->geometry());
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 44u);
  std::vector<uint8_t> out(*size);
  ASSERT_TRUE((*codec)->Open(0, file, out).ok());
  EXPECT_EQ(std::string(out.begin(), out.end()), example::kPlaintext);
}

TEST(GoldenTest, FormatDocumentShowsTheseBytes) {
  std::ifstream in(std::string(KMSFS_SOURCE_DIR) + "/docs/FORMAT.md");
  ASSERT_TRUE(in.good()) << "docs/FORMAT.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const char* hex : {vectors::kContentKeyHex, vectors::kBlock0AdHex, vectors::kBlock0SealedHex}) {
    EXPECT_NE(doc.find(hex), std::string::npos) << "FORMAT.md lacks " << hex;
  }
  // The header and the block are shown as xxd dumps.
  EXPECT_NE(doc.find(XxdDump(Hex(vectors::kHeaderV1Hex))), std::string::npos)
      << "FORMAT.md lacks the header dump:\n" << XxdDump(Hex(vectors::kHeaderV1Hex));
  EXPECT_NE(doc.find(XxdDump(Hex(vectors::kBlock0SealedHex))), std::string::npos)
      << "FORMAT.md lacks the block dump";
  // Version 2: the header, the config with its MAC, the names example.
  EXPECT_NE(doc.find(XxdDump(Hex(vectors::kHeaderV2Hex))), std::string::npos)
      << "FORMAT.md lacks the version 2 header dump:\n" << XxdDump(Hex(vectors::kHeaderV2Hex));
  for (const char* text : {vectors::kVolumeConfigV2Json, vectors::kConfigMacKeyHex, vectors::kExampleNameKeyHex,
                           vectors::kExampleEncodedName, vectors::kExampleLongStoredName,
                           vectors::kExampleDirValueXattrHex}) {
    EXPECT_NE(doc.find(text), std::string::npos) << "FORMAT.md lacks " << text;
  }
}

}  // namespace
}  // namespace kmsfs::format
