// Connecting the CLI to a KMS: connection flags override the environment
// (spec/cli.md "Connection"); a volume's recorded project id fills the gap
// when neither names one.
#ifndef KMSFS_FS_CLI_CONNECTION_H_
#define KMSFS_FS_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include "fs/base/status.h"
#include "fs/cli/args.h"
#include "kms/kms_client.h"

namespace kmsfs::cli {

StatusOr<std::shared_ptr<kms::Client>> ConnectKms(const Args& args, const std::string& volume_project_id = "");

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_CONNECTION_H_
