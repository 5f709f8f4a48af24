// Hints: the mount's speculative work, behind the one seam the tree offers
// (TreeObserver): what a listing and the opens after it suggest will be
// read next.
//
//  - Key prefetch: the first open that misses the key cache in a directory
//    listed within kListingLifetime hands the listing's regular files to the
//    KeyPrefetcher, which loads their keys in the background, so reading a
//    listed directory's files waits for the KMS about once. A listing alone
//    (ls -l, find) costs no KMS call.
//  - Readahead: opens for reading that follow the listing's order read the
//    next files' first blocks ahead (SiblingReadahead).
//
// Both share one table of recent listings: per directory node, its regular
// files (backing names and inode numbers) in listing order, and an index from
// inode number to where that file was listed. Speculation never changes what
// a request answers: it only warms caches, and every failure is silent (the
// open that follows reports its own).
//
// Thread-safety: thread-safe; observer calls never block on I/O or the KMS.
#ifndef KMSFS_FS_CORE_HINTS_H_
#define KMSFS_FS_CORE_HINTS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "fs/core/key_prefetcher.h"
#include "fs/core/key_service.h"
#include "fs/core/sibling_readahead.h"
#include "fs/core/tree.h"

namespace kmsfs::core {

struct HintsOptions {
  KeyPrefetcherOptions prefetch;      // concurrency 0 turns key prefetch off
  SiblingReadaheadOptions readahead;  // files_ahead 0 turns readahead off
};

struct HintsStats {
  KeyPrefetchStats prefetch;
  SiblingReadaheadStats readahead;
  uint64_t listings = 0;
};

class Hints : public TreeObserver {
 public:
  static constexpr size_t kMaxListings = 256;
  static constexpr size_t kMaxListedFiles = 256 * 1024;
  static constexpr std::chrono::seconds kListingLifetime{30};

  // The speculative work runs as jobs on `queue`, which must outlive this.
  Hints(HintsOptions options, KeyService* keys, WorkQueue* queue);
  ~Hints() override;  // stops prefetching (waiting for its KMS calls) before the key service goes
  Hints(const Hints&) = delete;
  Hints& operator=(const Hints&) = delete;

  void OnListed(const Inode& dir, const std::vector<std::pair<std::string, ino_t>>& files) override;
  void OnOpen(const Inode& file, bool for_write) override;
  void OnKeyMiss(const Inode& file) override;
  void OnNamespaceChange(const Inode& dir) override;

  // Forgets stale listings (each holds its directory open); about once a second.
  void Tick();
  HintsStats stats() const;
  // Blocks until no prefetch is queued or running, or `timeout` has passed.
  bool WaitForPrefetchIdle(std::chrono::milliseconds timeout);

 private:
  struct Listing {
    UniqueFd dir;  // a copy of the directory's O_PATH descriptor
    std::vector<std::string> names;
    std::vector<std::pair<dev_t, ino_t>> files;  // in the order of names
    std::chrono::steady_clock::time_point when;
    bool prefetched = false;
  };
  using FileKey = std::pair<dev_t, ino_t>;
  // Where a file was listed: its directory's node and its place there.
  struct Place {
    NodeId dir;
    size_t index;
  };
  // The listing `file` is in, if fresh; under mu_.
  Listing* FindListingLocked(const Inode& file, std::string* name) KMSFS_REQUIRES(mu_);

  void ForgetLocked(std::map<NodeId, Listing>::iterator it) KMSFS_REQUIRES(mu_);
  void Warm(const format::FileHeader& header, KeyPrefetcher::WarmDone done);

  KeyService* const keys_;
  mutable Mutex mu_;
  std::map<NodeId, Listing> listings_ KMSFS_GUARDED_BY(mu_);
  std::map<FileKey, Place> places_ KMSFS_GUARDED_BY(mu_);
  size_t listed_files_ KMSFS_GUARDED_BY(mu_) = 0;
  SiblingReadahead readahead_;
  std::unique_ptr<KeyPrefetcher> prefetcher_;  // last: its jobs use the above
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_HINTS_H_
