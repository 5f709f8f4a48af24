#include "fs/format/inline_header.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/hex.h"
#include "fs/format/block_codec.h"
#include "fs/format/name_codec.h"
#include "tests/format/format_example.h"
#include "tests/testutil/bytes.h"
#include "tests/vectors/format_v1_golden.h"
#include "tests/vectors/format_v2_golden.h"

namespace kmsfs::format {
namespace {

using testing::Hex;

// The example header of FORMAT.md §6, as version 2 headers are written.
FileHeader ExampleV2() {
  FileHeader h = example::Header();
  h.version = 2;
  return h;
}

std::vector<uint8_t> GoldenRegion() {
  std::vector<uint8_t> region = Hex(vectors::kInlineRegionPrefixHex);
  region.resize(kInlineRegionSize, 0);
  return region;
}

// The `xxd -a` rendering of `b`: 16 bytes a line, 2-byte groups, an ASCII
// column, and a run of all-zero lines after the first shown as one "*".
std::string XxdAutoskip(const std::vector<uint8_t>& b) {
  std::string out;
  bool prev_zero = false, starred = false;
  char buf[32];
  for (size_t off = 0; off < b.size(); off += 16) {
    const size_t end = std::min(off + 16, b.size());
    bool zero = end - off == 16;
    for (size_t i = off; i < end; ++i) zero = zero && b[i] == 0;
    const bool last = end == b.size();
    if (zero && prev_zero && !last) {
      if (!starred) out += "*\n";
      starred = true;
      continue;
    }
    prev_zero = zero;
    starred = false;
    std::snprintf(buf, sizeof buf, "%08zx:", off);
    out += buf;
    for (size_t i = off; i < off + 16; ++i) {
      if (i % 2 == 0) out += ' ';
      if (i < end) {
        std::snprintf(buf, sizeof buf, "%02x", b[i]);
        out += buf;
      } else {
        out += "  ";
      }
    }
    out += "  ";
    for (size_t i = off; i < end; ++i) out += b[i] >= 0x20 && b[i] < 0x7f ? static_cast<char>(b[i]) : '.';
    out += '\n';
  }
  return out;
}

void ExpectRegionDataLoss(const std::vector<uint8_t>& region, const std::string& fragment) {
  auto h = DecodeInlineRegion(region);
  ASSERT_FALSE(h.ok()) << "accepted; wanted an error containing: " << fragment;
  EXPECT_EQ(h.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(h.status().message().find(fragment), std::string::npos) << h.status().message();
}

TEST(InlineHeaderTest, EncodeReproducesGoldenRegion) {
  auto region = EncodeInlineRegion(ExampleV2());
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  EXPECT_EQ(*region, GoldenRegion());
  EXPECT_EQ(region->size(), 512u);
}

TEST(InlineHeaderTest, GoldenRegionHoldsTheVersion2HeaderAfterItsLength) {
  const std::vector<uint8_t> region = GoldenRegion();
  EXPECT_EQ(region[0], 0x00);
  EXPECT_EQ(region[1], 0xff);  // 255
  const std::vector<uint8_t> header = ExampleV2().Encode();
  ASSERT_EQ(header.size(), 255u);
  EXPECT_TRUE(std::equal(header.begin(), header.end(), region.begin() + 2));
  auto decoded = DecodeInlineRegion(region);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, ExampleV2());
}

TEST(InlineHeaderTest, DecodeReadsOnlyTheRegionOfALongerPrefix) {
  std::vector<uint8_t> file = GoldenRegion();
  file.insert(file.end(), 100, 0xee);  // the first sealed block's bytes
  auto decoded = DecodeInlineRegion(file);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, ExampleV2());
}

TEST(InlineHeaderTest, LargestHeaderAVolumeMeetsFits) {
  // A 255-byte key id and the cloud KMS's 188-byte wrapped DEK.
  FileHeader h = ExampleV2();
  h.key_id = std::string(255, 'k');
  ASSERT_EQ(h.wrapped_dek.size(), 376u);
  auto region = EncodeInlineRegion(h);
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  EXPECT_EQ((*region)[0] * 256 + (*region)[1], 31 + 255 + 188);
  auto back = DecodeInlineRegion(*region);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);
  // The most a region holds: a 510-byte header.
  h.wrapped_dek = std::string(2 * (510 - 31 - 255), 'a');
  region = EncodeInlineRegion(h);
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  EXPECT_EQ(DecodeInlineRegion(*region).value(), h);
}

TEST(InlineHeaderTest, EncodeRefusesWhatCannotBeStoredWhole) {
  FileHeader h = ExampleV2();
  h.key_id = std::string(255, 'k');
  h.wrapped_dek = std::string(2 * (511 - 31 - 255), 'a');  // 511 bytes: one too many
  auto too_big = EncodeInlineRegion(h);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("does not fit"), std::string::npos) << too_big.status().message();
  EXPECT_EQ(EncodeInlineRegion(example::Header()).status().code(), StatusCode::kInvalidArgument);  // version 1
  FileHeader invalid = ExampleV2();
  invalid.key_id.clear();
  EXPECT_EQ(EncodeInlineRegion(invalid).status().code(), StatusCode::kInvalidArgument);
}

TEST(InlineHeaderTest, DecodeRefusesMissingAndCutRegions) {
  ExpectRegionDataLoss({}, "missing");
  const std::vector<uint8_t> golden = GoldenRegion();
  for (size_t n : {1, 2, 3, 256, 257, 511}) {
    ExpectRegionDataLoss(std::vector<uint8_t>(golden.begin(), golden.begin() + static_cast<long>(n)),
                   "cut: the backing file holds " + std::to_string(n) + " of its 512 bytes");
  }
}

TEST(InlineHeaderTest, DecodeRefusesBadLengths) {
  std::vector<uint8_t> region = GoldenRegion();
  region[0] = 0;
  region[1] = 0;
  ExpectRegionDataLoss(region, "length 0");
  region[0] = 0x01;
  region[1] = 0xff;  // 511
  ExpectRegionDataLoss(region, "length of 511");
  region[0] = 0xff;
  region[1] = 0xff;
  ExpectRegionDataLoss(region, "length of 65535");
  // A length one short or one long of the header's makes the header or the
  // padding wrong.
  region = GoldenRegion();
  region[1] = 0xfe;  // the header's last byte falls in the padding
  ExpectRegionDataLoss(region, "non-zero bytes after its header");
  region = GoldenRegion();
  region[1] = 0xfe;
  region[256] = 0;  // shorter header, its last byte now padding
  ExpectRegionDataLoss(region, "wrapped DEK");
  region = GoldenRegion();
  region[0] = 0x01;
  region[1] = 0x00;  // 256
  ExpectRegionDataLoss(region, "trailing bytes");
}

TEST(InlineHeaderTest, DecodeRefusesAnythingInThePadding) {
  const std::vector<uint8_t> golden = GoldenRegion();
  for (size_t at : {257u, 300u, 511u}) {
    std::vector<uint8_t> region = golden;
    region[at] = 1;
    ExpectRegionDataLoss(region, "non-zero bytes after its header");
  }
}

TEST(InlineHeaderTest, DecodeRefusesAVersion1HeaderAndGarbage) {
  const std::vector<uint8_t> v1 = Hex(vectors::kHeaderV1Hex);
  std::vector<uint8_t> region(512, 0);
  region[0] = static_cast<uint8_t>(v1.size() >> 8);
  region[1] = static_cast<uint8_t>(v1.size());
  std::copy(v1.begin(), v1.end(), region.begin() + 2);
  ExpectRegionDataLoss(region, "version 1 header");
  region.assign(512, 0);
  region[1] = 20;
  for (int i = 2; i < 22; ++i) region[i] = 0x41;
  ExpectRegionDataLoss(region, "bad magic");
  // Plain sealed blocks where the region should be (a file of an xattr
  // volume copied into an inline one).
  std::vector<uint8_t> random(512);
  std::mt19937_64 rng(7);
  for (uint8_t& b : random) b = static_cast<uint8_t>(rng());
  EXPECT_EQ(DecodeInlineRegion(random).status().code(), StatusCode::kDataLoss);
}

TEST(InlineHeaderTest, MutatedRegionsDecodeCanonicallyOrFailCleanly) {
  std::mt19937_64 rng(20261206);
  const std::vector<uint8_t> golden = GoldenRegion();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> region = golden;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (rng() % 2 ? 260 : region.size());
      if (rng() % 5 == 0) {
        region.resize(pos);
        break;
      }
      if (!region.empty()) region[pos % region.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    auto h = DecodeInlineRegion(region);
    if (!h.ok()) {
      EXPECT_EQ(h.status().code(), StatusCode::kDataLoss);
      continue;
    }
    ++accepted;
    auto again = EncodeInlineRegion(*h);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, std::vector<uint8_t>(region.begin(), region.begin() + 512));
  }
  EXPECT_GT(accepted, 0);  // flips of the file id or key id bytes still decode
}

TEST(InlineHeaderTest, ExampleFileIsItsRegionThenItsBlock) {
  // FORMAT.md §12's worked example: the §6 file in an inline volume.
  std::vector<uint8_t> file = GoldenRegion();
  const std::vector<uint8_t> block = Hex(vectors::kBlock0SealedHex);
  file.insert(file.end(), block.begin(), block.end());
  ASSERT_EQ(file.size(), 584u);
  auto header = DecodeInlineRegion(file);
  ASSERT_TRUE(header.ok());
  auto codec = BlockCodec::New(header->suite, header->block_size, example::Dek(), header->file_id);
  ASSERT_TRUE(codec.ok());
  Geometry g = (*codec)->geometry();
  g.data_offset = kInlineRegionSize;
  auto size = PlainSize(file.size(), g);
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(*size, 44u);
  EXPECT_EQ(BackingSize(44, g), 584u);
  std::vector<uint8_t> plain(*size);
  ASSERT_TRUE((*codec)->Open(0, std::span<const uint8_t>(file).subspan(BackingOffset(0, g)), plain).ok());
  EXPECT_EQ(std::string(plain.begin(), plain.end()), example::kPlaintext);
}

TEST(InlineHeaderTest, DirectoryValueFileHoldsTheXattrBytes) {
  DirValue value;
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<uint8_t>(0x20 + i);
  EXPECT_EQ(HexEncode(EncodeDirValue(value)), vectors::kExampleDirValueFileHex);
  EXPECT_EQ(std::string(kDirValueFileName), ".kmsfs.dir");
}

TEST(InlineHeaderTest, FormatDocumentShowsTheseBytes) {
  std::ifstream in(std::string(KMSFS_SOURCE_DIR) + "/docs/FORMAT.md");
  ASSERT_TRUE(in.good()) << "docs/FORMAT.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  std::vector<uint8_t> file = GoldenRegion();
  const std::vector<uint8_t> block = Hex(vectors::kBlock0SealedHex);
  file.insert(file.end(), block.begin(), block.end());
  EXPECT_NE(doc.find(XxdAutoskip(file)), std::string::npos) << "FORMAT.md lacks the inline example:\n"
                                                            << XxdAutoskip(file);
  EXPECT_NE(doc.find(vectors::kExampleDirValueFileHex), std::string::npos);
  EXPECT_NE(doc.find("`.kmsfs.dir`"), std::string::npos);
}

}  // namespace
}  // namespace kmsfs::format
