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

#include "base/status.h"
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

// mount(8) runs mount.fuse3 for `mount -t fuse.kmsfs BACKING MOUNTPOINT -o
// OPTS` and for fstab lines of type fuse.kmsfs, and mount.fuse3 runs
// `kmsfs BACKING MOUNTPOINT -o OPTS`. Such a call: a first word that is a path
// (has a '/'; mount(8) passes absolute paths), never a command name.
bool IsMountHelperCall(const std::vector<std::string>& words);
// The words of the `kmsfs mount` the call means: each option in the table's
// `-o` name column becomes its flag (cache-ttl=300 -> --cache-ttl 300,
// shared-storage, tune.prefetch=8 -> --tune prefetch=8), credentials=FILE
// becomes --credentials FILE, what mount(8) and mount.fuse3 handle
// themselves is dropped (_netdev, nofail, auto, noauto, user, users, nouser,
// owner, group, defaults, x-*, comment=*, and dev, suid, rw, which they add
// on their own), and the rest goes to FUSE as -o (ro, allow_other, ...).
// kInvalidArgument for a known option without its value or a stray argument.
StatusOr<std::vector<std::string>> MountHelperWords(const std::vector<std::string>& words);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_MOUNT_OPTIONS_H_
