#include "fs/core/backing_edit.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace kmsfs::core {

BackingEdit::BackingEdit(BackingFile& file, uint64_t old_size, std::vector<uint8_t>& scratch)
    : file_(file), old_size_(old_size), scratch_(scratch) {}

Status BackingEdit::Reserve(uint64_t offset, uint64_t end) {
  if (end <= offset) return Status::Ok();
  // Even a failed fallocate may leave blocks allocated past the end.
  if (end > old_size_) grew_ = true;
  Status s = file_.Reserve(offset, end - offset);
  if (s.code() == StatusCode::kUnimplemented) return Status::Ok();
  return s;
}

Status BackingEdit::Write(uint64_t offset, std::span<const uint8_t> data) {
  const uint64_t save_end = std::min<uint64_t>(offset + data.size(), old_size_);
  Saved* saved = nullptr;
  if (offset < save_end) {
    const size_t len = static_cast<size_t>(save_end - offset);
    if (scratch_.size() < scratch_used_ + len) scratch_.resize(scratch_used_ + len);
    KMSFS_ASSIGN_OR_RETURN(size_t got, PreadAll(file_, {scratch_.data() + scratch_used_, len}, offset));
    // The file can only be shorter than old_size if something outside this
    // edit cut it; what is not there need not be restored.
    saved = &saved_.emplace_back(Saved{offset, scratch_used_, got});
    scratch_used_ += got;
  }
  // pwrite(2) reports every byte it wrote, so only what a failed write got
  // through needs restoring. Restoring more could itself run out of space,
  // where the rest of the range is still a hole.
  size_t done = 0;
  Status status;
  while (done < data.size()) {
    StatusOr<size_t> n = file_.Pwrite(data.subspan(done), offset + done);
    if (!n.ok()) {
      status = n.status();
      break;
    }
    done += *n;
  }
  if (saved != nullptr) saved->len = std::min(saved->len, done);
  if (offset + done > old_size_) grew_ = true;
  return status;
}

Status BackingEdit::Truncate(uint64_t size) {
  if (size > old_size_) grew_ = true;
  return file_.Truncate(size);
}

Status BackingEdit::Finish(Status result) {
  assert(!finished_);
  finished_ = true;
  if (result.ok()) return result;
  Status undone = Undo();
  if (undone.ok()) return result;
  return result.Annotate("and undoing the partial change failed (" + undone.message() + ")");
}

Status BackingEdit::Undo() {
  // Cut back first: it frees what the failed change allocated, which the
  // rewrites below may need on a full disk, and it drops any space reserved
  // past the old end.
  Status status = grew_ ? file_.Truncate(old_size_) : Status::Ok();
  // Later saves may cover bytes an earlier write had already changed: put
  // the oldest bytes back last.
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
    if (it->len == 0) continue;
    Status s = PwriteAll(file_, {scratch_.data() + it->at, it->len}, it->offset);
    if (status.ok()) status = s;
  }
  return status;
}

}  // namespace kmsfs::core
