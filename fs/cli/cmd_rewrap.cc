// kmsfs rewrap BACKING_DIR --to-key KEY_ID: re-wraps every file's DEK under
// another CMK without touching data. The steps and their crash safety are
// core's (volume_rewrap.h, file_rewrap.h); this runs them over the volume's
// files in parallel and reports.

#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>

#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/file_walk.h"
#include "fs/cli/output.h"
#include "fs/core/envelope.h"
#include "fs/core/file_rewrap.h"
#include "fs/core/open_file_table.h"
#include "fs/core/volume_access.h"
#include "fs/core/volume_check.h"
#include "fs/core/volume_rewrap.h"

namespace kmsfs::cli {

int RewrapCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--to-key", "--threads", "--accept-key"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 1 || !args->Has("--to-key")) {
    return Fail(kExitUsage, "usage: kmsfs rewrap BACKING_DIR --to-key KEY_ID");
  }
  const std::string dir = args->positional()[0];
  const std::string new_key = *args->Get("--to-key");
  auto threads = args->GetInt("--threads", 16);
  if (!threads.ok()) return Fail(kExitUsage, threads.status().message());
  auto config_or = LoadBackingConfig(dir);
  if (!config_or.ok()) return Fail(kExitUsage, config_or.status().message());
  // A mounted volume's files may be open with their old headers cached.
  if (IsMountedBacking(dir)) return Fail(kExitUsage, dir + " is mounted: unmount it before rewrapping");
  auto kms_or = ConnectKms(*args, config_or->project_id);
  if (!kms_or.ok()) return Fail(kms_or.status(), "KMS connection");
  const core::Envelope envelope = core::Envelope::OverKms(*kms_or);
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, pins.status().message());
  auto unlocked = core::UnlockVolume(dir, envelope, *pins, {});
  if (!unlocked.ok()) return Fail(unlocked.status(), "rewrap refused");
  auto started = core::BeginVolumeRewrap(*unlocked, envelope, *pins, {new_key, args->Get("--accept-key")});
  if (!started.ok()) {
    const StatusCode code = started.status().code();
    const bool refused = code == StatusCode::kPermissionDenied || code == StatusCode::kFailedPrecondition ||
                         code == StatusCode::kDataLoss;
    return Fail(started.status(), refused ? "rewrap refused" : "rewrap");
  }
  const format::VolumeConfig& config = started->config;

  // The volume's regular files, found as fsck finds them (by descriptor,
  // the volume's own files left out).
  auto walker = core::VolumeCheck::New(*unlocked, envelope, true);
  if (!walker.ok()) return Fail(kExitUsage, walker.status().message());
  if (Status s = (*walker)->Walk(); !s.ok()) return Fail(kExitUsage, s.message());
  const std::vector<core::FileToCheck>& files = (*walker)->files();
  std::vector<std::string> labels;
  for (size_t i = 0; i < files.size(); ++i) labels.push_back(std::to_string(i));

  std::atomic<size_t> rewrapped{0}, skipped{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& rel, const std::string& why) {
    std::lock_guard<std::mutex> lock(failures_mu);
    failures.push_back(Printable(rel + ": " + why));
  };
  RunParallel(labels, static_cast<int>(*threads), "rewrapped", [&](const std::string& label) {
    const core::FileToCheck& file = files[std::stoul(label)];
    auto outcome = core::RewrapFile(file, config, new_key, envelope);
    if (!outcome.ok()) return fail(file.path, outcome.status().message());
    if (*outcome == core::RewrapOutcome::kAlreadyOnTarget) {
      skipped.fetch_add(1);
      return;
    }
    rewrapped.fetch_add(1);
  });

  for (const std::string& f : failures) std::fprintf(stderr, "kmsfs: rewrap: %s\n", f.c_str());
  if (!failures.empty()) {
    return Fail(kExitFailure, std::to_string(failures.size()) + " file(s) could not be rewrapped; " +
                                  ".kmsfs.json still names " + config.key_id + "; fix them and run rewrap again");
  }
  // Every file is on the new key: now the volume follows, and the pin.
  auto finished = core::FinishVolumeRewrap(*unlocked, *started, *pins);
  if (!finished.ok()) return Fail(finished.status(), "rewrap");
  std::printf("rewrapped %zu files to key %s (%zu already on it); data untouched\n", rewrapped.load(),
              new_key.c_str(), skipped.load());
  return kExitOk;
}

}  // namespace kmsfs::cli
