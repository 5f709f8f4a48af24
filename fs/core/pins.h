// Pins: which key (and volume) each backing directory this user has set up
// or mounted uses, recorded on the user's side, so a writer of the backing
// directory cannot swap .kmsfs.json for one of their own (a key they granted
// the victim, whose files they could then read) and be believed.
//
// A pin is written by `kmsfs init`, on the first mount of a directory with no
// pin (trust on first use, said on stderr), and by `kmsfs rewrap` when it
// moves the volume to another key; `kmsfs mount --accept-key KEY` replaces it
// on purpose. Everything else compares against it and refuses a mismatch.
//
// Where: $KMSFS_PINS_FILE, else $XDG_CONFIG_HOME/kmsfs/pins.json, else
// $HOME/.config/kmsfs/pins.json; mode 0600, written atomically under a lock.
// The file is the user's own: one not owned by the user, or writable by
// others, is refused.
//
// Thread-safety: one Pins object per process; the file lock serialises
// concurrent kmsfs processes.
#ifndef KMSFS_FS_CORE_PINS_H_
#define KMSFS_FS_CORE_PINS_H_

#include <optional>
#include <string>

#include "base/status.h"

namespace kmsfs::core {

struct Pin {
  std::string key_id;
  std::string volume_id;   // hex; empty for version 1 volumes
  std::string project_id;
  // The key a `kmsfs rewrap` run by this user is moving the volume to, while
  // it runs: headers under it are the volume's own. A rewrap target that a
  // .kmsfs.json names and the pin does not is not trusted (anyone able to
  // decrypt the volume key could have written it there).
  std::string rewrap_key;
  bool operator==(const Pin&) const = default;
};

class Pins {
 public:
  // The pins file of this process's user (see above); kFailedPrecondition
  // when no location can be found.
  static StatusOr<Pins> ForCurrentUser();
  explicit Pins(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // The pin of `backing_dir` (an absolute path without symlinks), if any.
  StatusOr<std::optional<Pin>> Find(const std::string& backing_dir) const;
  // Records `pin` for `backing_dir`, replacing any earlier one.
  Status Put(const std::string& backing_dir, const Pin& pin) const;

 private:
  std::string path_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_PINS_H_
