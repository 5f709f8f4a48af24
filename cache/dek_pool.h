// DekPool: new files' DEKs, generated and wrapped by the KMS ahead of time, so
// creating a file does not wait for a KMS round trip (the idea of Hadoop KMS's
// EDEK cache).
//
// Each entry is (file id, DEK, wrapped DEK); the wrap binds the file id (the
// wrap function puts it in the encryption context), so an entry is used for
// exactly one file. Background workers keep `target` entries ready, backing off
// exponentially (with jitter) while the wrap function fails. Take() never
// blocks while the pool has entries and wraps directly in the caller's thread
// when it is empty. Entries older than max_age are discarded, so a revoked
// grant stops new files within max_age too. Keys are wiped on shutdown.
//
// Thread-safety: all methods are thread-safe.
#ifndef KMSFS_CACHE_DEK_POOL_H_
#define KMSFS_CACHE_DEK_POOL_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cache/clock.h"
#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"

namespace kmsfs::cache {

struct PooledDek {
  std::array<uint8_t, 16> file_id{};
  SecretBytes dek;
  std::string wrapped_dek;  // KMS cipher_text, as returned
};

struct DekPoolOptions {
  size_t target = 32;                               // Default: 32 entries kept ready; 0 = no pool
  size_t refill_concurrency = 4;                    // Default: 4 wrap calls in flight while refilling
  size_t dek_size = 64;                             // Default: 64-byte DEKs
  std::chrono::seconds max_age{300};                // Default: 300 s; 0 = no limit
  std::chrono::milliseconds min_backoff{50};        // Default: 50 ms after the first failure
  std::chrono::milliseconds max_backoff{5000};      // Default: capped at 5 s
};

struct DekPoolStats {
  uint64_t ready = 0;      // entries in the pool now
  uint64_t taken = 0;      // Take() served from the pool
  uint64_t direct = 0;     // Take() that had to wrap in the caller's thread
  uint64_t wrap_errors = 0;
};

class DekPool {
 public:
  // Wraps `dek` for the file `file_id`; returns the KMS cipher_text.
  using WrapFn =
      std::function<StatusOr<std::string>(const SecretBytes& dek, const std::array<uint8_t, 16>& file_id)>;

  // Starts the background workers (none when options.target == 0).
  DekPool(DekPoolOptions options, WrapFn wrap, Clock* clock = Clock::Real());
  ~DekPool();  // stops the workers, wipes the entries
  DekPool(const DekPool&) = delete;
  DekPool& operator=(const DekPool&) = delete;

  StatusOr<PooledDek> Take();
  // Discards every ready entry (wiping them), e.g. when access may have changed.
  void Drain();
  DekPoolStats stats() const;
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_DEK_POOL_H_
