#include "fs/core/volume.h"

#include <fcntl.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "fs/core/dir_values.h"
#include "fs/core/encrypted_names.h"
#include "fs/core/header_io.h"
#include "fs/format/block_codec.h"
#include "fs/format/name_codec.h"

namespace kmsfs::core {

StatusOr<std::unique_ptr<Volume>> Volume::Open(UnlockedVolume unlocked, Envelope envelope,
                                               VolumeOptions options) {
  const format::VolumeConfig& config = unlocked.config;
  KMSFS_ASSIGN_OR_RETURN(format::Geometry geometry, format::GeometryFor(config.suite, config.block_size));
  geometry.data_offset = DataOffset(config.header);
  // The directory the config was read from, not whatever the path leads to now.
  const int fd = openat(unlocked.root_fd.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open backing directory " + unlocked.backing_dir);
  std::unique_ptr<Volume> v(new Volume(std::move(unlocked)));
  v->work_ = std::make_unique<WorkQueue>(options.work);
  KMSFS_ASSIGN_OR_RETURN(v->inodes_, InodeTable::New(UniqueFd(fd)));
  const format::VolumeConfig& c = v->config();
  v->keys_ = std::make_unique<KeyService>(c.key_id, v->unlocked_.AcceptedKeyIds(), c.suite, c.block_size,
                                          std::move(envelope), options.keys, v->work_.get());
  v->files_ = std::make_unique<OpenFileTable>(v->keys_.get(), c.header);
  if (c.names == format::NameMode::kEncrypted) {
    KMSFS_ASSIGN_OR_RETURN(auto codec, format::NameCodec::New(v->unlocked_.volume_key, c.volume_id, c.suite));
    std::unique_ptr<DirValueStore> values = DirValueStoreFor(c.header);
    // The root's own name value is set by init; check it now rather than at
    // the first lookup.
    KMSFS_RETURN_IF_ERROR(values->Read(v->inodes_->root()->fd()).status().Annotate("backing root"));
    v->names_ = std::make_unique<EncryptedNames>(std::move(codec), v->inodes_->root()->fd(), std::move(values));
  } else {
    v->names_ = std::make_unique<PlaintextNames>();
  }
  v->tree_ = std::make_unique<Tree>(v->inodes_.get(), v->names_.get(), v->files_.get(), geometry, options.tree);
  // Prefetched keys are kept by the cache: with no cache there is nothing to warm.
  if (options.keys.cache.ttl.count() == 0 || options.keys.cache.max_entries == 0) {
    options.hints.prefetch.concurrency = 0;
  }
  options.hints.prefetch.header = c.header;
  v->log_file_ = options.log_file;
  v->hints_ = std::make_unique<Hints>(options.hints, v->keys_.get(), v->work_.get());
  v->tree_->set_observer(v->hints_.get());
  if (options.tick_interval.count() > 0) {
    v->ticks_ = std::make_unique<WorkQueue::Scope>(v->work_.get(), WorkQueue::ScopeOptions{.max_running = 1});
    const std::chrono::milliseconds interval = options.tick_interval;
    if (!v->ticks_->PostAfter(interval, [vol = v.get(), interval] { vol->TickAndRepeat(interval); })) {
      return Status::Internal("cannot schedule the volume's tick");
    }
  }
  return v;
}

Volume::~Volume() {
  ticks_.reset();
  if (tree_) tree_->set_observer(nullptr);
  hints_.reset();
}

void Volume::TickAndRepeat(std::chrono::milliseconds interval) {
  Tick();
  // Refused only once the volume closes its scope.
  (void)ticks_->PostAfter(interval, [this, interval] { TickAndRepeat(interval); });
}

void Volume::Tick() {
  keys_->Tick();
  hints_->Tick();
  files_->Sweep();
}

std::string Volume::StatusJson() const {
  const KeyServiceStats k = keys_->stats();
  const HintsStats h = hints_->stats();
  const InodeTableStats n = inodes_->stats();
  const WorkQueueStats w = work_->stats();
  nlohmann::json j = {
      {"backing_dir", backing_dir()},
      {"key_id", config().key_id},
      {"pinned_key_id", unlocked_.pin.key_id},
      {"volume_id", unlocked_.pin.volume_id},
      {"format_version", config().version},
      {"names", format::NameModeName(config().names)},
      {"header", format::HeaderModeName(config().header)},
      {"read_only", read_only()},
      {"log_file", log_file_},
      {"cache", {{"entries", k.cache.entries}, {"hits", k.cache.hits}, {"misses", k.cache.misses},
                 {"evictions", k.cache.evictions}, {"loads", k.cache.loads}, {"load_errors", k.cache.load_errors}}},
      {"kms", {{"calls", k.kms_calls}, {"errors", k.kms_errors}, {"in_flight", k.kms_in_flight},
               {"in_flight_max", k.kms_in_flight_max}}},
      {"pool", {{"ready", k.pool.ready}, {"taken", k.pool.taken}, {"direct", k.pool.direct},
                {"wrap_errors", k.pool.wrap_errors}}},
      {"foreign_headers", k.foreign_headers},
      {"open_files", files_->open_files()},
      {"inodes", {{"known", n.nodes}, {"made", n.made}, {"forgotten", n.forgotten}}},
      {"prefetch", {{"queued", h.prefetch.queued}, {"loaded", h.prefetch.loaded},
                    {"skipped_cached", h.prefetch.skipped_cached}, {"skipped", h.prefetch.skipped},
                    {"failed", h.prefetch.failed}, {"dropped", h.prefetch.dropped},
                    {"pending", h.prefetch.pending}, {"in_flight", h.prefetch.in_flight}}},
      {"readahead", {{"files", h.readahead.asked}, {"dropped", h.readahead.dropped}}},
      {"work", {{"queued", w.queued}, {"done", w.done}, {"dropped", w.dropped}, {"waiting", w.waiting},
                {"delayed", w.delayed}, {"running", w.running}, {"threads", work_->threads()}}},
  };
  return j.dump();
}

}  // namespace kmsfs::core
