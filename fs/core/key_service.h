// KeyService: the keys of a mounted volume's files. New files get a DEK from
// the pool of pre-wrapped keys; existing files' DEKs come from the cache, or
// from the KMS (decrypt-datakey) on a miss.
//
// Binding: a header is accepted only if it names one of the volume's keys
// (the CMK in .kmsfs.json, or one it lists while a rewrap runs) and the
// volume's cipher suite and block size. A header planted by a writer of the
// backing directory that names another CMK (even one the user may use) is
// refused before any KMS call, so nobody can make this mount encrypt under a
// key of their choosing.
//
// Cache identity: a cached DEK is found by a digest of the whole header
// (key id, wrapped DEK, file id, suite, block size), never by the file id
// alone, so a planted header that copies a file id finds nothing of the real
// file's and cannot slip its own DEK under it.
//
// KMS calls: an open waiting for its key calls at interactive priority (a
// synchronous call), as does a create that finds the pool empty; the pool
// refills at kRefill and prefetches load at kPrefetch, asynchronously, and an
// open that comes to wait for a key a prefetch is loading moves that call up.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_FS_CORE_KEY_SERVICE_H_
#define KMSFS_FS_CORE_KEY_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/dek_cache.h"
#include "cache/dek_pool.h"
#include "base/status.h"
#include "base/work_queue.h"
#include "fs/core/envelope.h"
#include "fs/format/block_codec.h"
#include "fs/format/file_header.h"
#include "kms/kms_client.h"

namespace kmsfs::core {

struct KeyServiceOptions {
  cache::DekCacheOptions cache;
  cache::DekPoolOptions pool;
  bool read_only = false;  // no pool: nothing is ever wrapped
};

struct KeyServiceStats {
  cache::DekCacheStats cache;
  cache::DekPoolStats pool;
  uint64_t kms_calls = 0;
  uint64_t kms_errors = 0;
  uint64_t kms_in_flight = 0;      // calls made and not yet answered, now
  uint64_t kms_in_flight_max = 0;  // the most at once since the service started
  uint64_t foreign_headers = 0;  // headers refused for naming another key or layout
};

// What a new file starts with: its header and its DEK, already cached.
struct NewFileKey {
  format::FileHeader header;
  cache::DekCache::Handle key;
};

class KeyService {
 public:
  // `key_id` is the key new files are wrapped under; `accepted_key_ids` (which
  // includes it) are the keys an existing file's header may name. The pool
  // refills through jobs on `queue`, which must outlive the service; without
  // one (read-only, fsck, tests) there is no pool and every create wraps directly.
  KeyService(std::string key_id, std::vector<std::string> accepted_key_ids, crypto::CipherSuite suite,
             uint32_t block_size, Envelope envelope, KeyServiceOptions options,
             WorkQueue* queue = nullptr);
  ~KeyService();  // stops the pool (waiting for its wraps) before the cache goes
  KeyService(const KeyService&) = delete;
  KeyService& operator=(const KeyService&) = delete;

  bool read_only() const { return options_.read_only; }
  const std::string& key_id() const { return key_id_; }

  // A DEK for a new file (kFailedPrecondition on a read-only volume).
  StatusOr<NewFileKey> NewFile();
  // kDataLoss (EIO) naming both keys when `header` is not this volume's.
  Status CheckBelongs(const format::FileHeader& header);
  // The DEK of an existing file: CheckBelongs, then the cache or the KMS.
  // KMS refusal -> kPermissionDenied; KMS unreachable -> kUnavailable.
  StatusOr<cache::DekCache::Handle> KeyFor(const format::FileHeader& header);
  // KeyFor without blocking, for a background load at `priority`: `done`
  // runs once with what KeyFor would return, on any thread, possibly before
  // this returns. A KeyFor that comes to wait for the same key meanwhile
  // shares the load and raises its priority. The service must outlive the
  // load.
  void LoadInBackground(const format::FileHeader& header, kms::Priority priority,
                        std::function<void(StatusOr<cache::DekCache::Handle>)> done);
  // Whether KeyFor would find the key cached (does not pin it).
  bool IsCached(const format::FileHeader& header);
  // The cache's identity of a header's DEK.
  static std::string CacheId(const format::FileHeader& header);

  // Evicts expired keys and replaces aged-out pooled ones; the mount calls it about once a second.
  void Tick();
  KeyServiceStats stats() const;

 private:
  void Wrap(const SecretBytes& dek, const format::FileId& file_id, cache::DekPool::WrapKind kind,
            cache::DekPool::WrapDone done);
  StatusOr<SecretBytes> Unwrap(const format::FileHeader& header);
  void CallStarted();
  void CallEnded(bool ok);
  // What KeyFor says when the cache could not load the key.
  Status KeyError(const Status& s, const format::FileHeader& header) const;

  const std::string key_id_;
  const std::vector<std::string> accepted_key_ids_;
  const crypto::CipherSuite suite_;
  const uint32_t block_size_;
  const Envelope envelope_;
  const KeyServiceOptions options_;
  std::atomic<uint64_t> kms_calls_{0};
  std::atomic<uint64_t> kms_errors_{0};
  std::atomic<uint64_t> kms_in_flight_{0};
  std::atomic<uint64_t> kms_in_flight_max_{0};
  std::atomic<uint64_t> foreign_headers_{0};
  cache::DekCache cache_;
  std::unique_ptr<cache::DekPool> pool_;  // null when read-only; declared last, reset first
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_KEY_SERVICE_H_
