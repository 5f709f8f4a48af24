// DekCache: plaintext DEKs in locked memory for a short, bounded time.
//
// Lifetime of an entry:
//  - Get() and Insert() return a Handle that pins the entry. A pinned entry
//    never expires and is never evicted for capacity; a cache whose entries
//    are all pinned may hold more than `max_entries` until handles go.
//  - When the last copy of a Handle is dropped the entry is unpinned and its
//    TTL starts: it is evicted `ttl` after that moment unless a Get hits it
//    first (a hit pins it again, so each use restarts the TTL).
//  - At most `max_entries` entries are kept; beyond that the least recently
//    used unpinned entry is evicted (LRU order = order of last unpin).
//  - ttl == 0 or max_entries == 0 turns caching off: every Get calls the
//    loader and nothing is kept, but handles still keep their key alive.
//
// Loading: concurrent misses on one id make one loader call (single flight);
// the other callers block until it returns and get the same key, or the same
// error. Errors are not cached: the next Get calls the loader again. The
// loader runs with no lock held, so it may take as long as a KMS round trip.
// GetAsync loads without blocking (a prefetch): its loader only starts the
// load, which calls back when done, and it shares the single flight with Gets
// both ways. A Get that comes to wait for such a load asks it to hurry (the
// loader's hurry function, e.g. moving a KMS call up its queue), once.
// An Erase(id), Clear() or Insert(id) during a load means its result is
// handed to the callers already waiting for it but is not cached, and later
// Gets start a fresh load.
//
// Expiry is lazy (every call first evicts what has expired) plus
// EvictExpired() for a periodic sweeper; both cost O(expired entries), not
// O(entries), because unpinned entries sit on a list ordered by last use.
//
// Wiping: keys are SecretBytes (locked memory, zeroed before release). An
// evicted, erased or cleared key is wiped as soon as no handle holds it; the
// destructor drops every entry, so all keys not held by a handle are wiped
// then, and handles that outlive the cache keep their key until they go.
//
// Stats: entries (now cached), hits, misses (every Get that did not find a
// cached key, including callers that waited on another caller's load),
// coalesced (misses served by another caller's load), waiting (callers
// waiting for another caller's load right now: blocked Gets and GetAsyncs
// not yet called back), evictions (removals for TTL or capacity, not
// Erase/Clear), loads (loader calls), load_errors.
//
// Thread-safety: all methods are thread-safe; no lock is held while a loader
// runs. Handles are values: distinct copies may be used and dropped from any
// thread; key() is a pointer dereference.
#ifndef KMSFS_CACHE_DEK_CACHE_H_
#define KMSFS_CACHE_DEK_CACHE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::cache {

struct DekCacheOptions {
  std::chrono::seconds ttl{300};  // Default: 300 s after last use; 0 = off
  size_t max_entries = 16384;     // Default: 16384; 0 = off
};

struct DekCacheStats {
  uint64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;
  uint64_t loads = 0;
  uint64_t load_errors = 0;
  uint64_t coalesced = 0;  // misses that waited for another caller's load
  uint64_t waiting = 0;    // callers waiting for another caller's load right now (blocked or called back)
};

class DekCache {
 public:
  // A pinned DEK. Copyable (copies share the pin; a copy is one atomic
  // increment); the key stays valid while any copy lives, even after the
  // cache is gone. A default-constructed Handle is invalid and its key() is empty.
  class Handle {
   public:
    Handle() = default;
    const SecretBytes& key() const { return key_ != nullptr ? *key_ : EmptyKey(); }
    bool valid() const { return pin_ != nullptr; }

   private:
    friend class DekCache;
    Handle(std::shared_ptr<const void> pin, const SecretBytes* key) : pin_(std::move(pin)), key_(key) {}
    static const SecretBytes& EmptyKey();

    std::shared_ptr<const void> pin_;  // shared pin: the entry is unpinned when the last copy goes
    const SecretBytes* key_ = nullptr;  // owned by the pinned entry
  };

  using Loader = std::function<StatusOr<SecretBytes>()>;
  using LoadDone = std::function<void(StatusOr<SecretBytes>)>;
  // Starts a load that calls `finish` exactly once (on any thread, possibly
  // before returning); returns a function that asks the load to hurry, or null.
  using AsyncLoader = std::function<std::function<void()>(LoadDone finish)>;
  using GetDone = std::function<void(StatusOr<Handle>)>;

  explicit DekCache(DekCacheOptions options, Clock* clock = Clock::Real());
  ~DekCache();  // wipes every key no handle holds
  DekCache(const DekCache&) = delete;
  DekCache& operator=(const DekCache&) = delete;

  // Returns the cached key for `id`, or runs `loader` once for all concurrent
  // callers missing on `id`, caches a success, and returns it.
  StatusOr<Handle> Get(const std::string& id, const Loader& loader);
  // Like Get, without blocking: `done` gets what Get would return, once: at
  // once on a hit, otherwise on the thread the load finishes on. No lock is
  // held while `done` runs.
  void GetAsync(const std::string& id, const AsyncLoader& loader, GetDone done);
  // True when a Get of `id` would hit now (expired entries are evicted
  // first). Does not pin the entry, count a hit or restart its TTL, so a
  // caller that only asks (a prefetch) does not keep a key alive.
  bool Contains(const std::string& id);
  // Adds a key already in hand (a new file's DEK from the pool), replacing
  // any entry for `id` (whose handles keep the old key). An in-flight load of
  // `id` still answers its callers but is not cached.
  Handle Insert(const std::string& id, SecretBytes key);
  // Removes `id` even if pinned: its handles keep the key, later Gets load again.
  void Erase(const std::string& id);
  // Drops every unpinned entry (e.g. on revocation or at exit).
  void Clear();
  // Evicts entries idle longer than ttl; Get/Insert also do this lazily.
  // Cost O(expired entries): cheap enough to call every second.
  void EvictExpired();
  DekCacheStats stats() const;

 private:
  class Core;
  struct Entry;
  struct Pin;

  static Handle MakeHandle(std::shared_ptr<const Pin> pin, const SecretBytes* key);

  std::shared_ptr<Core> core_;  // shared with pins, which may outlive the cache
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_DEK_CACHE_H_
