#include "fs/core/sibling_readahead.h"

#include <fcntl.h>

#include <algorithm>
#include <iterator>
#include <utility>

#include "fs/core/listed_file.h"

namespace kmsfs::core {
namespace {

constexpr size_t kFirstWindow = 4;

// How many files ahead a run of `run` sequential opens reads (0: none yet).
size_t WindowOf(size_t run, size_t most) {
  if (run < 2) return 0;
  size_t window = kFirstWindow;
  for (size_t i = 2; i < run && window < most; ++i) window *= 2;
  return std::min(window, most);
}

}  // namespace

SiblingReadahead::SiblingReadahead(SiblingReadaheadOptions options, WorkQueue* queue)
    : SiblingReadahead(options, queue, &SiblingReadahead::OpenAndAdvise) {}

SiblingReadahead::SiblingReadahead(SiblingReadaheadOptions options, WorkQueue* queue, Fetch fetch)
    : options_(options), fetch_(std::move(fetch)) {
  if (options_.files_ahead > 0 && queue != nullptr) jobs_ = std::make_unique<WorkQueue::Scope>(queue);
}

SiblingReadahead::~SiblingReadahead() {
  std::deque<Item> dropped;
  std::map<std::string, Listing> listings;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    dropped.swap(queue_);
    listings.swap(listings_);
  }
  idle_.notify_all();
  // Drops a queued job, waits for a fetch under way.
  if (jobs_) jobs_->Close();
}

void SiblingReadahead::OpenAndAdvise(int dir_fd, const std::string& name, uint64_t bytes) {
  auto fd = OpenListedRegularFile(dir_fd, name);
  if (!fd.ok() || !fd->valid()) return;
  // Only a hint: the kernel queues the reads and returns.
  (void)posix_fadvise(fd->get(), 0, static_cast<off_t>(bytes), POSIX_FADV_WILLNEED);
}

std::map<std::string, SiblingReadahead::Listing>::iterator SiblingReadahead::EraseLocked(
    std::map<std::string, Listing>::iterator it) {
  names_held_ -= it->second.names.size();
  return listings_.erase(it);
}

void SiblingReadahead::MakeRoomLocked(size_t more) {
  while (!listings_.empty() && (listings_.size() >= kMaxDirectories || names_held_ + more > kMaxNames)) {
    auto oldest = listings_.begin();
    for (auto it = listings_.begin(); it != listings_.end(); ++it) {
      if (it->second.when < oldest->second.when) oldest = it;
    }
    EraseLocked(oldest);
  }
}

void SiblingReadahead::NoteListing(int dir_fd, const std::string& dir_key, std::vector<std::string> names) {
  if (!enabled() || names.empty() || names.size() > kMaxNames) return;
  UniqueFd dir = DupDirectoryFd(dir_fd);
  if (!dir.valid()) return;
  Listing listing;
  listing.dir = std::make_shared<UniqueFd>(std::move(dir));
  listing.names = std::move(names);
  listing.place.reserve(listing.names.size());
  for (size_t i = 0; i < listing.names.size(); ++i) listing.place.emplace(listing.names[i], i);
  listing.when = std::chrono::steady_clock::now();
  MutexLock lock(&mu_);
  if (stopping_) return;
  if (auto it = listings_.find(dir_key); it != listings_.end()) EraseLocked(it);
  MakeRoomLocked(listing.names.size());
  names_held_ += listing.names.size();
  listings_.emplace(dir_key, std::move(listing));
}

void SiblingReadahead::NoteOpen(const std::string& dir_key, const std::string& name) {
  if (!enabled()) return;
  size_t added = 0;
  {
    MutexLock lock(&mu_);
    auto it = listings_.find(dir_key);
    if (it == listings_.end()) return;
    Listing& l = it->second;
    if (std::chrono::steady_clock::now() - l.when > options_.lifetime) {
      EraseLocked(it);
      return;
    }
    auto found = l.place.find(name);
    if (found == l.place.end()) return;
    const size_t at = found->second;
    if (at + 1 == l.next_open) return;  // the same file again
    if (at == l.next_open) {
      ++l.run;
    } else {
      l.run = 1;
      l.asked_until = at + 1;
    }
    l.next_open = at + 1;
    const size_t until = std::min(l.names.size(), at + 1 + WindowOf(l.run, options_.files_ahead));
    for (size_t i = std::max(l.asked_until, at + 1); i < until; ++i) {
      if (queue_.size() >= options_.max_queued) {
        ++stats_.dropped;
        continue;
      }
      queue_.push_back(Item{l.dir, l.names[i]});
      ++stats_.asked;
      ++added;
    }
    l.asked_until = std::max(l.asked_until, until);
    if (added > 0 && !posted_) posted_ = jobs_->Post([this] { FetchOne(); });
  }
}

void SiblingReadahead::FetchOne() {
  Item item;
  {
    MutexLock lock(&mu_);
    if (stopping_ || queue_.empty()) {
      posted_ = false;
      idle_.notify_all();
      return;
    }
    item = std::move(queue_.front());
    queue_.pop_front();
  }
  fetch_(item.dir->get(), item.name, options_.bytes_per_file);
  item = Item{};  // lets go of the directory outside the lock
  MutexLock lock(&mu_);
  // One file per job, so the queue's other work takes turns with a long run.
  if (!stopping_ && !queue_.empty() && jobs_->Post([this] { FetchOne(); })) return;
  posted_ = false;
  idle_.notify_all();
}

void SiblingReadahead::ForgetStale() {
  MutexLock lock(&mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = listings_.begin(); it != listings_.end();) {
    it = now - it->second.when > options_.lifetime ? EraseLocked(it) : std::next(it);
  }
}

bool SiblingReadahead::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (!queue_.empty() || posted_) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(idle_, deadline);
  }
  return true;
}

SiblingReadaheadStats SiblingReadahead::stats() const {
  MutexLock lock(&mu_);
  SiblingReadaheadStats out = stats_;
  out.listings = listings_.size();
  return out;
}

}  // namespace kmsfs::core
