// Taking secrets out of the command line.
//
// argv is world-readable through /proc/PID/cmdline for the life of the
// process, and a mount lives for days. So before any subcommand runs, main()
// copies the value of --token straight from argv into secure memory and
// overwrites it in place with '*', and refuses a password given on the
// command line (overwriting it too) instead of using it. What remains visible
// is the window between exec and this call, and the shell's history: the
// environment, a credentials file or a prompt-free password file keep a
// secret out of both.
//
// Thread-safety: call once from main() before any thread starts.
#ifndef KMSFS_FS_CLI_ARGV_SECRETS_H_
#define KMSFS_FS_CLI_ARGV_SECRETS_H_

#include <string>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::cli {

struct CommandLine {
  // argv[1..], without --token and its value.
  std::vector<std::string> words;
  // The value of the last --token given; empty when none was.
  SecretBytes token;
};

// Reads argv[1..argc-1] (up to a "--", after which every word is positional)
// and scrubs the secrets in it as described above. Fails (kInvalidArgument,
// naming the flag and the safe alternatives) for --token without a value and
// for --password or --password=VALUE; the value is scrubbed all the same.
StatusOr<CommandLine> TakeSecretsFromArgv(int argc, char** argv);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_ARGV_SECRETS_H_
