// Volume: one mounted backing directory, as the parts a request goes
// through: the Tree (namespace over the InodeTable, names through the
// NameMapper), the OpenFileTable (one CryptFile per open inode), the
// KeyService (cache, pool, KMS) and the Hints (speculative work, heard
// through the tree's observer seam), and the WorkQueue their background jobs
// run on. It only builds, owns and ticks them (a job on its own queue, about
// once a second); requests go to the parts themselves.
//
// Thread-safety: thread-safe (each part is).
#ifndef KMSFS_FS_CORE_VOLUME_H_
#define KMSFS_FS_CORE_VOLUME_H_

#include <chrono>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/work_queue.h"
#include "fs/core/hints.h"
#include "fs/core/inode_table.h"
#include "fs/core/key_service.h"
#include "fs/core/name_mapper.h"
#include "fs/core/open_file_table.h"
#include "fs/core/tree.h"
#include "fs/core/volume_access.h"
#include "fs/format/volume_config.h"
#include "fs/core/envelope.h"

namespace kmsfs::core {

struct VolumeOptions {
  KeyServiceOptions keys;
  HintsOptions hints;
  TreeOptions tree;
  WorkQueueOptions work;                            // the threads of every background job
  std::chrono::milliseconds tick_interval{1000};    // Default: Tick() once a second; 0 = never by itself
  std::string log_file;  // where the daemon logs ("": syslog), for the status
};

class Volume {
 public:
  // `unlocked` comes from UnlockVolume: the config is trusted, the volume
  // key in hand.
  static StatusOr<std::unique_ptr<Volume>> Open(UnlockedVolume unlocked, Envelope envelope,
                                                VolumeOptions options);
  ~Volume();
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  Tree& tree() { return *tree_; }
  KeyService& keys() { return *keys_; }
  Hints& hints() { return *hints_; }
  OpenFileTable& files() { return *files_; }
  const InodeTable& inodes() const { return *inodes_; }
  WorkQueue& work() { return *work_; }
  const format::VolumeConfig& config() const { return unlocked_.config; }
  const std::string& backing_dir() const { return unlocked_.backing_dir; }
  bool read_only() const { return keys_->read_only(); }

  // Evicts expired keys, replaces aged-out pooled ones, forgets stale
  // listings and closed files. Runs by itself every tick_interval.
  void Tick();
  // The mount's counters as JSON (the root's user.kmsfs.status xattr).
  std::string StatusJson() const;

 private:
  explicit Volume(UnlockedVolume unlocked) : unlocked_(std::move(unlocked)) {}
  // Runs Tick, then itself again after `interval`.
  void TickAndRepeat(std::chrono::milliseconds interval);

  const UnlockedVolume unlocked_;  // the volume key stays in locked memory for the mount's life
  // Declared in the order they are built; destroyed in reverse (~Volume also
  // stops the tick and the hints first, as their jobs use the key service).
  // The queue goes last: every part's jobs run on it.
  std::unique_ptr<WorkQueue> work_;
  std::unique_ptr<InodeTable> inodes_;
  std::unique_ptr<KeyService> keys_;
  std::unique_ptr<OpenFileTable> files_;
  std::unique_ptr<NameMapper> names_;
  std::unique_ptr<Tree> tree_;
  std::unique_ptr<Hints> hints_;
  std::string log_file_;
  std::unique_ptr<WorkQueue::Scope> ticks_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_H_
