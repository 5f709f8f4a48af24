// Connecting the CLI to a KMS (spec/cli.md "Connection"). Sources, each
// overriding the one before it field by field:
//   1. the environment (KMSFS_KMS_ENDPOINT, OS_*, HUAWEICLOUD_SDK_*),
//   2. a credentials file: --credentials FILE, else $KMSFS_CREDENTIALS,
//   3. flags (--kms-endpoint, --project-id, --token, --auth-url, --user,
//      --password-file, --domain, --ca-file).
// A volume's recorded project id fills the gap when none of them names one.
// (kms/connection_config.h: the checks on the file, and why a password from a
// higher source drops a token from a lower one.)
#ifndef KMSFS_FS_CLI_CONNECTION_H_
#define KMSFS_FS_CLI_CONNECTION_H_

#include <memory>
#include <string>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "fs/cli/args.h"
#include "kms/connection_config.h"
#include "kms/kms_client.h"

namespace kmsfs::cli {

// The connection settings of one command, from all the sources above.
StatusOr<kms::ConnectionConfig> ConnectionConfigFor(const Args& args, const std::string& volume_project_id = "");

StatusOr<std::shared_ptr<kms::Client>> ConnectKms(const Args& args, const std::string& volume_project_id = "");

// The --token main() took out of argv before dispatch (argv_secrets.h); it
// ranks with the other flags. Process-wide like the environment it
// overrides: set once, before any thread starts, and only read afterwards.
void SetCommandLineToken(SecretBytes token);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_CONNECTION_H_
