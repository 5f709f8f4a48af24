#include "base/hex.h"

#include <gtest/gtest.h>

namespace kmsfs {
namespace {

TEST(HexTest, RoundTripsBothCases) {
  std::vector<uint8_t> bytes = {0x00, 0xab, 0xFF, 0x10};
  EXPECT_EQ(HexEncode(bytes), "00abff10");
  EXPECT_EQ(HexEncodeUpper(bytes), "00ABFF10");
  EXPECT_EQ(*HexDecode("00ABff10"), bytes);
}

TEST(HexTest, UpperSecretMatchesUpper) {
  std::vector<uint8_t> bytes = {0x00, 0xab, 0xFF, 0x10, 0x9c};
  EXPECT_EQ(std::string_view(HexEncodeUpperSecret(bytes)), "00ABFF109C");
  EXPECT_TRUE(HexEncodeUpperSecret({}).empty());
}

TEST(HexTest, RejectsOddLengthAndBadCharacters) {
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
  EXPECT_FALSE(HexDecode("ab cd").ok());
  EXPECT_FALSE(HexDecodeSecret("0g").ok());
}

TEST(HexTest, DecodesIntoSecretMemory) {
  auto s = HexDecodeSecret("0102");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 2u);
  EXPECT_EQ(s->data()[1], 2);
}

}  // namespace
}  // namespace kmsfs
