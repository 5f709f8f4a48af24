#include <cstdio>
#include <string>

#include "fs/cli/commands.h"
#include "fs/cli/exit_codes.h"

namespace kmsfs::cli {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "kmsfs: %s\n", message.c_str());
  return code;
}

int Fail(const Status& status, const std::string& what) {
  std::string msg = what + ": " + status.message();
  if (!status.kms_error_code().empty() && msg.find(status.kms_error_code()) == std::string::npos) {
    msg += " [" + status.kms_error_code() + "]";
  }
  return Fail(ExitCodeFor(status), msg);
}

}  // namespace kmsfs::cli
