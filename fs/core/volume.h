// Volume: one mounted backing directory. Owns the backing root fd, the KMS
// client, the DEK cache and pool, and the table of open CryptFiles (one per
// backing inode). FUSE-free: fs/fuse translates requests into these calls.
//
// Key flow: a new file takes a pre-wrapped DEK from the pool and stores the
// wrapped key in its header before the file gets its name; opening a file
// reads its header and asks the cache for the DEK, which calls
// decrypt-datakey only on a miss. Headers this mount has seen are kept
// (HeaderCache), so reopening an unchanged file for reading reads no xattr. A directory listed through the mount is
// remembered (NoteListing); the first open in it that misses the cache warms
// the cache for the rest of its files in the background (PrefetchKeys), so
// reading a directory's files waits for the KMS about once. A listing alone
// (ls -l, find) costs no KMS call.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_FS_CORE_VOLUME_H_
#define KMSFS_FS_CORE_VOLUME_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/dek_cache.h"
#include "cache/dek_pool.h"
#include "fs/base/status.h"
#include "fs/base/unique_fd.h"
#include "fs/core/crypt_file.h"
#include "fs/core/deferred_unlinks.h"
#include "fs/core/header_cache.h"
#include "fs/core/key_prefetcher.h"
#include "fs/core/ready_files.h"
#include "fs/core/sibling_readahead.h"
#include "fs/format/file_header.h"
#include "fs/format/volume_config.h"
#include "kms/kms_client.h"

namespace kmsfs::core {

inline constexpr size_t kDekSize = 64;

// {"kmsfs_file_id": hex(file_id)}
kms::EncryptionContext FileContext(const format::FileId& file_id);

// Reads and decodes the `user.kmsfs` header of an open backing file; a
// missing or undecodable header is kDataLoss.
StatusOr<format::FileHeader> ReadFileHeader(int fd);
// Replaces (or with `create_only`, adds) the header of an open backing file.
// One xattr write, so readers see the old or the new header, never a mix.
Status WriteFileHeader(int fd, const format::FileHeader& header, bool create_only);

struct VolumeOptions {
  cache::DekCacheOptions cache;
  cache::DekPoolOptions pool;
  bool read_only = false;
  // KMS calls in flight at most for prefetching the keys of listed
  // directories. Default: 16; 0 = no prefetching. Also off while the cache
  // is (ttl or max_entries 0), as nothing would keep what was fetched.
  size_t prefetch_concurrency = 16;
  // Default: 0 = all prefetch_concurrency calls in flight while keys wait.
  // Otherwise as many as load a key per interval at the KMS's latency.
  std::chrono::microseconds prefetch_interval{0};
  // Reading ahead the next files of a listed directory read in order.
  SiblingReadaheadOptions readahead;
  // Unlinks answered before the backing file is removed (Volume::Unlink).
  DeferredUnlinksOptions unlinks;
  // New files' backing inodes made ahead where files are being created.
  ReadyFilesOptions ready_files;
};

struct VolumeStats {
  cache::DekCacheStats cache;
  cache::DekPoolStats pool;
  uint64_t kms_calls = 0;
  uint64_t kms_errors = 0;
  uint64_t open_files = 0;
  KeyPrefetchStats prefetch;
  SiblingReadaheadStats readahead;
  HeaderCache::Stats headers;
  DeferredUnlinksStats unlinks;
  ReadyFilesStats ready_files;
};

class Volume {
 public:
  static StatusOr<std::unique_ptr<Volume>> Open(const std::string& backing_dir,
                                                format::VolumeConfig config,
                                                std::shared_ptr<kms::Client> kms,
                                                VolumeOptions options);
  ~Volume();
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  int root_fd() const { return root_fd_.get(); }
  const std::string& backing_dir() const { return backing_dir_; }
  const format::VolumeConfig& config() const { return config_; }
  bool read_only() const { return options_.read_only; }

  // Creates a regular file at `rel_path` (relative to the root) with its
  // header already in place, owned by uid:gid when they are not -1.
  // Fails with EEXIST if `exclusive` and the name exists.
  StatusOr<std::shared_ptr<CryptFile>> CreateFile(const std::string& rel_path, mode_t mode,
                                                  uid_t uid, gid_t gid, bool exclusive);
  // Opens the regular file at `rel_path`; header missing/corrupt -> kDataLoss,
  // KMS refusal -> kPermissionDenied, KMS down -> kUnavailable. `for_write`:
  // the caller will write, so a backing file that cannot be written fails here.
  StatusOr<std::shared_ptr<CryptFile>> OpenFile(const std::string& rel_path, bool for_write);
  // Plaintext size of a regular backing file from its size alone (no key):
  // format::VisiblePlainSize, which never fails (a file cut inside a block
  // shows that block as one byte, and reading it gives EIO).
  // Every file of a volume has the suite and block size of .kmsfs.json (open
  // checks the header agrees), so stat never needs to read a header.
  StatusOr<uint64_t> PlainSizeOf(uint64_t backing_size) const;

  // Warms the DEK cache, in the background, for the regular files among
  // `names` (entries of the directory open as `dir_fd`, which is dup'd; the
  // caller keeps its fd). `dir_for_logs` names the directory in log lines.
  // Never blocks on the KMS and never fails: a file whose key cannot be
  // fetched fails later, at its open, as it would have anyway.
  void PrefetchKeys(int dir_fd, std::vector<std::string> names, std::string dir_for_logs = "");
  // Remembers that `dir_rel` (relative to the root; "." for the root), open
  // as `dir_fd` (dup'd), was listed with these regular files, in this order.
  // An open in it that misses the key cache within kListingLifetime hands
  // them to PrefetchKeys, once; opens for reading that follow the order read
  // the next files ahead (SiblingReadahead). At most kMaxListings directories are remembered.
  void NoteListing(int dir_fd, const std::string& dir_rel, std::vector<std::string> names);
  static constexpr size_t kMaxListings = 256;
  static constexpr std::chrono::seconds kListingLifetime{30};
  // Blocks until no prefetch is queued or running, or `timeout` has passed;
  // returns whether prefetching is idle. For tests and benchmarks.
  bool WaitForPrefetchIdle(std::chrono::milliseconds timeout);

  // After writes through a handle of `file`: records its header as current
  // for the backing file's new times, if the xattr still holds it, so the
  // next read-only open needs no xattr read.
  void RememberHeader(const CryptFile& file);
  // Before a rename replaces a name in the backing tree: forgets the
  // remembered header of the inode it names (Unlink does so itself).
  void ForgetHeaderOf(const std::string& rel_path);

  // Removes the name `rel_path` of a non-directory. When nothing is seen that
  // would make the backing unlinkat fail, it is left to a worker and this
  // returns at once (DeferredUnlinks); SettleUnlinks must then come before
  // anything that looks at names. ENOENT, EISDIR and the like come back here.
  Status Unlink(const std::string& rel_path);
  // Returns once every unlink answered so far is done in the backing tree.
  void SettleUnlinks() { unlinks_.Settle(); }
  // A directory was renamed or removed: files made ahead for a path are not
  // used for what the path may name now.
  void ForgetReadyFiles() {
    if (ready_) ready_->Forget();
  }

  // Evicts expired keys and forgets stale listings; the mount calls it about once a second.
  void Tick();
  VolumeStats stats() const;

 private:
  Volume(std::string backing_dir, UniqueFd root_fd, format::VolumeConfig config, format::Geometry geometry,
         std::shared_ptr<kms::Client> kms, VolumeOptions options);
  StatusOr<std::shared_ptr<CryptFile>> Adopt(UniqueFd fd, const std::string& rel_path, bool for_write);
  // The header of a new file of this volume wrapping `pooled`.
  format::FileHeader NewHeader(const cache::PooledDek& pooled) const;
  // ReadyFiles' make function: a nameless file with its header in `dir_rel`.
  StatusOr<ReadyFiles::File> MakeReadyFile(const std::string& dir_rel, mode_t mode,
                                           std::optional<cache::PooledDek> dek);
  // A file just linked in by CreateFile: its key cached, its header remembered.
  // `codec`, if not null, was built from pooled.dek ahead of time.
  StatusOr<std::shared_ptr<CryptFile>> AdoptCreated(UniqueFd fd, cache::PooledDek pooled,
                                                    std::unique_ptr<format::BlockCodec> codec);
  // `codec`, if not null, was built from the key already; otherwise it is built here.
  StatusOr<std::shared_ptr<CryptFile>> MakeCryptFile(UniqueFd fd, format::FileHeader header,
                                                     cache::DekCache::Handle key,
                                                     std::unique_ptr<format::BlockCodec> codec = nullptr);
  StatusOr<std::string> WrapDek(const SecretBytes& dek, const format::FileId& file_id);
  StatusOr<SecretBytes> UnwrapDek(const format::FileHeader& header);
  // The prefetcher's warm function: caches the key of a header of this volume.
  StatusOr<KeyPrefetcher::Outcome> WarmKey(const format::FileHeader& header);
  // Hands the remembered listing of `dir_rel`, if any and still fresh, to the prefetcher.
  void PrefetchListingOf(const std::string& dir_rel);

  const std::string backing_dir_;
  const UniqueFd root_fd_;
  const format::VolumeConfig config_;
  const format::Geometry default_geometry_;
  const std::shared_ptr<kms::Client> kms_;
  const VolumeOptions options_;
  std::atomic<uint64_t> kms_calls_{0};
  std::atomic<uint64_t> kms_errors_{0};
  cache::DekCache cache_;
  std::unique_ptr<cache::DekPool> pool_;  // null on read-only volumes
  // Takes DEKs from pool_: reset before it in ~Volume. Null when pool_ is.
  std::unique_ptr<ReadyFiles> ready_;
  // Uses cache_ and kms_: declared after them, and reset first in ~Volume.
  std::unique_ptr<KeyPrefetcher> prefetcher_;

  // Directories listed whose keys nobody has asked for yet, by path relative to the root.
  struct Listing {
    UniqueFd dir;
    std::vector<std::string> names;
    std::chrono::steady_clock::time_point when;
  };
  std::mutex listings_mu_;
  std::map<std::string, Listing> listings_;  // guarded by listings_mu_

  HeaderCache headers_;
  SiblingReadahead readahead_;

  // Open files by backing (dev, ino). Entries are weak: a CryptFile lives as
  // long as some handle holds it. `header_read`: its header came from the
  // xattr, not from headers_ (a writer re-checks one that did not).
  // Lock order: open_mu_ before CryptFile locks.
  struct OpenEntry {
    std::weak_ptr<CryptFile> file;
    bool header_read = false;
  };
  mutable std::mutex open_mu_;
  std::map<std::pair<dev_t, ino_t>, OpenEntry> open_files_;

  // Uses root_fd_: declared after it, so it settles and stops first.
  DeferredUnlinks unlinks_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_VOLUME_H_
