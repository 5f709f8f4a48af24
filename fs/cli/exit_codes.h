// Exit codes of the kmsfs command (spec/cli.md).
#ifndef KMSFS_FS_CLI_EXIT_CODES_H_
#define KMSFS_FS_CLI_EXIT_CODES_H_

#include "base/status.h"
#include "kms/kms_error.h"

namespace kmsfs::cli {

inline constexpr int kExitOk = 0;
// The operation's own failure: access denied, problems found, key refused.
inline constexpr int kExitFailure = 1;
// Usage or environment: bad flag, missing directory, KMS unreachable.
inline constexpr int kExitUsage = 2;

// Unreachable KMS and malformed input are environment/usage errors; a KMS
// that answered "no" is the operation's own failure.
inline int ExitCodeFor(const Status& s) {
  // The KMS answered (with a KMS.xxxx code): it refused this operation.
  if (!kms::KmsErrorCode(s).empty() && s.code() != StatusCode::kUnavailable) return kExitFailure;
  switch (s.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kUnavailable:
    case StatusCode::kInvalidArgument:
    case StatusCode::kIoError: return kExitUsage;
    default: return kExitFailure;
  }
}

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_EXIT_CODES_H_
