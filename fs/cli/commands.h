// The kmsfs subcommands. Each takes the words after its own name and returns
// the process exit code (exit_codes.h); errors are printed as one line.
#ifndef KMSFS_FS_CLI_COMMANDS_H_
#define KMSFS_FS_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace kmsfs::cli {

using Words = std::vector<std::string>;

int KeyCommand(const Words& words);
int InitCommand(const Words& words);
int MountCommand(const Words& words);
int UmountCommand(const Words& words);
int StatusCommand(const Words& words);
int GrantCommand(const Words& words);
int FsckCommand(const Words& words);
int RewrapCommand(const Words& words);
int HeadersCommand(const Words& words);
int DoctorCommand(const Words& words);

// Prints "kmsfs: <message>" on stderr and returns `code`.
int Fail(int code, const std::string& message);
// Same, with the exit code and text taken from a Status.
int Fail(const Status& status, const std::string& what);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_COMMANDS_H_
