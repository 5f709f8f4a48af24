#include "fs/core/hints.h"

#include <fcntl.h>
#include <unistd.h>

namespace kmsfs::core {

Hints::Hints(HintsOptions options, KeyService* keys, WorkQueue* queue)
    : keys_(keys), readahead_(options.readahead, queue) {
  prefetcher_ = std::make_unique<KeyPrefetcher>(
      options.prefetch, queue,
      [this](const format::FileHeader& header, KeyPrefetcher::WarmDone done) { Warm(header, std::move(done)); });
}

Hints::~Hints() { prefetcher_.reset(); }

void Hints::Warm(const format::FileHeader& header, KeyPrefetcher::WarmDone done) {
  // Files of another key or layout fail their open anyway.
  if (!keys_->CheckBelongs(header).ok()) {
    done(KeyPrefetcher::Outcome::kSkipped);
    return;
  }
  // Asking does not restart a cached key's TTL: a listing keeps no key alive.
  if (keys_->IsCached(header)) {
    done(KeyPrefetcher::Outcome::kAlreadyCached);
    return;
  }
  // The same cache entry and single flight as an open's, so an open racing
  // with this shares the one decrypt-datakey call (and moves it up the KMS
  // queue). Dropping the handle unpins the entry: its TTL starts now.
  keys_->LoadInBackground(header, kms::Priority::kPrefetch,
                          [done = std::move(done)](StatusOr<cache::DekCache::Handle> key) {
                            if (!key.ok()) {
                              done(key.status());
                              return;
                            }
                            done(KeyPrefetcher::Outcome::kLoaded);
                          });
}

void Hints::ForgetLocked(std::map<NodeId, Listing>::iterator it) {
  listed_files_ -= it->second.names.size();
  for (const FileKey& key : it->second.files) {
    auto place = places_.find(key);
    if (place != places_.end() && place->second.dir == it->first) places_.erase(place);
  }
  listings_.erase(it);
}

void Hints::OnListed(const Inode& dir, const std::vector<std::pair<std::string, ino_t>>& files) {
  if ((!prefetcher_->enabled() && !readahead_.enabled()) || files.empty() || files.size() > kMaxListedFiles) return;
  const int fd = fcntl(dir.fd(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return;
  Listing listing{UniqueFd(fd), {}, {}, std::chrono::steady_clock::now(), false};
  listing.names.reserve(files.size());
  listing.files.reserve(files.size());
  for (const auto& [name, ino] : files) {
    listing.names.push_back(name);
    listing.files.emplace_back(dir.dev(), ino);
  }
  if (readahead_.enabled()) readahead_.NoteListing(dir.fd(), std::to_string(dir.id()), listing.names);
  MutexLock lock(&mu_);
  if (auto old = listings_.find(dir.id()); old != listings_.end()) ForgetLocked(old);
  while (!listings_.empty() && (listings_.size() >= kMaxListings || listed_files_ + files.size() > kMaxListedFiles)) {
    auto oldest = listings_.begin();
    for (auto it = listings_.begin(); it != listings_.end(); ++it) {
      if (it->second.when < oldest->second.when) oldest = it;
    }
    ForgetLocked(oldest);
  }
  for (size_t i = 0; i < listing.files.size(); ++i) places_[listing.files[i]] = Place{dir.id(), i};
  listed_files_ += files.size();
  listings_.emplace(dir.id(), std::move(listing));
}

Hints::Listing* Hints::FindListingLocked(const Inode& file, std::string* name) {
  auto place = places_.find({file.dev(), file.ino()});
  if (place == places_.end()) return nullptr;
  auto it = listings_.find(place->second.dir);
  if (it == listings_.end() || place->second.index >= it->second.names.size()) return nullptr;
  if (std::chrono::steady_clock::now() - it->second.when > kListingLifetime) return nullptr;
  *name = it->second.names[place->second.index];
  return &it->second;
}

void Hints::OnOpen(const Inode& file, bool for_write) {
  if (for_write || !readahead_.enabled()) return;
  std::string name;
  NodeId dir = 0;
  {
    MutexLock lock(&mu_);
    if (FindListingLocked(file, &name) == nullptr) return;
    dir = places_.at({file.dev(), file.ino()}).dir;
  }
  readahead_.NoteOpen(std::to_string(dir), name);
}

void Hints::OnKeyMiss(const Inode& file) {
  if (!prefetcher_->enabled()) return;
  UniqueFd dir_fd;
  std::vector<std::string> names;
  std::string dir_key;
  {
    MutexLock lock(&mu_);
    std::string name;
    Listing* listing = FindListingLocked(file, &name);
    // A listing is prefetched once: its keys are then cached (or failing).
    if (listing == nullptr || listing->prefetched) return;
    listing->prefetched = true;
    const int fd = fcntl(listing->dir.get(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return;
    dir_fd = UniqueFd(fd);
    names = listing->names;
    dir_key = std::to_string(places_.at({file.dev(), file.ino()}).dir);
  }
  // The other files' keys will likely be wanted next: fetch them while this one loads.
  prefetcher_->Prefetch(std::move(dir_fd), std::move(names), dir_key);
}

void Hints::OnNamespaceChange(const Inode&) {
  // Listings are hints: a name that changed fails its speculative open
  // quietly, and the directory's next listing replaces the old one.
}

void Hints::Tick() {
  readahead_.ForgetStale();
  const auto now = std::chrono::steady_clock::now();
  MutexLock lock(&mu_);
  for (auto it = listings_.begin(); it != listings_.end();) {
    auto next = std::next(it);
    if (now - it->second.when > kListingLifetime) ForgetLocked(it);
    it = next;
  }
}

HintsStats Hints::stats() const {
  HintsStats s;
  s.prefetch = prefetcher_->stats();
  s.readahead = readahead_.stats();
  MutexLock lock(&mu_);
  s.listings = listings_.size();
  return s;
}

bool Hints::WaitForPrefetchIdle(std::chrono::milliseconds timeout) { return prefetcher_->WaitIdle(timeout); }

}  // namespace kmsfs::core
