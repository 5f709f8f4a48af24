#include "fs/format/offsets.h"

#include <gtest/gtest.h>

#include <limits>

namespace kmsfs::format {
namespace {

constexpr Geometry kGcm4k{4096, 28};
constexpr Geometry kXChacha4k{4096, 40};

TEST(OffsetsTest, DocumentedExamples) {
  // The "Size math" table of docs/FORMAT.md.
  EXPECT_EQ(BackingSize(0, kGcm4k), 0u);
  EXPECT_EQ(BackingSize(1, kGcm4k), 29u);
  EXPECT_EQ(BackingSize(44, kGcm4k), 72u);
  EXPECT_EQ(BackingSize(4096, kGcm4k), 4124u);
  EXPECT_EQ(BackingSize(4097, kGcm4k), 4153u);
  EXPECT_EQ(BackingSize(10000, kGcm4k), 10084u);
  EXPECT_EQ(BackingSize(1 << 20, kGcm4k), (1u << 20) + 256 * 28);
  EXPECT_EQ(BackingSize(10000, kXChacha4k), 10120u);
  EXPECT_EQ(*PlainSize(10084, kGcm4k), 10000u);
  EXPECT_EQ(*PlainSize(4124, kGcm4k), 4096u);
  EXPECT_EQ(PlainSize(4124 + 28, kGcm4k).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(PlainSize(4124 + 1, kGcm4k).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(*PlainSize(4124 + 29, kGcm4k), 4097u);
}

TEST(OffsetsTest, ExhaustiveSmallSizesRoundTrip) {
  for (Geometry g : {Geometry{512, 28}, Geometry{512, 40}, Geometry{1024, 28}}) {
    const uint64_t limit = 4 * g.sealed_block_size() + 3;
    for (uint64_t plain = 0; plain <= 4 * uint64_t{g.block_size} + 3; ++plain) {
      const uint64_t backing = BackingSize(plain, g);
      auto back = PlainSize(backing, g);
      ASSERT_TRUE(back.ok()) << plain;
      EXPECT_EQ(*back, plain);
      EXPECT_EQ(backing, BlockCount(plain, g) * g.overhead + plain);
    }
    for (uint64_t backing = 0; backing <= limit; ++backing) {
      const uint64_t rem = backing % g.sealed_block_size();
      auto plain = PlainSize(backing, g);
      if (rem != 0 && rem <= g.overhead) {
        ASSERT_FALSE(plain.ok()) << backing;
        EXPECT_EQ(plain.status().code(), StatusCode::kDataLoss);
        EXPECT_NE(plain.status().message().find("impossible backing size"), std::string::npos);
      } else {
        ASSERT_TRUE(plain.ok()) << backing;
        EXPECT_EQ(BackingSize(*plain, g), backing);
      }
    }
  }
}

TEST(OffsetsTest, VisibleSizeCountsATooShortTrailingPieceAsOneByte) {
  // The stat table of docs/FORMAT.md §5.
  EXPECT_EQ(VisiblePlainSize(0, kGcm4k), 0u);
  EXPECT_EQ(VisiblePlainSize(4124, kGcm4k), 4096u);
  EXPECT_EQ(VisiblePlainSize(4124 + 1, kGcm4k), 4097u);
  EXPECT_EQ(VisiblePlainSize(4124 + 28, kGcm4k), 4097u);
  EXPECT_EQ(VisiblePlainSize(4124 + 29, kGcm4k), 4097u);
  EXPECT_EQ(VisiblePlainSize(4124 + 30, kGcm4k), 4098u);
  EXPECT_EQ(VisiblePlainSize(10084, kGcm4k), 10000u);
  EXPECT_EQ(VisiblePlainSize(1, kXChacha4k), 1u);
  EXPECT_EQ(VisiblePlainSize(40, kXChacha4k), 1u);
  EXPECT_EQ(VisiblePlainSize(41, kXChacha4k), 1u);
}

TEST(OffsetsTest, VisibleSizeAgreesWithPlainSizeAndNeverShrinksAsTheFileGrows) {
  for (Geometry g : {Geometry{512, 28}, Geometry{512, 40}, Geometry{1024, 28}}) {
    uint64_t prev = 0;
    for (uint64_t backing = 0; backing <= 4 * g.sealed_block_size() + 3; ++backing) {
      const uint64_t visible = VisiblePlainSize(backing, g);
      auto exact = PlainSize(backing, g);
      if (exact.ok()) {
        EXPECT_EQ(visible, *exact) << backing;
      } else {
        // Intact blocks plus one byte in the damaged block: reading to the
        // end reaches it, and finds fewer stored bytes than that byte needs.
        EXPECT_EQ(visible, backing / g.sealed_block_size() * g.block_size + 1) << backing;
        EXPECT_GT(BackingSize(visible, g), backing) << backing;
      }
      EXPECT_GE(visible, prev) << backing;
      prev = visible;
    }
  }
}

TEST(OffsetsTest, BlockArithmeticAtBoundaries) {
  const Geometry g = kGcm4k;
  EXPECT_EQ(BlockIndex(0, g), 0u);
  EXPECT_EQ(BlockIndex(4095, g), 0u);
  EXPECT_EQ(BlockIndex(4096, g), 1u);
  EXPECT_EQ(OffsetInBlock(4095, g), 4095u);
  EXPECT_EQ(OffsetInBlock(4096, g), 0u);
  EXPECT_EQ(OffsetInBlock(8193, g), 1u);
  EXPECT_EQ(BackingOffset(0, g), 0u);
  EXPECT_EQ(BackingOffset(1, g), 4124u);
  EXPECT_EQ(BackingOffset(3, g), 3 * 4124u);
  EXPECT_EQ(BlockCount(0, g), 0u);
  EXPECT_EQ(BlockCount(1, g), 1u);
  EXPECT_EQ(BlockCount(4096, g), 1u);
  EXPECT_EQ(BlockCount(4097, g), 2u);
  EXPECT_EQ(g.sealed_block_size(), 4124u);
}

TEST(OffsetsTest, LargeSizesDoNotOverflow) {
  const Geometry g{1u << 20, 40};
  const uint64_t plain = (uint64_t{1} << 62) + 12345;
  const uint64_t backing = BackingSize(plain, g);
  EXPECT_GT(backing, plain);
  auto back = PlainSize(backing, g);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, plain);
  EXPECT_EQ(BlockIndex(plain, g), plain >> 20);
  auto max = PlainSize(std::numeric_limits<uint64_t>::max(), g);
  if (max.ok()) {
    EXPECT_LT(*max, std::numeric_limits<uint64_t>::max());
  }
}

TEST(OffsetsTest, HeaderRegionShiftsEveryBackingOffset) {
  // An inline-header volume: the 512-byte region, then the same blocks.
  const Geometry g{4096, 28, 512};
  EXPECT_EQ(BackingSize(0, g), 512u);
  EXPECT_EQ(BackingSize(44, g), 584u);
  EXPECT_EQ(BackingSize(4097, g), 512 + 4153u);
  EXPECT_EQ(SealedSize(44, g), 72u);
  EXPECT_EQ(SealedSize(4097, g), 4153u);
  EXPECT_EQ(BackingOffset(0, g), 512u);
  EXPECT_EQ(BackingOffset(2, g), 512 + 2 * 4124u);
  EXPECT_EQ(*PlainSize(512, g), 0u);
  EXPECT_EQ(*PlainSize(584, g), 44u);
  EXPECT_EQ(VisiblePlainSize(584, g), 44u);
  for (Geometry geo : {Geometry{512, 28, 512}, Geometry{512, 40, 512}}) {
    for (uint64_t plain = 0; plain <= 3 * 512 + 3; ++plain) {
      const uint64_t backing = BackingSize(plain, geo);
      EXPECT_EQ(backing, 512 + SealedSize(plain, Geometry{geo.block_size, geo.overhead}));
      auto back = PlainSize(backing, geo);
      ASSERT_TRUE(back.ok()) << plain;
      EXPECT_EQ(*back, plain);
      EXPECT_EQ(VisiblePlainSize(backing, geo), plain);
    }
  }
}

TEST(OffsetsTest, FileShorterThanItsHeaderRegionIsDataLossAndShowsEmpty) {
  const Geometry g{4096, 28, 512};
  for (uint64_t backing : {0u, 1u, 2u, 257u, 511u}) {
    auto size = PlainSize(backing, g);
    ASSERT_FALSE(size.ok()) << backing;
    EXPECT_EQ(size.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(size.status().message().find("shorter than its 512-byte header region"), std::string::npos)
        << size.status().message();
    EXPECT_EQ(VisiblePlainSize(backing, g), 0u) << backing;
  }
  // Past the region, the rules of a file without one.
  EXPECT_EQ(PlainSize(512 + 1, g).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(PlainSize(512 + 28, g).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(VisiblePlainSize(512 + 28, g), 1u);
  EXPECT_EQ(*PlainSize(512 + 29, g), 1u);
}

TEST(OffsetsTest, BlockSizeRule) {
  EXPECT_TRUE(IsValidBlockSize(512));
  EXPECT_TRUE(IsValidBlockSize(4096));
  EXPECT_TRUE(IsValidBlockSize(1 << 20));
  EXPECT_FALSE(IsValidBlockSize(0));
  EXPECT_FALSE(IsValidBlockSize(256));
  EXPECT_FALSE(IsValidBlockSize(4095));
  EXPECT_FALSE(IsValidBlockSize(4097));
  EXPECT_FALSE(IsValidBlockSize(6144));
  EXPECT_FALSE(IsValidBlockSize(1 << 21));
  EXPECT_FALSE(IsValidBlockSize(0x80000000u));
  int valid = 0;
  for (uint64_t n = 0; n <= (1u << 21); ++n) valid += IsValidBlockSize(static_cast<uint32_t>(n));
  EXPECT_EQ(valid, 12);  // 2^9 .. 2^20
}

}  // namespace
}  // namespace kmsfs::format
