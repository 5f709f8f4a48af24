// kmsfs rewrap BACKING_DIR --to-key KEY_ID: re-wraps every file's DEK under
// another CMK without touching data.
//
// Crash safety: first .kmsfs.json records the rewrap (the volume key wrapped
// under the new key too, MAC-sealed), so a mount accepts headers naming either
// key. Then each file's header is replaced with one xattr write, so a file is
// always readable under its old or its new key (its header names which).
// .kmsfs.json moves to the new key only after every file has, and the user's
// pin follows; a rerun skips files already on the new key, so a killed run
// resumes. A version 1 volume becomes version 2 (plaintext names) on the way.
// An inline header is replaced by one 512-byte write at offset 0.

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
#include "fs/core/envelope.h"
#include "fs/core/file_rewrap.h"
#include "fs/core/open_file_table.h"
#include "fs/core/volume_access.h"
#include "fs/core/volume_check.h"
#include "crypto/random.h"

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
  format::VolumeConfig config = unlocked->config;
  SecretBytes volume_key = SecretBytes::CopyFrom(unlocked->volume_key.span());
  if (config.rewrap && !unlocked->rewrap_trusted) {
    // A target this user's pin does not name was recorded by someone who
    // can write the backing directory (or this user's pin was lost). Moving
    // every file to it would hand the volume to that key's owner: resuming
    // it takes the user's explicit word, never a hint from the config.
    const std::string& target = config.rewrap->to_key;
    if (new_key != target || args->Get("--accept-key").value_or("") != target) {
      return Fail(kExitFailure,
                  "rewrap refused: .kmsfs.json records an unfinished rewrap to a key this user's key pin does not "
                  "name (it was not started by this user here, or the pin was lost); if you did not start it, "
                  "restore .kmsfs.json from a backup; to resume a rewrap you started, give its target both as "
                  "--to-key and --accept-key");
    }
  } else if (config.rewrap && config.rewrap->to_key != new_key) {
    return Fail(kExitFailure, "a rewrap to key " + config.rewrap->to_key + " is unfinished: run 'kmsfs rewrap " + dir +
                                  " --to-key " + config.rewrap->to_key + "' first");
  }
  if (config.rewrap) {
    // The volume key wrapped for the target is what the volume adopts at the
    // end: it must be this volume's key, under the target, or a finished
    // rewrap would lose it.
    auto target_volume_key = envelope.UnwrapVolumeKey(config.rewrap->to_key, config.rewrap->wrapped_volume_key,
                                                      config.volume_id);
    if (!target_volume_key.ok() || !target_volume_key->Equals(volume_key)) {
      return Fail(kExitFailure, "rewrap refused: the volume key recorded for the rewrap target in .kmsfs.json is not "
                                "this volume's key under key " + config.rewrap->to_key +
                                "; restore .kmsfs.json from a backup");
    }
  }

  // Fail early, before any file changes, if the new key cannot be used.
  auto wrap_refused = [&](const std::string& key, const Status& s) {
    if (s.code() == StatusCode::kPermissionDenied) {
      return Fail(kExitFailure, "rewrap refused: " + envelope.DeniedMessage("encrypt-datakey", key, s));
    }
    return Fail(s, "cannot wrap with key " + key);
  };
  if (config.version < 2) {
    // The volume gets a volume key (and a version 2 config) on the way.
    config.version = 2;
    config.names = format::NameMode::kPlaintext;
    config.header = format::HeaderMode::kXattr;
    crypto::RandomBytes(config.volume_id);
    volume_key = core::Envelope::NewVolumeKey();
    auto old_wrapped = envelope.WrapVolumeKey(config.key_id, volume_key, config.volume_id);
    if (!old_wrapped.ok()) return wrap_refused(config.key_id, old_wrapped.status());
    config.wrapped_volume_key = *old_wrapped;
  }
  if (!config.rewrap) {
    auto new_wrapped = envelope.WrapVolumeKey(new_key, volume_key, config.volume_id);
    if (!new_wrapped.ok()) return wrap_refused(new_key, new_wrapped.status());
    config.rewrap = format::VolumeConfig::Rewrap{new_key, *new_wrapped};
    if (Status s = config.Seal(volume_key); !s.ok()) return Fail(s, "cannot seal the volume config");
    if (Status s = config.Store(dir); !s.ok()) return Fail(s, "cannot update " + dir + "/.kmsfs.json");
    // This user's pin names the target while the rewrap runs: their mounts
    // accept headers already moved to it (a target the pin does not name is
    // never trusted).
    core::Pin pin = core::PinOf(config);
    pin.rewrap_key = new_key;
    if (Status s = pins->Put(unlocked->backing_dir, pin); !s.ok()) return Fail(s, "cannot update the key pin");
  } else if (!unlocked->rewrap_trusted) {
    // Resuming a rewrap this user asked for again by naming its target.
    core::Pin pin = unlocked->pin;
    pin.rewrap_key = new_key;
    if (Status s = pins->Put(unlocked->backing_dir, pin); !s.ok()) return Fail(s, "cannot update the key pin");
  }

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
    failures.push_back(rel + ": " + why);
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
  format::VolumeConfig updated = config;
  updated.key_id = new_key;
  updated.wrapped_volume_key = config.rewrap->wrapped_volume_key;
  updated.rewrap.reset();
  if (Status s = updated.Seal(volume_key); !s.ok()) return Fail(s, "cannot seal the volume config");
  if (Status s = updated.Store(dir); !s.ok()) return Fail(s, "cannot update " + dir + "/.kmsfs.json");
  if (Status s = pins->Put(unlocked->backing_dir, core::PinOf(updated)); !s.ok()) {
    return Fail(s, "rewrapped, but cannot update the key pin (mount with --accept-key " + new_key + ")");
  }
  std::printf("rewrapped %zu files to key %s (%zu already on it); data untouched\n", rewrapped.load(),
              new_key.c_str(), skipped.load());
  return kExitOk;
}

}  // namespace kmsfs::cli
