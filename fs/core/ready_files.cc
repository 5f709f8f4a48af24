#include "fs/core/ready_files.h"

#include <algorithm>
#include <utility>

#include "fs/base/cpu_affinity.h"
#include "fs/base/logging.h"

namespace kmsfs::core {
namespace {

// Directories refused are remembered by name; past this many the set starts over.
constexpr size_t kMaxRefused = 1024;

}  // namespace

ReadyFiles::ReadyFiles(ReadyFilesOptions options, Make make) : options_(options), make_(std::move(make)) {
  if (enabled()) worker_ = std::thread([this] {
      BecomeBackgroundThread("kmsfs-new-files");
      Work();
    });
}

ReadyFiles::~ReadyFiles() {
  {
    cache::MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
  // Members go with their fds and DEKs: nothing was linked.
}

std::optional<ReadyFiles::File> ReadyFiles::Take(const std::string& dir_rel, mode_t mode) {
  if (!enabled()) return std::nullopt;
  std::optional<File> out;
  bool wake = false;
  {
    cache::MutexLock lock(&mu_);
    if (refused_.count(dir_rel) != 0) return std::nullopt;
    auto it = dirs_.find(dir_rel);
    if (it == dirs_.end()) {
      if (dirs_.size() >= options_.max_directories) {
        auto oldest = dirs_.begin();
        for (auto d = dirs_.begin(); d != dirs_.end(); ++d) {
          if (d->second.last_used < oldest->second.last_used) oldest = d;
        }
        // One the worker is making a file for stays; its file is given up when it comes.
        for (File& f : oldest->second.files) GiveUpLocked(std::move(f));
        if (oldest->second.making == 0) {
          dirs_.erase(oldest);
        } else {
          oldest->second.files.clear();
          oldest->second.evicted = true;
        }
      }
      it = dirs_.emplace(dir_rel, Directory{}).first;
    }
    Directory& dir = it->second;
    dir.evicted = false;  // asked for again
    dir.last_used = ++clock_;
    dir.mode = mode;
    ++dir.taken;
    const auto now = std::chrono::steady_clock::now();
    while (!dir.files.empty()) {
      File f = std::move(dir.files.front());
      dir.files.pop_front();
      if (now - f.made <= options_.max_age) {
        out = std::move(f);
        ++stats_.used;
        break;
      }
      GiveUpLocked(std::move(f));
    }
    // Waking the worker for every create cost the create a futex call and
    // the other core an interrupt. Once half the files are gone it makes
    // them in one go, long before a program creating files runs out.
    wake = dir.files.size() + dir.making <= TargetOf(dir) / 2;
    if (wake) worker_waits_ = false;  // it has work from now on, though it may not run yet
  }
  if (wake) wake_.notify_one();
  return out;
}

void ReadyFiles::Forget() {
  cache::MutexLock lock(&mu_);
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    for (File& f : it->second.files) GiveUpLocked(std::move(f));
    it->second.files.clear();
    // A directory the worker is making a file for stays until that file comes back.
    it = it->second.making == 0 ? dirs_.erase(it) : std::next(it);
  }
  refused_.clear();
  ++generation_;  // the file being made now is given up when it comes
}

void ReadyFiles::DropStale() {
  cache::MutexLock lock(&mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    auto& files = it->second.files;
    while (!files.empty() && now - files.front().made > options_.max_age) {
      GiveUpLocked(std::move(files.front()));
      files.pop_front();
    }
    // A directory left without files is not refilled until a create asks again.
    it = files.empty() && it->second.making == 0 ? dirs_.erase(it) : std::next(it);
  }
  while (!spare_deks_.empty() && now - spare_deks_.front().first > options_.max_age) spare_deks_.pop_front();
}

void ReadyFiles::GiveUpLocked(File file) {
  ++stats_.dropped;
  if (spare_deks_.size() >= options_.max_directories * options_.per_directory) spare_deks_.pop_front();
  spare_deks_.emplace_back(std::chrono::steady_clock::now(), std::move(file.dek));
  // file.fd closes here: the nameless inode goes with it.
}

size_t ReadyFiles::TargetOf(const Directory& dir) const {
  return std::min<size_t>(options_.per_directory, dir.taken + 1);
}

std::map<std::string, ReadyFiles::Directory>::iterator ReadyFiles::ShortestLocked() {
  auto best = dirs_.end();
  for (auto it = dirs_.begin(); it != dirs_.end(); ++it) {
    const size_t have = it->second.files.size() + it->second.making;
    if (have >= TargetOf(it->second) || it->second.evicted) continue;
    if (best == dirs_.end() || have < best->second.files.size() + best->second.making) best = it;
  }
  return best;
}

bool ReadyFiles::IdleLocked() { return worker_waits_ || !enabled(); }

void ReadyFiles::Work() {
  cache::MutexLock lock(&mu_);
  while (true) {
    auto it = dirs_.end();
    while (!stopping_ && (it = ShortestLocked()) == dirs_.end()) {
      worker_waits_ = true;
      idle_.notify_all();
      lock.Wait(wake_);
    }
    worker_waits_ = false;
    if (stopping_) return;
    const std::string dir_rel = it->first;
    const mode_t mode = it->second.mode;
    const uint64_t generation = generation_;
    ++it->second.making;
    std::optional<cache::PooledDek> dek;
    if (!spare_deks_.empty()) {
      dek = std::move(spare_deks_.back().second);
      spare_deks_.pop_back();
    }
    lock.Unlock();
    StatusOr<File> made = make_(dir_rel, mode, std::move(dek));
    lock.Lock();
    // Forget, DropStale and eviction keep a directory while it is being made for.
    it = dirs_.find(dir_rel);
    --it->second.making;
    if (!made.ok()) {
      if (made.status().code() != StatusCode::kFailedPrecondition) {
        KMSFS_LOG(kInfo) << "cannot make a file ahead in " << dir_rel << ": " << made.status().ToString();
      }
      // Not asked again: a create there makes its file in the request, as without this.
      if (refused_.size() >= kMaxRefused) refused_.clear();
      refused_.insert(dir_rel);
      for (File& f : it->second.files) GiveUpLocked(std::move(f));
      dirs_.erase(it);
      continue;
    }
    ++stats_.made;
    if (generation != generation_ || it->second.evicted) {
      GiveUpLocked(std::move(made).value());
      if (it->second.files.empty() && it->second.making == 0) dirs_.erase(it);
      continue;
    }
    it->second.files.push_back(std::move(made).value());
  }
}

ReadyFilesStats ReadyFiles::stats() const {
  cache::MutexLock lock(&mu_);
  return stats_;
}

bool ReadyFiles::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  cache::MutexLock lock(&mu_);
  while (!IdleLocked()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(idle_, deadline);
  }
  return true;
}

}  // namespace kmsfs::core
