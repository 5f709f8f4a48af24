// Test vectors written in hex.
#ifndef KMSFS_TESTS_TESTUTIL_BYTES_H_
#define KMSFS_TESTS_TESTUTIL_BYTES_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/hex.h"

namespace kmsfs::testing {

// A test vector written in hex; a malformed one fails the test using it.
inline std::vector<uint8_t> Hex(std::string_view hex) {
  auto v = HexDecode(hex);
  EXPECT_TRUE(v.ok()) << hex;
  return v.ok() ? *v : std::vector<uint8_t>{};
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_BYTES_H_
