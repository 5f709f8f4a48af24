#include "crypto/random.h"

#include <gtest/gtest.h>

#include <vector>

namespace kmsfs::crypto {
namespace {

TEST(RandomBytesTest, FillsDistinctBuffers) {
  std::vector<uint8_t> a(32), b(32);
  RandomBytes(a);
  RandomBytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<uint8_t>(32, 0));
  RandomBytes({});  // empty is a no-op
}

TEST(RandomVectorTest, HasTheAskedSizeAndDiffersEachCall) {
  EXPECT_TRUE(RandomVector(0).empty());
  const std::vector<uint8_t> a = RandomVector(32);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_NE(a, RandomVector(32));
}

}  // namespace
}  // namespace kmsfs::crypto
