#include "cache/dek_cache.h"

#include <condition_variable>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/mutex.h"

namespace kmsfs::cache {

// Links of the intrusive LRU list (no allocation when an entry is unpinned).
struct LruLinks {
  LruLinks* prev = nullptr;
  LruLinks* next = nullptr;
};

// One cached key. `id` and `key` never change; every other field is guarded
// by the owning Core's mu_ (the analysis cannot name a mutex of another object).
struct DekCache::Entry : LruLinks {
  Entry(std::string id_in, SecretBytes key_in) : id(std::move(id_in)), key(std::move(key_in)) {}

  const std::string id;
  const SecretBytes key;
  std::weak_ptr<Pin> pin;  // live while any Handle to this entry lives
  bool in_map = false;     // held by Core::entries_
  bool in_lru = false;     // on the LRU list: in the map and unpinned
  Clock::TimePoint last_use{};
};

// Shared by every copy of the Handles to one entry; its destruction (the last
// copy going) unpins the entry. Holds the entry, so the key outlives eviction
// and even the cache while a handle lives.
struct DekCache::Pin {
  Pin(std::shared_ptr<Entry> e, std::weak_ptr<Core> c) : entry(std::move(e)), core(std::move(c)) {}
  ~Pin();
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;

  const std::shared_ptr<Entry> entry;
  const std::weak_ptr<Core> core;
};

// All state, shared with the pins so a handle dropped after the cache is gone
// finds no cache instead of a dangling one.
//
// Invariants (under mu_): an entry is on the LRU list iff it is in entries_,
// its pin has expired and Unpin has run; the list runs from most to least
// recently unpinned, so with one TTL for all it is also ordered by expiry.
// Never drop a Handle while holding mu_: its Pin's destructor takes mu_.
class DekCache::Core : public std::enable_shared_from_this<Core> {
 public:
  Core(DekCacheOptions options, Clock* clock) : options_(options), clock_(clock) {
    lru_.prev = lru_.next = &lru_;
  }
  ~Core() { DropAll(); }

  StatusOr<Handle> Get(const std::string& id, const Loader& loader) KMSFS_EXCLUDES(mu_);
  void GetAsync(const std::string& id, const AsyncLoader& loader, GetDone done) KMSFS_EXCLUDES(mu_);
  bool Contains(const std::string& id) KMSFS_EXCLUDES(mu_);
  Handle Insert(const std::string& id, SecretBytes key) KMSFS_EXCLUDES(mu_);
  void Erase(const std::string& id) KMSFS_EXCLUDES(mu_);
  void Clear() KMSFS_EXCLUDES(mu_);
  void EvictExpired() KMSFS_EXCLUDES(mu_);
  DekCacheStats stats() const KMSFS_EXCLUDES(mu_);
  // Called when the last handle of `entry` is gone: starts its TTL.
  void Unpin(Entry* entry) KMSFS_EXCLUDES(mu_);
  void DropAll() KMSFS_EXCLUDES(mu_);

 private:
  // One load in progress; waiters block on `cv` (with mu_) until `done`, or
  // wait in `async_waiters`.
  struct Flight {
    std::condition_variable cv;
    bool done = false;
    bool cache_result = true;  // cleared by Erase/Clear/Insert during the load
    Status status;             // the loader's error, when it failed
    std::shared_ptr<Entry> entry;
    std::vector<GetDone> async_waiters;
    std::function<void()> hurry;  // from an async loader; called once a Get blocks on it
    size_t blocked = 0;           // Gets waiting on `cv`
    size_t joined = 0;            // GetAsyncs waiting in `async_waiters` for another caller's load
    bool hurried = false;
  };

  // Ends `flight` with `loaded`: caches it, wakes the blocked Gets and calls
  // the async waiters (outside the lock). Returns a pinned handle for the
  // caller that ran the load.
  StatusOr<Handle> FinishLoad(const std::string& id, const std::shared_ptr<Flight>& flight,
                              StatusOr<SecretBytes> loaded) KMSFS_EXCLUDES(mu_);

  bool enabled() const { return options_.ttl.count() > 0 && options_.max_entries > 0; }
  Handle PinLocked(const std::shared_ptr<Entry>& entry) KMSFS_REQUIRES(mu_);
  void AddLocked(const std::shared_ptr<Entry>& entry) KMSFS_REQUIRES(mu_);
  // Takes the entry off the map and the LRU list; it is freed (and wiped)
  // now, or when its last handle goes.
  void RemoveLocked(Entry* entry) KMSFS_REQUIRES(mu_);
  void EvictExpiredLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);
  void EnforceCapacityLocked() KMSFS_REQUIRES(mu_);
  void CancelFlightLocked(const std::string& id) KMSFS_REQUIRES(mu_);
  void LruPushFront(Entry* entry) KMSFS_REQUIRES(mu_);
  void LruUnlink(Entry* entry) KMSFS_REQUIRES(mu_);
  Entry* LruBack() KMSFS_REQUIRES(mu_) {
    return lru_.prev == &lru_ ? nullptr : static_cast<Entry*>(lru_.prev);
  }

  const DekCacheOptions options_;
  Clock* const clock_;
  mutable Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_ KMSFS_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_ KMSFS_GUARDED_BY(mu_);
  LruLinks lru_ KMSFS_GUARDED_BY(mu_);  // sentinel: next = most recent, prev = least recent
  DekCacheStats stats_ KMSFS_GUARDED_BY(mu_);
};

namespace {

StatusOr<SecretBytes> RunLoader(const DekCache::Loader& loader) {
  if (!loader) return Status::Internal("DEK cache: no loader given");
  // A throwing loader must not leave its waiters blocked forever.
  try {
    return loader();
  } catch (...) {
    return Status::Internal("DEK cache: loader threw an exception");
  }
}

}  // namespace

DekCache::Pin::~Pin() {
  if (std::shared_ptr<Core> c = core.lock()) c->Unpin(entry.get());
}

void DekCache::Core::LruPushFront(Entry* e) {
  e->prev = &lru_;
  e->next = lru_.next;
  lru_.next->prev = e;
  lru_.next = e;
  e->in_lru = true;
}

void DekCache::Core::LruUnlink(Entry* e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->prev = e->next = nullptr;
  e->in_lru = false;
}

DekCache::Handle DekCache::Core::PinLocked(const std::shared_ptr<Entry>& e) {
  std::shared_ptr<Pin> pin = e->pin.lock();
  if (pin == nullptr) {
    pin = std::make_shared<Pin>(e, weak_from_this());
    e->pin = pin;
    if (e->in_lru) LruUnlink(e.get());
  }
  return MakeHandle(std::move(pin), &e->key);
}

void DekCache::Core::AddLocked(const std::shared_ptr<Entry>& e) {
  auto [it, inserted] = entries_.try_emplace(e->id, e);
  if (!inserted) {
    Entry* old = it->second.get();
    old->in_map = false;
    if (old->in_lru) LruUnlink(old);
    it->second = e;  // the old key is wiped here or when its handles go
  }
  e->in_map = true;
}

void DekCache::Core::RemoveLocked(Entry* e) {
  if (e->in_lru) LruUnlink(e);
  e->in_map = false;
  // Look up first: the key string belongs to the entry being erased.
  auto it = entries_.find(e->id);
  if (it != entries_.end() && it->second.get() == e) entries_.erase(it);
}

void DekCache::Core::EvictExpiredLocked(Clock::TimePoint now) {
  for (Entry* e = LruBack(); e != nullptr && e->last_use + options_.ttl <= now; e = LruBack()) {
    ++stats_.evictions;
    RemoveLocked(e);
  }
}

void DekCache::Core::EnforceCapacityLocked() {
  for (Entry* e = LruBack(); e != nullptr && entries_.size() > options_.max_entries; e = LruBack()) {
    ++stats_.evictions;
    RemoveLocked(e);
  }
}

void DekCache::Core::CancelFlightLocked(const std::string& id) {
  auto f = flights_.find(id);
  if (f == flights_.end()) return;
  // Its callers still get its result; later Gets start a fresh load.
  f->second->cache_result = false;
  flights_.erase(f);
}

StatusOr<DekCache::Handle> DekCache::Core::Get(const std::string& id, const Loader& loader) {
  std::shared_ptr<Flight> flight;
  {
    MutexLock lock(&mu_);
    EvictExpiredLocked(clock_->Now());
    if (auto it = entries_.find(id); it != entries_.end()) {
      ++stats_.hits;
      return PinLocked(it->second);
    }
    ++stats_.misses;
    if (auto f = flights_.find(id); f != flights_.end()) {
      std::shared_ptr<Flight> leader = f->second;
      ++stats_.coalesced;
      ++stats_.waiting;
      ++leader->blocked;
      // A background load now has somebody waiting for it.
      if (leader->hurry && !leader->hurried) {
        leader->hurried = true;
        std::function<void()> hurry = leader->hurry;
        lock.Unlock();
        hurry();
        lock.Lock();
      }
      while (!leader->done) lock.Wait(leader->cv);
      --leader->blocked;
      --stats_.waiting;
      if (!leader->status.ok()) return leader->status;
      Handle handle = PinLocked(leader->entry);
      // The last blocked caller lets go of the flight's hold on the key.
      if (leader->blocked == 0) leader->entry.reset();
      return handle;
    }
    flight = std::make_shared<Flight>();
    flight->cache_result = enabled();
    flights_.emplace(id, flight);
  }
  return FinishLoad(id, flight, RunLoader(loader));
}

void DekCache::Core::GetAsync(const std::string& id, const AsyncLoader& loader, GetDone done) {
  std::shared_ptr<Flight> flight;
  {
    MutexLock lock(&mu_);
    EvictExpiredLocked(clock_->Now());
    if (auto it = entries_.find(id); it != entries_.end()) {
      ++stats_.hits;
      Handle handle = PinLocked(it->second);
      lock.Unlock();
      done(std::move(handle));
      return;
    }
    ++stats_.misses;
    if (auto f = flights_.find(id); f != flights_.end()) {
      ++stats_.coalesced;
      ++stats_.waiting;
      ++f->second->joined;
      f->second->async_waiters.push_back(std::move(done));
      return;
    }
    flight = std::make_shared<Flight>();
    flight->cache_result = enabled();
    flight->async_waiters.push_back(std::move(done));
    flights_.emplace(id, flight);
  }
  // The core outlives the cache while a load it started runs.
  LoadDone finish = [self = shared_from_this(), id, flight](StatusOr<SecretBytes> loaded) {
    (void)self->FinishLoad(id, flight, std::move(loaded));
  };
  std::function<void()> hurry;
  if (!loader) {
    finish(Status::Internal("DEK cache: no loader given"));
  } else {
    try {
      hurry = loader(std::move(finish));
    } catch (...) {
      // The loader may have kept `finish`: end the flight only if it has not.
      (void)FinishLoad(id, flight, Status::Internal("DEK cache: loader threw an exception"));
    }
  }
  if (!hurry) return;
  MutexLock lock(&mu_);
  if (flight->done) return;
  flight->hurry = std::move(hurry);
  if (flight->blocked == 0 || flight->hurried) return;
  // A Get came to wait before the loader had returned its hurry.
  flight->hurried = true;
  std::function<void()> now = flight->hurry;
  lock.Unlock();
  now();
}

StatusOr<DekCache::Handle> DekCache::Core::FinishLoad(const std::string& id, const std::shared_ptr<Flight>& flight,
                                                      StatusOr<SecretBytes> loaded) {
  std::vector<GetDone> waiters;
  std::vector<Handle> handles;  // one per async waiter; dropped outside the lock
  StatusOr<Handle> result = Status::Internal("DEK cache: load not finished");
  std::function<void()> hurry;  // dropped outside the lock
  {
    MutexLock lock(&mu_);
    if (flight->done) return Status::Internal("DEK cache: a load finished twice");
    ++stats_.loads;
    if (auto f = flights_.find(id); f != flights_.end() && f->second == flight) flights_.erase(f);
    flight->done = true;
    hurry = std::move(flight->hurry);
    waiters.swap(flight->async_waiters);
    stats_.waiting -= flight->joined;
    flight->joined = 0;
    if (!loaded.ok()) {
      ++stats_.load_errors;
      flight->status = loaded.status();
      result = flight->status;
    } else {
      auto entry = std::make_shared<Entry>(id, std::move(loaded).value());
      result = PinLocked(entry);
      for (size_t i = 0; i < waiters.size(); ++i) handles.push_back(PinLocked(entry));
      if (flight->cache_result) {
        AddLocked(entry);
        EvictExpiredLocked(clock_->Now());
        EnforceCapacityLocked();
      }
      // Blocked callers pin it once they wake; nobody else needs the flight
      // to keep the key (a loader may keep its flight alive for long).
      if (flight->blocked > 0) flight->entry = std::move(entry);
    }
    flight->cv.notify_all();
  }
  for (size_t i = 0; i < waiters.size(); ++i) {
    if (!result.ok()) {
      waiters[i](result.status());
    } else {
      waiters[i](std::move(handles[i]));
    }
  }
  return result;
}

bool DekCache::Core::Contains(const std::string& id) {
  MutexLock lock(&mu_);
  EvictExpiredLocked(clock_->Now());
  return entries_.count(id) > 0;
}

DekCache::Handle DekCache::Core::Insert(const std::string& id, SecretBytes key) {
  auto entry = std::make_shared<Entry>(id, std::move(key));
  MutexLock lock(&mu_);
  EvictExpiredLocked(clock_->Now());
  CancelFlightLocked(id);
  Handle handle = PinLocked(entry);
  if (enabled()) {
    AddLocked(entry);
    EnforceCapacityLocked();
  }
  return handle;
}

void DekCache::Core::Erase(const std::string& id) {
  MutexLock lock(&mu_);
  CancelFlightLocked(id);
  if (auto it = entries_.find(id); it != entries_.end()) RemoveLocked(it->second.get());
}

void DekCache::Core::Clear() {
  MutexLock lock(&mu_);
  for (auto& [id, flight] : flights_) flight->cache_result = false;
  flights_.clear();
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry* e = it->second.get();
    if (!e->pin.expired()) {
      ++it;
      continue;
    }
    if (e->in_lru) LruUnlink(e);
    e->in_map = false;
    it = entries_.erase(it);
  }
}

void DekCache::Core::EvictExpired() {
  MutexLock lock(&mu_);
  EvictExpiredLocked(clock_->Now());
}

DekCacheStats DekCache::Core::stats() const {
  MutexLock lock(&mu_);
  DekCacheStats out = stats_;
  out.entries = entries_.size();
  return out;
}

void DekCache::Core::Unpin(Entry* e) {
  MutexLock lock(&mu_);
  // Erased meanwhile, or pinned again by a Get that ran before we got the lock.
  if (!e->in_map || !e->pin.expired()) return;
  const Clock::TimePoint now = clock_->Now();
  e->last_use = now;
  if (e->in_lru) LruUnlink(e);
  LruPushFront(e);
  EvictExpiredLocked(now);
  EnforceCapacityLocked();
}

void DekCache::Core::DropAll() {
  MutexLock lock(&mu_);
  for (auto& [id, flight] : flights_) flight->cache_result = false;
  flights_.clear();
  for (auto& [id, entry] : entries_) {
    if (entry->in_lru) LruUnlink(entry.get());
    entry->in_map = false;
  }
  entries_.clear();
}

const SecretBytes& DekCache::Handle::EmptyKey() {
  static const SecretBytes empty;
  return empty;
}

DekCache::Handle DekCache::MakeHandle(std::shared_ptr<const Pin> pin, const SecretBytes* key) {
  return Handle(std::move(pin), key);
}

DekCache::DekCache(DekCacheOptions options, Clock* clock)
    : core_(std::make_shared<Core>(options, clock)) {}

DekCache::~DekCache() { core_->DropAll(); }

StatusOr<DekCache::Handle> DekCache::Get(const std::string& id, const Loader& loader) {
  return core_->Get(id, loader);
}

void DekCache::GetAsync(const std::string& id, const AsyncLoader& loader, GetDone done) {
  core_->GetAsync(id, loader, std::move(done));
}

bool DekCache::Contains(const std::string& id) { return core_->Contains(id); }

DekCache::Handle DekCache::Insert(const std::string& id, SecretBytes key) {
  return core_->Insert(id, std::move(key));
}

void DekCache::Erase(const std::string& id) { core_->Erase(id); }
void DekCache::Clear() { core_->Clear(); }
void DekCache::EvictExpired() { core_->EvictExpired(); }
DekCacheStats DekCache::stats() const { return core_->stats(); }

}  // namespace kmsfs::cache
