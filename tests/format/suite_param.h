// Shared bits for tests parameterised over the cipher suite.
#ifndef KMSFS_TESTS_FORMAT_SUITE_PARAM_H_
#define KMSFS_TESTS_FORMAT_SUITE_PARAM_H_

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "crypto/aead.h"

namespace kmsfs::crypto {
inline void PrintTo(CipherSuite suite, std::ostream* os) { *os << CipherSuiteName(suite); }
}  // namespace kmsfs::crypto

namespace kmsfs::format {

inline auto BothSuites() {
  return ::testing::Values(crypto::CipherSuite::kAes256Gcm, crypto::CipherSuite::kXChaCha20Poly1305);
}
inline std::string SuiteTestName(const ::testing::TestParamInfo<crypto::CipherSuite>& info) {
  return info.param == crypto::CipherSuite::kAes256Gcm ? "AesGcm" : "XChaCha";
}

}  // namespace kmsfs::format

#endif  // KMSFS_TESTS_FORMAT_SUITE_PARAM_H_
