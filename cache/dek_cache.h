// DekCache: plaintext DEKs in locked memory for a short, bounded time.
//
// An entry lives at most `ttl` after its last use and the cache holds at most
// `max_entries` (least recently used goes first); ttl == 0 or max_entries == 0
// turns caching off (every Get loads). Handles returned by Get pin their entry:
// a pinned entry is never evicted, and its TTL starts when the last handle is
// dropped. Concurrent misses on one key make one loader call (single flight);
// the other callers wait for its result or its error. Errors are not cached.
// Evicted keys are wiped (SecretBytes) as soon as no handle holds them.
//
// Thread-safety: all methods are thread-safe; no lock is held while a loader runs.
#ifndef KMSFS_CACHE_DEK_CACHE_H_
#define KMSFS_CACHE_DEK_CACHE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cache/clock.h"
#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"

namespace kmsfs::cache {

struct DekCacheOptions {
  std::chrono::seconds ttl{300};  // Default: 300 s after last use; 0 = off
  size_t max_entries = 4096;      // Default: 4096; 0 = off
};

struct DekCacheStats {
  uint64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t loads = 0;
  uint64_t load_errors = 0;
};

class DekCache {
 public:
  // A pinned DEK. Copyable (copies share the pin); the key stays valid while any copy lives.
  class Handle {
   public:
    Handle() = default;
    const SecretBytes& key() const;
    bool valid() const { return pin_ != nullptr; }
    // implementation detail: shared pin state
    explicit Handle(std::shared_ptr<const void> pin, const SecretBytes* key) : pin_(std::move(pin)), key_(key) {}

   private:
    std::shared_ptr<const void> pin_;
    const SecretBytes* key_ = nullptr;
  };

  using Loader = std::function<StatusOr<SecretBytes>()>;

  explicit DekCache(DekCacheOptions options, Clock* clock = Clock::Real());
  ~DekCache();  // wipes every key
  DekCache(const DekCache&) = delete;
  DekCache& operator=(const DekCache&) = delete;

  // Returns the cached key for `id`, or runs `loader` once for all concurrent
  // callers missing on `id`, caches a success, and returns it.
  StatusOr<Handle> Get(const std::string& id, const Loader& loader);
  // Adds a key already in hand (a new file's DEK from the pool).
  Handle Insert(const std::string& id, SecretBytes key);
  void Erase(const std::string& id);
  // Drops every unpinned entry (e.g. on revocation or at exit).
  void Clear();
  // Evicts entries idle longer than ttl; Get/Insert also do this lazily.
  void EvictExpired();
  DekCacheStats stats() const;
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_DEK_CACHE_H_
