#include "fs/core/header_cache.h"

namespace kmsfs::core {

bool HeaderCache::Stamp::operator==(const Stamp& o) const {
  return ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec && size == o.size;
}

HeaderCache::Stamp HeaderCache::StampOf(const struct stat& st) { return {st.st_ctim, st.st_mtim, st.st_size}; }

std::optional<format::FileHeader> HeaderCache::Find(const struct stat& st) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({st.st_dev, st.st_ino});
  if (it == entries_.end()) return std::nullopt;
  if (!(it->second.stamp == StampOf(st))) {
    uses_.erase(it->second.use);
    entries_.erase(it);
    return std::nullopt;
  }
  uses_.splice(uses_.begin(), uses_, it->second.use);
  ++hits_;
  return it->second.header;
}

bool HeaderCache::Current(const struct stat& st) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({st.st_dev, st.st_ino});
  return it != entries_.end() && it->second.stamp == StampOf(st);
}

void HeaderCache::Put(const struct stat& st, const format::FileHeader& header) {
  if (capacity_ == 0) return;
  const Id id{st.st_dev, st.st_ino};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    it->second.stamp = StampOf(st);
    it->second.header = header;
    uses_.splice(uses_.begin(), uses_, it->second.use);
    return;
  }
  if (entries_.size() >= capacity_) {
    entries_.erase(uses_.back());
    uses_.pop_back();
  }
  uses_.push_front(id);
  entries_.emplace(id, Entry{StampOf(st), header, uses_.begin()});
}

void HeaderCache::Forget(dev_t dev, ino_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({dev, ino});
  if (it == entries_.end()) return;
  uses_.erase(it->second.use);
  entries_.erase(it);
}

HeaderCache::Stats HeaderCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {entries_.size(), hits_};
}

}  // namespace kmsfs::core
