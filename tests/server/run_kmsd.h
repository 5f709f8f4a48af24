// Runs the kmsd binary of the build as a command (kmsd --help, kmsd audit
// verify, bad flags) and collects its exit code and output.
#ifndef KMSFS_TESTS_SERVER_RUN_KMSD_H_
#define KMSFS_TESTS_SERVER_RUN_KMSD_H_

#include <string>
#include <vector>

namespace kmsfs::testing {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs BuildDir()/kmsd with `args` to completion (it must exit by itself
// within 20 s of its last output, else it is killed and exit_code is -1).
RunResult RunKmsd(const std::vector<std::string>& args);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_SERVER_RUN_KMSD_H_
