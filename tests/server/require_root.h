// KMSD_REQUIRE_ROOT(): for tests that give files to other users or read
// another process's memory. Without root the test is skipped, except under
// CI=true, where it fails.
#ifndef KMSFS_TESTS_SERVER_REQUIRE_ROOT_H_
#define KMSFS_TESTS_SERVER_REQUIRE_ROOT_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#define KMSD_REQUIRE_ROOT()                                                                   \
  do {                                                                                        \
    if (::geteuid() != 0) {                                                                   \
      const char* ci = std::getenv("CI");                                                     \
      if (ci != nullptr && std::string(ci) == "true") FAIL() << "this test needs root under CI"; \
      GTEST_SKIP() << "needs root";                                                           \
    }                                                                                         \
  } while (0)

#endif  // KMSFS_TESTS_SERVER_REQUIRE_ROOT_H_
