// kmsfs: the filesystem and its admin CLI (spec/cli.md).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/secret_bytes.h"
#include "fs/cli/args.h"
#include "fs/cli/argv_secrets.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/mount_options.h"
#include "kms/connection_config.h"

namespace {

// KMSFS_VERSION comes from the project() version in CMakeLists.txt.
constexpr char kVersionText[] = "kmsfs " KMSFS_VERSION "\n";

constexpr char kUsage[] = R"(Usage: kmsfs key create [--alias NAME] [--origin kms|external]
  or:  kmsfs key list [--json]
  or:  kmsfs key describe KEY_ID [--json]
  or:  kmsfs key import KEY_ID --material FILE [--wrapping RSAES_OAEP_SHA_256|RSAES_OAEP_SHA_1|RSAES_PKCS1_V1_5]
  or:  kmsfs key rotate KEY_ID
  or:  kmsfs key delete-material KEY_ID
  or:  kmsfs init BACKING_DIR --key KEY_ID [--plaintext-names] [--header xattr|inline]
  or:  kmsfs mount BACKING_DIR MOUNTPOINT [-f] [-o ro,allow_other,...] [MOUNT OPTIONS]
  or:  mount -t fuse.kmsfs BACKING_DIR MOUNTPOINT -o credentials=FILE[,OPTION...]   (also in fstab)
  or:  kmsfs umount MOUNTPOINT
  or:  kmsfs status MOUNTPOINT [--json]
  or:  kmsfs grant create BACKING_DIR --grantee USER_ID [--access read|write] [--name NAME] [--retiring USER_ID]
  or:  kmsfs grant list BACKING_DIR [--json]
  or:  kmsfs grant revoke BACKING_DIR GRANT_ID
  or:  kmsfs grant retire BACKING_DIR GRANT_ID
  or:  kmsfs fsck BACKING_DIR [--quick]
  or:  kmsfs rewrap BACKING_DIR --to-key KEY_ID [--accept-key KEY_ID] [--threads N]
  or:  kmsfs headers export BACKING_DIR FILE
  or:  kmsfs headers import BACKING_DIR FILE [--threads N]
  or:  kmsfs doctor BACKING_DIR [MOUNTPOINT]
  or:  kmsfs --version
Every command that talks to the KMS also takes the connection options below.

kmsfs is an encrypted filesystem whose keys live in a KMS: every file has its
own data key, wrapped by a master key (CMK) in a KMS speaking the Huawei Cloud /
Open Telekom Cloud KMS v1.0 API. key rotate enables rotation (new wraps use a
new material version); key delete-material deletes imported (BYOK) material.
headers export saves every file header and directory name value of an xattr
volume into FILE (wrapped keys only: keep it beside the backup); headers import
puts them back on a copy that lost its xattrs (rsync without -X, tar without
--xattrs). Volumes made with --header inline keep headers inside their files.

)";

constexpr char kUsageTail[] = R"(
Connection (flags override a credentials file, which overrides the environment):
  --kms-endpoint URL   KMSFS_KMS_ENDPOINT   KMS base URL, e.g. http://127.0.0.1:8765; plain
                                            http:// only to loopback (127.0.0.0/8, ::1, localhost)
  --region NAME        -                    the region's public KMS endpoint (and IAM endpoint
                                            for password login), e.g. eu-de, cn-north-4;
                                            --kms-endpoint and --auth-url win over it
  --project-id ID      OS_PROJECT_ID        project in the URL path
  --token T            OS_AUTH_TOKEN        a ready IAM token (taken out of the process's command
                                            line at once; the environment or a file is safer)
  --auth-url URL       OS_AUTH_URL          IAM v3 endpoint for password login
  --user NAME          OS_USERNAME
  --password-file F    OS_PASSWORD          (a password is never accepted on the command line)
  --domain NAME        OS_USER_DOMAIN_NAME
  -                    HUAWEICLOUD_SDK_AK   access key: requests are signed with AK/SK
  -                    HUAWEICLOUD_SDK_SK   (SDK-HMAC-SHA256) instead of carrying a token
  -                    HUAWEICLOUD_SDK_SECURITY_TOKEN   with a temporary AK/SK
  --ca-file F          KMSFS_CA_FILE        CA bundle to verify a TLS endpoint
  --credentials F      KMSFS_CREDENTIALS    a file of NAME=VALUE lines setting any of the variables
                                            above; yours, mode 0600 or stricter, not a symlink

Exit codes: 0 success; 1 the operation failed (e.g. access denied, problems found);
2 usage or environment error (bad flag, missing directory, KMS unreachable).
)";

// The usage text, its mount options made from the one table of them.
void PrintUsage(std::FILE* out) {
  std::fputs(kUsage, out);
  std::fputs(kmsfs::cli::MountOptionsHelp().c_str(), out);
  std::fputs(kUsageTail, out);
}

// Subcommands that hold a token, a password or unwrapped keys.
bool HandlesSecrets(const std::string& cmd) {
  for (const char* c : {"key", "init", "mount", "grant", "fsck", "rewrap", "headers", "doctor"}) {
    if (cmd == c) return true;
  }
  return false;
}

// Environment variables naming files that a mount daemon reads after it has
// changed to "/": pinned to the starting directory.
void PinRelativeFileVariables() {
  for (const char* name : {kmsfs::kms::kEnvCredentials, kmsfs::kms::kEnvCaFile}) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0' && value[0] != '/') {
      ::setenv(name, kmsfs::cli::AbsolutePath(value).c_str(), 1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kmsfs::cli;  // NOLINT: one short dispatch table
  // First of all: secrets given on the command line leave argv (argv_secrets.h).
  auto command_line = TakeSecretsFromArgv(argc, argv);
  if (!command_line.ok()) return Fail(kExitUsage, command_line.status().message());
  if (command_line->words.empty()) {
    PrintUsage(stderr);
    return kExitUsage;
  }
  // mount -t fuse.kmsfs and fstab lines reach kmsfs through mount.fuse3 as
  // `kmsfs BACKING_DIR MOUNTPOINT -o OPTIONS`: the same as `kmsfs mount`.
  if (IsMountHelperCall(command_line->words)) {
    auto mount_words = MountHelperWords(command_line->words);
    if (!mount_words.ok()) return Fail(kExitUsage, mount_words.status().message());
    command_line->words = std::move(*mount_words);
    command_line->words.insert(command_line->words.begin(), "mount");
  }
  const std::string cmd = command_line->words.front();
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintUsage(stdout);
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "version") {
    std::fputs(kVersionText, stdout);
    return kExitOk;
  }
  Words words(command_line->words.begin() + 1, command_line->words.end());
  for (const std::string& w : words) {
    if (w == "--help" || w == "-h") {
      PrintUsage(stdout);
      return kExitOk;
    }
  }
  if (HandlesSecrets(cmd)) {
    // Before any key or credential is in memory: no core file may hold them.
    kmsfs::HardenProcessAgainstCoreDumps();
    PinRelativeFileVariables();
  }
  if (!command_line->token.empty()) {
    if (!HandlesSecrets(cmd)) return Fail(kExitUsage, "kmsfs " + cmd + " does not take --token");
    SetCommandLineToken(std::move(command_line->token));
  }
  if (cmd == "key") return KeyCommand(words);
  if (cmd == "init") return InitCommand(words);
  if (cmd == "mount") return MountCommand(words);
  if (cmd == "umount" || cmd == "unmount") return UmountCommand(words);
  if (cmd == "status") return StatusCommand(words);
  if (cmd == "grant") return GrantCommand(words);
  if (cmd == "fsck") return FsckCommand(words);
  if (cmd == "rewrap") return RewrapCommand(words);
  if (cmd == "headers") return HeadersCommand(words);
  if (cmd == "doctor") return DoctorCommand(words);
  return Fail(kExitUsage, "unknown command '" + cmd + "': run 'kmsfs --help' for the list");
}
