// kmsfs: the filesystem and its admin CLI (spec/cli.md).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fs/cli/commands.h"
#include "fs/cli/exit_codes.h"

namespace {

constexpr char kUsage[] = R"(kmsfs - an encrypted filesystem whose keys live in a KMS

Usage:
  kmsfs key create [--alias NAME] [--origin kms|external]
  kmsfs key list
  kmsfs key describe KEY_ID
  kmsfs key import KEY_ID --material FILE [--wrapping RSAES_OAEP_SHA_256|RSAES_OAEP_SHA_1|RSAES_PKCS1_V1_5]
  kmsfs key rotate KEY_ID                      # enable-key-rotation: new material version for new wraps
  kmsfs key delete-material KEY_ID             # delete-imported-key-material (BYOK keys)
  kmsfs init BACKING_DIR --key KEY_ID
  kmsfs mount BACKING_DIR MOUNTPOINT [-f] [-o ro,allow_other,...] [--cache-ttl SEC] [--cache-max N]
              [--pool-size N] [--prefetch N] [--readahead N] [--unlink-queue N] [--ready-files N]
              [--spin-us N] [--background-cpu last|none|CPU] [--shared-storage] [--log-file FILE]
  kmsfs umount MOUNTPOINT
  kmsfs status MOUNTPOINT
  kmsfs grant create BACKING_DIR --grantee USER_ID [--access read|write] [--name NAME] [--retiring USER_ID]
  kmsfs grant list BACKING_DIR
  kmsfs grant revoke BACKING_DIR GRANT_ID
  kmsfs grant retire BACKING_DIR GRANT_ID
  kmsfs fsck BACKING_DIR [--quick]
  kmsfs rewrap BACKING_DIR --to-key KEY_ID

Mount options (defaults in brackets):
  -f, --foreground     serve in the foreground, logging to stderr
  -o OPTS              FUSE options (ro, rw, allow_other, default_permissions, ...)
  --cache-ttl SEC      [300] plaintext DEKs are dropped this long after last use; 0 = no cache
  --cache-max N        [16384] most DEKs cached at once
  --pool-size N        [256] DEKs wrapped ahead of time for new files
  --prefetch N         [16] the first key fetched in a just-listed directory also fetches its
                       other files' DEKs in the background, up to N KMS calls in flight; 0 = off
  --readahead N        [32] files read in listing order: the next N files' first 128 KiB are
                       read from the backing disk in the background; 0 = off
  --unlink-queue N     [1024] an unlink is answered before the backing file is removed, by a
                       background thread, with up to N waiting; 0 = off (off with --shared-storage)
  --ready-files N      [8] in a directory where files are being created, up to N new backing
                       files are made ahead with their headers, so a create only links one in;
                       0 = off
  --spin-us N          [20] a daemon thread that answered a request polls this many microseconds
                       for the next one before it sleeps (saves a wake-up per request); 0 = off
  --background-cpu C   [last] the daemon's background threads (DEK pool, files made ahead,
                       prefetch, readahead, unlinks) share this CPU, where kmsd also runs by
                       default, so their wake-ups do not land on the CPUs your programs use;
                       last = the highest CPU this process may use, none = anywhere
  --shared-storage     no attribute, entry or writeback caching (backing dir shared with others)
  --log-file FILE      [syslog] where the detached daemon logs

Connection (flags override the environment):
  --kms-endpoint URL   KMSFS_KMS_ENDPOINT   KMS base URL, e.g. http://127.0.0.1:8765
  --project-id ID      OS_PROJECT_ID        project in the URL path
  --token T            OS_AUTH_TOKEN        a ready IAM token
  --auth-url URL       OS_AUTH_URL          IAM v3 endpoint for password login
  --user NAME          OS_USERNAME
  --password-file F    OS_PASSWORD
  --domain NAME        OS_USER_DOMAIN_NAME
  --ca-file F          KMSFS_CA_FILE        CA bundle to verify a TLS endpoint

Exit codes: 0 success; 1 the operation failed (e.g. access denied, problems found);
2 usage or environment error (bad flag, missing directory, KMS unreachable).
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace kmsfs::cli;  // NOLINT: one short dispatch table
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (cmd == "--version") {
    std::puts("kmsfs 0.1.0");
    return kExitOk;
  }
  Words words(argv + 2, argv + argc);
  for (const std::string& w : words) {
    if (w == "--help" || w == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
  }
  if (cmd == "key") return KeyCommand(words);
  if (cmd == "init") return InitCommand(words);
  if (cmd == "mount") return MountCommand(words);
  if (cmd == "umount" || cmd == "unmount") return UmountCommand(words);
  if (cmd == "status") return StatusCommand(words);
  if (cmd == "grant") return GrantCommand(words);
  if (cmd == "fsck") return FsckCommand(words);
  if (cmd == "rewrap") return RewrapCommand(words);
  return Fail(kExitUsage, "unknown command '" + cmd + "': run 'kmsfs --help' for the list");
}
