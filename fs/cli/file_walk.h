// Walks every regular backing file of a volume and runs a job on each in
// parallel, with a progress display (a redrawn bar on a terminal, a plain
// line every few seconds otherwise). Used by fsck and rewrap.
#ifndef KMSFS_FS_CLI_FILE_WALK_H_
#define KMSFS_FS_CLI_FILE_WALK_H_

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace kmsfs::cli {

// Relative paths ("a/b.txt") of every regular file under `backing_dir`,
// except the volume's own config. Sorted, so runs are reproducible.
StatusOr<std::vector<std::string>> ListBackingFiles(const std::string& backing_dir);

// Runs `job(rel_path)` for every path on `threads` threads. `verb` names the
// work in progress lines ("checked", "rewrapped").
void RunParallel(const std::vector<std::string>& paths, int threads, const std::string& verb,
                 const std::function<void(const std::string&)>& job);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_FILE_WALK_H_
