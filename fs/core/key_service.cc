#include "fs/core/key_service.h"

#include <sodium.h>

#include <algorithm>

#include "base/hex.h"
#include "base/logging.h"

namespace kmsfs::core {

KeyService::KeyService(std::string key_id, std::vector<std::string> accepted_key_ids, crypto::CipherSuite suite,
                       uint32_t block_size, Envelope envelope, KeyServiceOptions options,
                       WorkQueue* queue)
    : key_id_(std::move(key_id)),
      accepted_key_ids_(std::move(accepted_key_ids)),
      suite_(suite),
      block_size_(block_size),
      envelope_(std::move(envelope)),
      options_(std::move(options)),
      cache_(options_.cache) {
  if (!options_.read_only) {
    cache::DekPoolOptions pool = options_.pool;
    if (queue == nullptr) pool.target = 0;  // nothing to refill with: every create wraps directly
    pool_ = std::make_unique<cache::DekPool>(
        pool,
        [this](const SecretBytes& dek, const format::FileId& file_id, cache::DekPool::WrapKind kind,
               cache::DekPool::WrapDone done) { Wrap(dek, file_id, kind, std::move(done)); },
        queue);
  }
}

KeyService::~KeyService() { pool_.reset(); }

std::string KeyService::CacheId(const format::FileHeader& header) {
  const std::vector<uint8_t> encoded = header.Encode();
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, encoded.data(), encoded.size());
  return HexEncode(std::span<const uint8_t>(digest, sizeof digest));
}

void KeyService::Wrap(const SecretBytes& dek, const format::FileId& file_id, cache::DekPool::WrapKind kind,
                      cache::DekPool::WrapDone done) {
  CallStarted();
  const kms::Priority priority =
      kind == cache::DekPool::WrapKind::kDirect ? kms::Priority::kInteractive : kms::Priority::kRefill;
  envelope_.WrapDekAsync(key_id_, dek, file_id, priority,
                         [this, done = std::move(done)](StatusOr<std::string> wrapped) {
                           CallEnded(wrapped.ok());
                           done(std::move(wrapped));
                         });
}

void KeyService::CallStarted() {
  kms_calls_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t now = kms_in_flight_.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t max = kms_in_flight_max_.load(std::memory_order_relaxed);
  while (now > max && !kms_in_flight_max_.compare_exchange_weak(max, now, std::memory_order_relaxed)) {
  }
}

void KeyService::CallEnded(bool ok) {
  kms_in_flight_.fetch_sub(1, std::memory_order_relaxed);
  if (!ok) kms_errors_.fetch_add(1, std::memory_order_relaxed);
}

StatusOr<SecretBytes> KeyService::Unwrap(const format::FileHeader& header) {
  CallStarted();
  auto dek = envelope_.UnwrapDek(header);
  CallEnded(dek.ok());
  return dek;
}

StatusOr<NewFileKey> KeyService::NewFile() {
  if (pool_ == nullptr) return Status::FailedPrecondition("the volume is mounted read-only");
  KMSFS_ASSIGN_OR_RETURN(cache::PooledDek pooled, pool_->Take());
  NewFileKey out;
  out.header.suite = suite_;
  out.header.block_size = block_size_;
  out.header.file_id = pooled.file_id;
  out.header.key_id = key_id_;
  out.header.wrapped_dek = std::move(pooled.wrapped_dek);
  KMSFS_RETURN_IF_ERROR(out.header.Validate());
  out.key = cache_.Insert(CacheId(out.header), std::move(pooled.dek));
  return out;
}

Status KeyService::CheckBelongs(const format::FileHeader& header) {
  if (std::find(accepted_key_ids_.begin(), accepted_key_ids_.end(), header.key_id) == accepted_key_ids_.end()) {
    foreign_headers_.fetch_add(1, std::memory_order_relaxed);
    return Status::DataLoss("header names key " + header.key_id + ", not the volume's key " + key_id_ +
                            " (a foreign header: planted, or copied from another volume)");
  }
  if (header.suite != suite_ || header.block_size != block_size_) {
    foreign_headers_.fetch_add(1, std::memory_order_relaxed);
    return Status::DataLoss("header's cipher suite or block size differs from the volume's");
  }
  return Status::Ok();
}

StatusOr<cache::DekCache::Handle> KeyService::KeyFor(const format::FileHeader& header) {
  KMSFS_RETURN_IF_ERROR(CheckBelongs(header));
  auto key = cache_.Get(CacheId(header), [&]() { return Unwrap(header); });
  if (key.ok()) return key;
  return KeyError(key.status(), header);
}

void KeyService::LoadInBackground(const format::FileHeader& header, kms::Priority priority,
                                  std::function<void(StatusOr<cache::DekCache::Handle>)> done) {
  if (Status belongs = CheckBelongs(header); !belongs.ok()) {
    done(std::move(belongs));
    return;
  }
  auto loader = [this, header, priority](cache::DekCache::LoadDone finish) -> std::function<void()> {
    CallStarted();
    kms::CallHandle call =
        envelope_.UnwrapDekAsync(header, priority, [this, finish = std::move(finish)](StatusOr<SecretBytes> dek) {
          CallEnded(dek.ok());
          finish(std::move(dek));
        });
    // An open now waits for this key: it is no longer speculative.
    return [call] { call.Raise(kms::Priority::kInteractive); };
  };
  cache_.GetAsync(CacheId(header), loader,
                  [this, header, done = std::move(done)](StatusOr<cache::DekCache::Handle> key) {
                    if (key.ok()) {
                      done(std::move(key));
                    } else {
                      done(KeyError(key.status(), header));
                    }
                  });
}

Status KeyService::KeyError(const Status& s, const format::FileHeader& header) const {
  if (s.code() == StatusCode::kUnavailable) {
    return s.Annotate("KMS unreachable for decrypt-datakey on key " + header.key_id);
  }
  // Any answer from the KMS other than the key is a refusal: the user may not
  // (or no longer) use this key, or the key cannot be used (disabled,
  // material deleted). The application sees EACCES.
  return Status(StatusCode::kPermissionDenied, "KMS refused decrypt-datakey on key " + header.key_id + " for " +
                                                   envelope_.Principal() + ": " + s.message())
      .WithDetailOf(s);
}

bool KeyService::IsCached(const format::FileHeader& header) { return cache_.Contains(CacheId(header)); }

void KeyService::Tick() {
  cache_.EvictExpired();
  if (pool_) pool_->Tick();
}

KeyServiceStats KeyService::stats() const {
  KeyServiceStats s;
  s.cache = cache_.stats();
  if (pool_) s.pool = pool_->stats();
  s.kms_calls = kms_calls_.load();
  s.kms_errors = kms_errors_.load();
  s.kms_in_flight = kms_in_flight_.load();
  s.kms_in_flight_max = kms_in_flight_max_.load();
  s.foreign_headers = foreign_headers_.load();
  return s;
}

}  // namespace kmsfs::core
