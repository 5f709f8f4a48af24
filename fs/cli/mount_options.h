// The options of `kmsfs mount`, each defined once in one table with its
// default, bounds and help; parsing, `kmsfs mount --help` and the README's
// table are all made from it.
//
// Flags a user needs are flags (-f, -o, --cache-ttl, --cache-max,
// --shared-storage, --log-file). Knobs that only benchmarks touch go behind
// one `--tune KEY=VALUE` (repeatable).
#ifndef KMSFS_FS_CLI_MOUNT_OPTIONS_H_
#define KMSFS_FS_CLI_MOUNT_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "fs/base/status.h"
#include "fs/cli/args.h"

namespace kmsfs::cli {

struct MountOptions {
  bool foreground = false;
  std::vector<std::string> fuse_opts;  // -o values other than ro/rw
  bool explicit_ro = false;
  bool explicit_rw = false;
  long long cache_ttl = 0;
  long long cache_max = 0;
  bool shared_storage = false;
  std::string log_file;
  std::string accept_key;  // empty: keep the pin
  // --tune
  long long pool_size = 0;
  long long prefetch = 0;
  long long readahead = 0;
  std::optional<int> background_cpu;  // none: anywhere
};

// The value flags and switches `kmsfs mount` accepts (besides connection flags).
std::vector<std::string> MountValueFlags();
std::vector<std::string> MountSwitches();
// Fills MountOptions from parsed arguments, defaults for what is absent;
// kInvalidArgument naming the flag and its bounds for a bad value.
StatusOr<MountOptions> ParseMountOptions(const Args& args);
// The "Mount options" part of `kmsfs --help`.
std::string MountOptionsHelp();
// The README's table of mount options (Markdown), made from the same table.
std::string MountOptionsMarkdown();

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_MOUNT_OPTIONS_H_
