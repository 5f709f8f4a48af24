// Unlocking a volume: everything a command must establish before it trusts a
// backing directory's .kmsfs.json and touches a file.
//
//  1. The config decodes (strictly), and names the key and volume this user
//     pinned for the directory (pins.h) — checked before any KMS call, so a
//     swapped config never makes the user's credentials act on the
//     attacker's key. No pin yet: trust on first use, and say so.
//  2. Envelope::CheckAccess: the volume key (version 2) or the canary
//     (version 1) unwraps: the user may decrypt under the key (a refusal is
//     kPermissionDenied naming the user, the key and the operation); version
//     2: the config's MAC verifies under the volume key, so none of its
//     fields (suite, block size, names, the rewrap target) was changed by
//     someone without the key; with probe_write, a test encrypt-datakey says
//     whether the user may write (new files need it), a refusal there is not
//     an error.
//  3. The pin is recorded.
//
// Thread-safety: free functions.
#ifndef KMSFS_FS_CORE_VOLUME_ACCESS_H_
#define KMSFS_FS_CORE_VOLUME_ACCESS_H_

#include <optional>
#include <string>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "fs/core/envelope.h"
#include "fs/core/pins.h"
#include "fs/format/volume_config.h"

namespace kmsfs::core {

struct UnlockOptions {
  // Ask the KMS whether new files may be wrapped (mount read-write).
  bool probe_write = false;
  // The user moved the volume to this key on purpose: replace the pin when
  // the config names it (and its MAC verifies).
  std::optional<std::string> accept_key;
};

struct UnlockedVolume {
  std::string backing_dir;  // absolute, no symlinks
  // The directory the config was read from (backing_root.h): everything
  // after the unlock goes through it, never through the path again.
  UniqueFd root_fd;
  format::VolumeConfig config;
  SecretBytes volume_key;   // version 2: 32 bytes; version 1: empty
  Pin pin;                  // as recorded now
  bool newly_pinned = false;
  // Whether the config's rewrap target is trusted: named by this user's pin
  // (a rewrap this user runs). Never on first use: the config's word is not
  // enough for a key.
  bool rewrap_trusted = false;
  // The keys whose file headers are the volume's own: its key, and a
  // trusted rewrap target.
  std::vector<std::string> AcceptedKeyIds() const;
  // What the user may do with the key (never kNone: that is an error).
  // kReadWrite only with probe_write.
  Access access = Access::kReadOnly;
  // With probe_write: whether encrypt-datakey was allowed, and if not, why.
  bool writable = false;
  Status write_refusal;
};

// Steps 1-4 above for the backing directory `backing_dir`. Errors: kNotFound
// (no .kmsfs.json), kDataLoss (a config that does not decode or fails its
// MAC), kFailedPrecondition (the pin disagrees; the message says how to
// accept a deliberate change), kPermissionDenied, kUnauthenticated,
// kUnavailable (the KMS).
StatusOr<UnlockedVolume> UnlockVolume(const std::string& backing_dir, const Envelope& envelope, const Pins& pins,
                                      const UnlockOptions& options);

// What a mount asked for: -o ro, -o rw, or neither.
enum class MountRequest { kEither, kReadOnly, kReadWrite };

struct MountAccess {
  bool read_only = false;
  // A mount that asked for neither is read-only because writing was refused: why.
  std::string downgraded_because;
};

// How a mount opens `unlocked` (unlocked with probe_write unless kReadOnly was
// asked): read-write when the user may wrap, read-only when asked or, if not
// asked either way, when wrapping was refused. kPermissionDenied when -o rw
// was asked and wrapping was refused.
StatusOr<MountAccess> ChooseMountAccess(const UnlockedVolume& unlocked, MountRequest request);

// The pin of `backing_dir` for commands that act on its key without reading
// files (grants): the recorded pin when it agrees with the config (an error
// as UnlockVolume's when not); without one, UnlockVolume establishes it.
StatusOr<Pin> TrustedPin(const std::string& backing_dir, const Envelope& envelope, const Pins& pins);

// The key pinned for `backing_dir`, or `fallback` when none is.
StatusOr<std::string> PinnedKeyOr(const std::string& backing_dir, const Pins& pins, const std::string& fallback);

// The pin a config asks for (its key, volume and project).
Pin PinOf(const format::VolumeConfig& config);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_ACCESS_H_
