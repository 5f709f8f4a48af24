#include "fs/core/volume_access.h"

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>

#include "fs/core/backing_root.h"

namespace kmsfs::core {
namespace {

// The pin is the key new files are wrapped under. A rewrap target is not
// enough: a config whose own key is someone else's, naming the pinned key
// only as where a rewrap is going, would have new files wrapped under the
// other key. (kmsfs rewrap moves the pin only once key_id has moved.)
bool PinMatches(const Pin& pin, const format::VolumeConfig& config) {
  return pin.key_id == config.key_id && pin.volume_id == PinOf(config).volume_id &&
         pin.project_id == config.project_id;
}

std::string Describe(const Pin& pin) {
  std::string s = "key " + pin.key_id;
  if (!pin.volume_id.empty()) s += " (volume " + pin.volume_id + ")";
  return s;
}

}  // namespace

Pin PinOf(const format::VolumeConfig& config) {
  return {config.key_id, config.version >= 2 ? format::VolumeIdHex(config.volume_id) : "", config.project_id, ""};
}

StatusOr<UnlockedVolume> UnlockVolume(const std::string& backing_dir, const Envelope& envelope, const Pins& pins,
                                      const UnlockOptions& options) {
  UnlockedVolume out;
  KMSFS_ASSIGN_OR_RETURN(BackingRoot root, ResolveBackingRoot(backing_dir));
  out.backing_dir = std::move(root.path);
  out.root_fd = std::move(root.fd);
  KMSFS_ASSIGN_OR_RETURN(out.config, format::VolumeConfig::Load(out.root_fd.get()));
  const format::VolumeConfig& config = out.config;

  // 1. The pin, before the KMS is asked anything about this config.
  KMSFS_ASSIGN_OR_RETURN(std::optional<Pin> pinned, pins.Find(out.backing_dir));
  const Pin wanted = PinOf(config);
  bool repin = !pinned.has_value();
  if (pinned && !pinned->volume_id.empty() && config.version < 2) {
    // A version 1 config carries no MAC: anyone who can write the backing
    // directory can make one from a file's header. Never a step back.
    return Status::FailedPrecondition(
        out.backing_dir + " has a version 1 .kmsfs.json, but this user pinned version 2 " + Describe(*pinned) +
        " for it (" + pins.path() + "): a volume never goes back to version 1, so the file was replaced by "
        "someone else. Restore the volume's own .kmsfs.json from a backup");
  }
  if (pinned && !PinMatches(*pinned, config)) {
    // Only the config's own key: accepting a key it names as a rewrap target
    // would pin the other one.
    const bool accepted = options.accept_key && *options.accept_key == config.key_id;
    if (!accepted) {
      return Status::FailedPrecondition(
          out.backing_dir + " names " + Describe(wanted) + ", but this user pinned " + Describe(*pinned) +
          " for it (" + pins.path() + "): its .kmsfs.json may have been replaced by someone else. If the volume "
          "was moved to that key on purpose (kmsfs rewrap elsewhere), accept it with --accept-key " + config.key_id);
    }
    repin = true;
  }

  // 2. The user may decrypt under the key (and, asked, wrap); the config's MAC.
  KMSFS_ASSIGN_OR_RETURN(VolumeAccess access, envelope.CheckAccess(config, options.probe_write));
  if (access.access == Access::kNone) return access.refusal;
  out.volume_key = std::move(access.volume_key);
  out.access = access.access;
  out.writable = access.access == Access::kReadWrite;
  if (options.probe_write && !out.writable) out.write_refusal = access.refusal;

  // A rewrap target is the volume's only if this user's pin names it (a
  // rewrap this user runs). Anyone who can decrypt the volume key (a read
  // grant) can re-MAC a config naming a key of theirs as a rewrap target:
  // never on the config's word, not even on first use.
  Pin recorded = pinned && !repin ? *pinned : wanted;
  if (config.rewrap) {
    out.rewrap_trusted = pinned.has_value() && pinned->rewrap_key == config.rewrap->to_key;
    recorded.rewrap_key = out.rewrap_trusted ? config.rewrap->to_key : "";
  } else {
    recorded.rewrap_key.clear();
  }
  if (repin || (pinned && recorded != *pinned)) {
    KMSFS_RETURN_IF_ERROR(CheckBackingRootAt(out.backing_dir, out.root_fd.get()));
    KMSFS_RETURN_IF_ERROR(pins.Put(out.backing_dir, recorded));
    out.newly_pinned = !pinned.has_value();
  }
  out.pin = recorded;

  return out;
}

std::vector<std::string> UnlockedVolume::AcceptedKeyIds() const {
  std::vector<std::string> keys = {config.key_id};
  if (config.rewrap && rewrap_trusted && config.rewrap->to_key != config.key_id) keys.push_back(config.rewrap->to_key);
  return keys;
}

StatusOr<MountAccess> ChooseMountAccess(const UnlockedVolume& unlocked, MountRequest request) {
  MountAccess out;
  if (request == MountRequest::kReadOnly) {
    out.read_only = true;
    return out;
  }
  if (unlocked.writable) return out;
  if (request == MountRequest::kReadWrite) {
    return Status(StatusCode::kPermissionDenied, unlocked.write_refusal.message() +
                                                     ", so it cannot be mounted read-write; drop '-o rw' to mount "
                                                     "it read-only")
        .WithDetailOf(unlocked.write_refusal);
  }
  out.read_only = true;
  out.downgraded_because = unlocked.write_refusal.message();
  return out;
}

StatusOr<Pin> TrustedPin(const std::string& backing_dir, const Envelope& envelope, const Pins& pins) {
  char real[PATH_MAX];
  if (realpath(backing_dir.c_str(), real) == nullptr) {
    return Status::InvalidArgument("backing directory " + backing_dir + " does not exist");
  }
  KMSFS_ASSIGN_OR_RETURN(format::VolumeConfig config, format::VolumeConfig::Load(std::string(real)));
  KMSFS_ASSIGN_OR_RETURN(std::optional<Pin> pinned, pins.Find(real));
  if (pinned && PinMatches(*pinned, config)) return *pinned;
  // A mismatch is reported exactly as UnlockVolume reports it; no pin: unlock
  // (which verifies the config under the volume key) and pin.
  KMSFS_ASSIGN_OR_RETURN(UnlockedVolume unlocked, UnlockVolume(real, envelope, pins, {}));
  return unlocked.pin;
}

StatusOr<std::string> PinnedKeyOr(const std::string& backing_dir, const Pins& pins, const std::string& fallback) {
  char real[PATH_MAX];
  if (realpath(backing_dir.c_str(), real) == nullptr) {
    return Status::InvalidArgument("backing directory " + backing_dir + " does not exist");
  }
  KMSFS_ASSIGN_OR_RETURN(std::optional<Pin> pinned, pins.Find(real));
  return pinned ? pinned->key_id : fallback;
}

}  // namespace kmsfs::core
