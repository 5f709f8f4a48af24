#include "fs/core/volume_rewrap.h"

#include "crypto/random.h"
#include "fs/core/backing_root.h"

namespace kmsfs::core {
namespace {

// The checks on a rewrap .kmsfs.json already records, before it is resumed.
Status CheckRecordedTarget(const UnlockedVolume& unlocked, const Envelope& envelope, const RewrapRequest& request) {
  const format::VolumeConfig& config = unlocked.config;
  const std::string& target = config.rewrap->to_key;
  if (!unlocked.rewrap_trusted) {
    if (request.to_key != target || request.accept_key.value_or("") != target) {
      return Status::FailedPrecondition(
          ".kmsfs.json records an unfinished rewrap to a key this user's key pin does not name (it was not "
          "started by this user here, or the pin was lost); if you did not start it, restore .kmsfs.json from a "
          "backup; to resume a rewrap you started, give its target both as --to-key and --accept-key");
    }
  } else if (target != request.to_key) {
    return Status::FailedPrecondition("a rewrap to key " + target + " is unfinished: run 'kmsfs rewrap " +
                                      unlocked.backing_dir + " --to-key " + target + "' first");
  }
  auto target_volume_key = envelope.UnwrapVolumeKey(target, config.rewrap->wrapped_volume_key, config.volume_id);
  if (!target_volume_key.ok()) {
    // A KMS that is down, or says no to a target this user's pin names: the
    // user's to fix, with the KMS's code. A refusal under a target nobody
    // vouches for is not a reason to seek access to that key (its owner may
    // be who planted it): the config is what is wrong.
    const StatusCode code = target_volume_key.status().code();
    const bool refused = code == StatusCode::kPermissionDenied || code == StatusCode::kUnauthenticated;
    if (code == StatusCode::kUnavailable || (refused && unlocked.rewrap_trusted)) {
      return target_volume_key.status().Annotate("cannot check the rewrap target's volume key under key " + target);
    }
  }
  if (!target_volume_key.ok() || !target_volume_key->Equals(unlocked.volume_key)) {
    return Status::DataLoss("the volume key recorded for the rewrap target in .kmsfs.json is not this volume's key "
                            "under key " + target + "; restore .kmsfs.json from a backup");
  }
  return Status::Ok();
}

// Pins are keyed by path: written only while the path leads to the volume.
Status PutPin(const UnlockedVolume& unlocked, const Pins& pins, const Pin& pin) {
  KMSFS_RETURN_IF_ERROR(CheckBackingRootAt(unlocked.backing_dir, unlocked.root_fd.get()));
  return pins.Put(unlocked.backing_dir, pin).Annotate("cannot update the key pin");
}

}  // namespace

StatusOr<StartedRewrap> BeginVolumeRewrap(const UnlockedVolume& unlocked, const Envelope& envelope,
                                          const Pins& pins, const RewrapRequest& request) {
  StartedRewrap started{unlocked.config, SecretBytes::CopyFrom(unlocked.volume_key.span())};
  format::VolumeConfig& config = started.config;
  if (config.rewrap) {
    KMSFS_RETURN_IF_ERROR(CheckRecordedTarget(unlocked, envelope, request));
    if (!unlocked.rewrap_trusted) {
      // Resuming on the user's word: their mounts accept the target from now on.
      Pin pin = unlocked.pin;
      pin.rewrap_key = request.to_key;
      KMSFS_RETURN_IF_ERROR(PutPin(unlocked, pins, pin));
    }
    return started;
  }
  if (config.version < 2) {
    config.version = 2;
    config.names = format::NameMode::kPlaintext;
    config.header = format::HeaderMode::kXattr;
    crypto::RandomBytes(config.volume_id);
    started.volume_key = Envelope::NewVolumeKey();
    auto wrapped = envelope.WrapVolumeKey(config.key_id, started.volume_key, config.volume_id);
    if (!wrapped.ok()) return envelope.Failure("encrypt-datakey", config.key_id, wrapped.status());
    config.wrapped_volume_key = *wrapped;
  }
  // Before any file changes: the target must take a wrap from this user.
  auto wrapped = envelope.WrapVolumeKey(request.to_key, started.volume_key, config.volume_id);
  if (!wrapped.ok()) return envelope.Failure("encrypt-datakey", request.to_key, wrapped.status());
  config.rewrap = format::VolumeConfig::Rewrap{request.to_key, *wrapped};
  KMSFS_RETURN_IF_ERROR(config.Seal(started.volume_key).Annotate("cannot seal the volume config"));
  KMSFS_RETURN_IF_ERROR(config.Store(unlocked.root_fd.get()).Annotate("cannot update .kmsfs.json"));
  // The pin names the target while the rewrap runs: this user's mounts
  // accept headers already moved to it.
  Pin pin = PinOf(config);
  pin.rewrap_key = request.to_key;
  KMSFS_RETURN_IF_ERROR(PutPin(unlocked, pins, pin));
  return started;
}

StatusOr<format::VolumeConfig> FinishVolumeRewrap(const UnlockedVolume& unlocked, const StartedRewrap& started,
                                                  const Pins& pins) {
  if (!started.config.rewrap) return Status::FailedPrecondition("no rewrap is recorded: nothing to finish");
  format::VolumeConfig updated = started.config;
  updated.key_id = started.config.rewrap->to_key;
  updated.wrapped_volume_key = started.config.rewrap->wrapped_volume_key;
  updated.rewrap.reset();
  KMSFS_RETURN_IF_ERROR(updated.Seal(started.volume_key).Annotate("cannot seal the volume config"));
  KMSFS_RETURN_IF_ERROR(updated.Store(unlocked.root_fd.get()).Annotate("cannot update .kmsfs.json"));
  KMSFS_RETURN_IF_ERROR(PutPin(unlocked, pins, PinOf(updated))
                            .Annotate("rewrapped, but cannot update the key pin (mount with --accept-key " +
                                      updated.key_id + ")"));
  return updated;
}

}  // namespace kmsfs::core
