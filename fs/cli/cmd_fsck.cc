// kmsfs fsck BACKING_DIR [--quick]: checks the config, every header (decodes,
// unwraps through the KMS) and, without --quick, every block's tag.
// Exit 0 clean, 1 problems found (each listed), 2 could not run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/file_walk.h"
#include "fs/cli/output.h"
#include "fs/core/pins.h"
#include "fs/core/volume_access.h"
#include "fs/core/volume_check.h"

namespace kmsfs::cli {

int FsckCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--threads"}, {"--quick"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 1) return Fail(kExitUsage, "usage: kmsfs fsck BACKING_DIR [--quick]");
  const std::string dir = args->positional()[0];
  const bool quick = args->Has("--quick");
  auto threads = args->GetInt("--threads", 4);
  if (!threads.ok()) return Fail(kExitUsage, threads.status().message());

  auto config = LoadBackingConfig(dir);
  if (!config.ok()) return Fail(kExitUsage, "fsck cannot run: " + config.status().message());
  auto kms_or = ConnectKms(*args, config->project_id);
  if (!kms_or.ok()) return Fail(kExitUsage, "fsck cannot run: " + kms_or.status().message());
  const core::Envelope envelope = core::Envelope::OverKms(*kms_or);
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, "fsck cannot run: " + pins.status().message());

  auto unlocked = core::UnlockVolume(dir, envelope, *pins, {});
  if (!unlocked.ok()) {
    const Status& s = unlocked.status();
    if (s.code() == StatusCode::kUnavailable) return Fail(kExitUsage, "fsck cannot run: " + s.message());
    // A config that fails its pin or MAC, or a key the user may not use,
    // is the problem to report; nothing below it can be trusted or read.
    std::printf("%s: %s\n", format::kConfigFileName, Printable(s.message()).c_str());
    std::printf("checked 0 files: 1 problem\n");
    return kExitFailure;
  }
  auto check = core::VolumeCheck::New(*unlocked, envelope, quick);
  if (!check.ok()) return Fail(kExitUsage, "fsck cannot run: " + check.status().message());
  if (Status s = (*check)->Walk(); !s.ok()) return Fail(kExitUsage, "fsck cannot run: " + s.message());
  const std::vector<core::FileToCheck>& files = (*check)->files();
  std::vector<std::string> labels;
  labels.reserve(files.size());
  for (size_t i = 0; i < files.size(); ++i) labels.push_back(std::to_string(i));
  RunParallel(labels, static_cast<int>(*threads), "checked",
              [&](const std::string& i) { (*check)->CheckFile(files[std::stoul(i)]); });

  if ((*check)->kms_unreachable()) return Fail(kExitUsage, "fsck could not finish: the KMS became unreachable");
  const std::vector<std::string> problems = (*check)->problems();
  for (const std::string& line : problems) std::printf("%s\n", Printable(line).c_str());
  std::printf("checked %zu files%s: %zu problem%s\n", files.size(), quick ? " (headers only)" : "", problems.size(),
              problems.size() == 1 ? "" : "s");
  return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace kmsfs::cli
