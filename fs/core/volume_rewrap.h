// The volume's side of `kmsfs rewrap` (moving a volume to another CMK); the
// per-file step is RewrapFile (file_rewrap.h).
//
// Crash safety: BeginVolumeRewrap records the rewrap in .kmsfs.json (the
// volume key wrapped under the target too, MAC-sealed) and in this user's
// pin, so mounts accept headers naming either key. Files then move one
// header write at a time. FinishVolumeRewrap moves .kmsfs.json and the pin to
// the target only after every file has; a rerun resumes (files already on the
// target are skipped). A version 1 volume becomes version 2 (plaintext names,
// a volume key) on the way.
//
// A target that .kmsfs.json records and this user's pin does not name was
// written by someone who can write the backing directory (anyone able to
// decrypt the volume key can re-MAC the config): it is never suggested, and
// resuming it takes the user's explicit word (accept_key equal to the target).
// Its wrapped volume key must unwrap to this volume's key, or finishing
// would lose the volume key. Every write goes through the directory the
// config was read from (UnlockedVolume::root_fd), and a pin is written only
// while the path still leads there.
//
// Thread-safety: free functions; one rewrap per volume at a time.
#ifndef KMSFS_FS_CORE_VOLUME_REWRAP_H_
#define KMSFS_FS_CORE_VOLUME_REWRAP_H_

#include <optional>
#include <string>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "fs/core/envelope.h"
#include "fs/core/pins.h"
#include "fs/core/volume_access.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

struct RewrapRequest {
  std::string to_key;
  // The user's word that an untrusted recorded target is theirs to resume.
  std::optional<std::string> accept_key;
};

struct StartedRewrap {
  format::VolumeConfig config;  // as stored: names the old key and records the target
  SecretBytes volume_key;
};

// Records the rewrap of `unlocked` to `request.to_key` (or checks and resumes
// one already recorded). Errors, before anything is written:
// kFailedPrecondition (an unfinished rewrap to another key, or an untrusted
// one not accepted), kDataLoss (the recorded target's volume key is not this
// volume's), kPermissionDenied (the KMS refused to wrap under a key; the
// message names who, what and which key), and I/O errors.
StatusOr<StartedRewrap> BeginVolumeRewrap(const UnlockedVolume& unlocked, const Envelope& envelope,
                                          const Pins& pins, const RewrapRequest& request);

// Every file is on the target: .kmsfs.json and the pin move to it. The
// returned config is the stored one.
StatusOr<format::VolumeConfig> FinishVolumeRewrap(const UnlockedVolume& unlocked, const StartedRewrap& started,
                                                  const Pins& pins);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_REWRAP_H_
