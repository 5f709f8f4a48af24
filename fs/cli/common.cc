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
  const std::string_view kms_code = kms::KmsErrorCode(status);
  if (!kms_code.empty() && msg.find(kms_code) == std::string::npos) {
    msg += " [" + std::string(kms_code) + "]";
  }
  return Fail(ExitCodeFor(status), msg);
}

}  // namespace kmsfs::cli
