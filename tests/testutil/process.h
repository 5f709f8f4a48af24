// Running the project's binaries from tests: argv in, exit code and output out.
#ifndef KMSFS_TESTS_TESTUTIL_PROCESS_H_
#define KMSFS_TESTS_TESTUTIL_PROCESS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kmsfs::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the current environment plus `env`, closes its
// stdin, and waits at most `timeout_sec` (then kills it).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         int timeout_sec = 120);

// Runs `action` in a forked child as uid and gid 65534 (nobody) and returns
// what it returned, e.g. 0 or an errno value (at most 255); 99 if the child
// could not change user, 98 if it did not exit normally. Needs root.
int RunAsNobody(const std::function<int()>& action);

// True when FUSE mounts can be made here. When they cannot: outside CI the
// test is skipped, under CI=true it fails (use KMSFS_REQUIRE_FUSE()).
bool FuseAvailable();

}  // namespace kmsfs::testing

#define KMSFS_REQUIRE_FUSE()                                                        \
  do {                                                                              \
    if (!::kmsfs::testing::FuseAvailable()) {                                       \
      const char* ci = std::getenv("CI");                                           \
      if (ci != nullptr && std::string(ci) == "true") FAIL() << "/dev/fuse missing under CI"; \
      GTEST_SKIP() << "/dev/fuse is not usable here";                                \
    }                                                                               \
  } while (0)

#endif  // KMSFS_TESTS_TESTUTIL_PROCESS_H_
