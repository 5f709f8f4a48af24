#include "fs/core/inode_table.h"

#include <cerrno>

namespace kmsfs::core {

StatusOr<std::unique_ptr<InodeTable>> InodeTable::New(UniqueFd root) {
  struct stat st;
  if (fstat(root.get(), &st) != 0) return Status::FromErrno(errno, "fstat backing root");
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("backing root is not a directory");
  auto inode = std::make_shared<Inode>(kRootId, std::move(root), st);
  return std::unique_ptr<InodeTable>(new InodeTable(std::move(inode)));
}

InodeTable::InodeTable(std::shared_ptr<Inode> root) : root_(std::move(root)) {
  WriterLock lock(&mu_);
  by_id_[kRootId] = {root_, 1};
  by_object_[{root_->dev(), root_->ino()}] = kRootId;
}

std::shared_ptr<Inode> InodeTable::Get(NodeId id) const {
  if (id == kRootId) return root_;
  ReaderLock lock(&mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.inode;
}

std::shared_ptr<Inode> InodeTable::Find(dev_t dev, ino_t ino) const {
  ReaderLock lock(&mu_);
  auto it = by_object_.find({dev, ino});
  if (it == by_object_.end()) return nullptr;
  return by_id_.at(it->second).inode;
}

std::shared_ptr<Inode> InodeTable::Remember(UniqueFd fd, const struct stat& st) {
  WriterLock lock(&mu_);
  auto known = by_object_.find({st.st_dev, st.st_ino});
  if (known != by_object_.end()) {
    Entry& entry = by_id_.at(known->second);
    if (entry.inode != root_) ++entry.nlookup;
    return entry.inode;  // `fd` closes on return: the node keeps its own
  }
  const NodeId id = next_id_++;
  auto inode = std::make_shared<Inode>(id, std::move(fd), st);
  by_id_[id] = {inode, 1};
  by_object_[{st.st_dev, st.st_ino}] = id;
  ++made_;
  return inode;
}

std::shared_ptr<Inode> InodeTable::RememberKnown(const struct stat& st) {
  WriterLock lock(&mu_);
  auto known = by_object_.find({st.st_dev, st.st_ino});
  if (known == by_object_.end()) return nullptr;
  Entry& entry = by_id_.at(known->second);
  if (entry.inode != root_) ++entry.nlookup;
  return entry.inode;
}

void InodeTable::Forget(NodeId id, uint64_t count) {
  if (id == kRootId) return;
  std::shared_ptr<Inode> dropped;  // released after the lock: closing its fd is a system call
  WriterLock lock(&mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  Entry& entry = it->second;
  entry.nlookup = count >= entry.nlookup ? 0 : entry.nlookup - count;
  if (entry.nlookup != 0) return;
  dropped = std::move(entry.inode);
  by_object_.erase({dropped->dev(), dropped->ino()});
  by_id_.erase(it);
  ++forgotten_;
}

InodeTableStats InodeTable::stats() const {
  ReaderLock lock(&mu_);
  return {by_id_.size(), made_, forgotten_};
}

}  // namespace kmsfs::core
