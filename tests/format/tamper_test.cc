// One test per attack in docs/FORMAT.md "Attacks and what detects them": each
// either fails with kDataLoss or behaves exactly as the documented limit says.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "fs/format/block_codec.h"
#include "fs/format/file_header.h"
#include "tests/format/suite_param.h"

namespace kmsfs::format {
namespace {

using crypto::CipherSuite;

class TamperTest : public ::testing::TestWithParam<CipherSuite> {
 protected:
  static constexpr uint32_t kBs = 512;
  void SetUp() override {
    for (auto& b : id_) b = static_cast<uint8_t>(rng_());
    codec_ = std::move(BlockCodec::New(GetParam(), kBs, dek_, id_)).value();
    plain_.resize(kBs * 4 + 200);  // 4 full blocks + a partial one
    for (auto& b : plain_) b = static_cast<uint8_t>(rng_());
    file_.resize(BackingSize(plain_.size(), g()));
    ASSERT_TRUE(codec_->Seal(0, plain_, file_).ok());
  }
  const Geometry& g() const { return codec_->geometry(); }
  size_t sbs() const { return g().sealed_block_size(); }
  // Reads a whole backing file the way the mount does: size math, then Open.
  Status ReadAll(const BlockCodec& codec, const std::vector<uint8_t>& file,
                 std::vector<uint8_t>* out = nullptr) const {
    KMSFS_ASSIGN_OR_RETURN(uint64_t size, PlainSize(file.size(), codec.geometry()));
    std::vector<uint8_t> plain(size);
    KMSFS_RETURN_IF_ERROR(codec.Open(0, file, plain));
    if (out != nullptr) *out = std::move(plain);
    return Status::Ok();
  }
  void SwapBlocks(std::vector<uint8_t>& f, size_t a, size_t b) const {
    std::swap_ranges(f.begin() + a * sbs(), f.begin() + (a + 1) * sbs(), f.begin() + b * sbs());
  }

  std::mt19937_64 rng_{99};
  SecretBytes dek_ = SecretBytes::Random(kDekSize);
  FileId id_{};
  std::unique_ptr<BlockCodec> codec_;
  std::vector<uint8_t> plain_;
  std::vector<uint8_t> file_;
};

TEST_P(TamperTest, UntouchedFileReadsBack) {
  std::vector<uint8_t> out;
  ASSERT_TRUE(ReadAll(*codec_, file_, &out).ok());
  EXPECT_EQ(out, plain_);
}

TEST_P(TamperTest, FlippedBitIsDetectedAnywhere) {
  for (size_t pos = 0; pos < file_.size(); pos += 37) {
    auto f = file_;
    f[pos] ^= static_cast<uint8_t>(1u << (pos % 8));
    EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss) << "byte " << pos;
  }
}

TEST_P(TamperTest, SwappedBlocksAreDetected) {
  auto f = file_;
  SwapBlocks(f, 1, 2);
  Status s = ReadAll(*codec_, f);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("block 1"), std::string::npos);
}

TEST_P(TamperTest, ReorderedBlocksAreDetected) {
  auto f = file_;
  SwapBlocks(f, 0, 3);
  SwapBlocks(f, 0, 1);  // 0,1,2,3 -> 1,3,2,0
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, DuplicatedBlockAtAnotherIndexIsDetected) {
  auto f = file_;
  std::copy(f.begin(), f.begin() + sbs(), f.begin() + 2 * sbs());
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, BlockMovedFromAnotherFileIsDetected) {
  // Same DEK, another file id (e.g. a copied header with a new id) ...
  FileId other_id = id_;
  other_id[0] ^= 1;
  auto other = std::move(BlockCodec::New(GetParam(), kBs, dek_, other_id)).value();
  std::vector<uint8_t> other_file(file_.size());
  ASSERT_TRUE(other->Seal(0, plain_, other_file).ok());
  auto f = file_;
  std::copy(other_file.begin() + sbs(), other_file.begin() + 2 * sbs(), f.begin() + sbs());
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
  // ... and another file with its own DEK, same block index.
  auto third = std::move(BlockCodec::New(GetParam(), kBs, SecretBytes::Random(kDekSize), id_)).value();
  ASSERT_TRUE(third->Seal(0, plain_, other_file).ok());
  f = file_;
  std::copy(other_file.begin() + sbs(), other_file.begin() + 2 * sbs(), f.begin() + sbs());
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, TruncationAtBlockBoundaryIsNotDetectedByTheCodec) {
  // Documented limit: the file simply becomes shorter (like gocryptfs).
  auto f = file_;
  f.resize(2 * sbs());
  std::vector<uint8_t> out;
  ASSERT_TRUE(ReadAll(*codec_, f, &out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(plain_.begin(), plain_.begin() + 2 * kBs));
}

TEST_P(TamperTest, TruncationMidBlockIsDetected) {
  for (size_t cut : {size_t{1}, size_t{10}, size_t{g().overhead} - 1, size_t{g().overhead}}) {
    auto f = file_;
    f.resize(2 * sbs() + cut);  // nothing but (part of) a nonce and tag left
    Status s = ReadAll(*codec_, f);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << cut;
    EXPECT_NE(s.message().find("impossible backing size"), std::string::npos) << s.message();
  }
  for (size_t cut : {size_t{g().overhead + 1}, size_t{100}, sbs() - 1}) {
    auto f = file_;
    f.resize(2 * sbs() + cut);  // the tag no longer matches
    EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss) << cut;
  }
}

TEST_P(TamperTest, ExtendingThePartialLastBlockIsDetected) {
  auto f = file_;
  f.push_back(0);
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, AppendedRandomBlockIsDetected) {
  auto f = std::vector<uint8_t>(file_.begin(), file_.begin() + 4 * sbs());
  for (size_t i = 0; i < sbs(); ++i) f.push_back(static_cast<uint8_t>(rng_()));
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, AppendedZeroBlockReadsAsZerosAsDocumented) {
  // Documented limit: an appended all-zero block is a hole (like a sparse
  // file grown with truncate), so the file reads longer, ending in zeros.
  auto f = std::vector<uint8_t>(file_.begin(), file_.begin() + 4 * sbs());
  f.resize(5 * sbs(), 0);
  std::vector<uint8_t> out;
  ASSERT_TRUE(ReadAll(*codec_, f, &out).ok());
  EXPECT_EQ(out.size(), 5u * kBs);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 4 * kBs, out.end()), std::vector<uint8_t>(kBs, 0));
}

TEST_P(TamperTest, ZeroedBlockReadsAsZerosAsDocumented) {
  auto f = file_;
  std::fill(f.begin() + sbs(), f.begin() + 2 * sbs(), 0);
  std::vector<uint8_t> out;
  ASSERT_TRUE(ReadAll(*codec_, f, &out).ok());
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + kBs, out.begin() + 2 * kBs),
            std::vector<uint8_t>(kBs, 0));
  EXPECT_TRUE(std::equal(out.begin() + 2 * kBs, out.end(), plain_.begin() + 2 * kBs));
}

TEST_P(TamperTest, PartlyZeroedBlockIsDetected) {
  auto f = file_;
  std::fill(f.begin() + sbs(), f.begin() + 2 * sbs() - 1, 0);  // last byte left
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
  f = file_;
  std::fill(f.begin() + sbs(), f.begin() + sbs() + g().overhead, 0);  // nonce (+tag bytes) only
  EXPECT_EQ(ReadAll(*codec_, f).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, RolledBackBlockIsNotDetectedAsDocumented) {
  // Documented limit: an older version of the same block of the same file,
  // written back at its own index, still authenticates.
  std::vector<uint8_t> old_block(sbs());
  const std::vector<uint8_t> old_plain(kBs, 'o');
  ASSERT_TRUE(codec_->Seal(1, old_plain, old_block).ok());
  auto f = file_;
  std::copy(old_block.begin(), old_block.end(), f.begin() + sbs());
  std::vector<uint8_t> out;
  ASSERT_TRUE(ReadAll(*codec_, f, &out).ok());
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + kBs, out.begin() + 2 * kBs), old_plain);
}

TEST_P(TamperTest, HeaderOfAnotherFileMakesEveryBlockFail) {
  // Another file's header brings its file id and its DEK (which the KMS
  // unwraps only for that file id): the content key and ADs differ.
  FileId other_id = id_;
  other_id[5] ^= 0x40;
  auto wrong = std::move(BlockCodec::New(GetParam(), kBs, SecretBytes::Random(kDekSize), other_id)).value();
  Status s = ReadAll(*wrong, file_);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("block 0"), std::string::npos);
  // Even a header carrying the right DEK but another file id fails.
  auto same_dek = std::move(BlockCodec::New(GetParam(), kBs, dek_, other_id)).value();
  EXPECT_EQ(ReadAll(*same_dek, file_).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, ChangedSuiteInHeaderIsDetected) {
  const CipherSuite other = GetParam() == CipherSuite::kAes256Gcm ? CipherSuite::kXChaCha20Poly1305
                                                                   : CipherSuite::kAes256Gcm;
  auto wrong = std::move(BlockCodec::New(other, kBs, dek_, id_)).value();
  EXPECT_EQ(ReadAll(*wrong, file_).code(), StatusCode::kDataLoss);
}

TEST_P(TamperTest, ChangedBlockSizeInHeaderIsDetected) {
  for (uint32_t bs : {1024u, 4096u, 65536u}) {
    auto wrong = std::move(BlockCodec::New(GetParam(), bs, dek_, id_)).value();
    EXPECT_EQ(ReadAll(*wrong, file_).code(), StatusCode::kDataLoss) << bs;
  }
}

INSTANTIATE_TEST_SUITE_P(BothSuites, TamperTest, BothSuites(), SuiteTestName);

}  // namespace
}  // namespace kmsfs::format
