#include <cstdio>
#include <string>

#include "fs/cli/commands.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/output.h"

namespace kmsfs::cli {

int Fail(int code, const std::string& message) {
  // Messages carry a KMS's words and names from the backing directory: one
  // line, no terminal controls.
  std::fprintf(stderr, "kmsfs: %s\n", Printable(message).c_str());
  return code;
}

int Fail(const Status& status, const std::string& what) {
  std::string msg = what + ": " + status.message();
  const std::string kms_code(kms::KmsErrorCode(status));
  if (!kms_code.empty() && msg.find(kms_code) == std::string::npos) {
    msg += " [" + kms_code + "]";
  }
  return Fail(ExitCodeFor(status), msg);
}

}  // namespace kmsfs::cli
