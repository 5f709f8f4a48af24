// Byte helpers for test vectors and literals.
#ifndef KMSFS_TESTS_TESTUTIL_BYTES_H_
#define KMSFS_TESTS_TESTUTIL_BYTES_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
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

// The bytes of a string literal.
inline std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_BYTES_H_
