// SecretBytes: a move-only buffer for key material.
//
// Memory comes from sodium_malloc: guard pages around it, mlock'd so it never
// reaches swap (where RLIMIT_MEMLOCK allows: see SecretMemoryLockFailures),
// excluded from core dumps, and wiped with sodium_memzero before
// it is released. Secrets of up to 1 KiB share such regions (slabs) so that
// thousands of cached keys do not each pin a page, and short-lived secrets do
// not each cost a map and unmap. Contents never appear in logs or error text; there is
// deliberately no operator<< and no conversion to std::string.
//
// Thread-safety: like any value type; distinct objects may be used from
// different threads, one object needs external synchronisation.
#ifndef KMSFS_BASE_SECRET_BYTES_H_
#define KMSFS_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace kmsfs {

// Calls sodium_init() once; safe to call from any thread, any number of times.
// Aborts if libsodium cannot initialise (no usable randomness).
void EnsureSodiumInitialized();

class SecretBytes {
 public:
  SecretBytes() = default;  // empty, owns nothing
  // Allocates `size` zeroed bytes; aborts if secure memory cannot be had,
  // because continuing would put keys in ordinary memory.
  explicit SecretBytes(size_t size);
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  static SecretBytes Random(size_t size);
  static SecretBytes CopyFrom(std::span<const uint8_t> bytes);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::span<uint8_t> mutable_span() { return {data_, size_}; }

  // Independent copy in fresh secure memory.
  SecretBytes Clone() const;
  // Constant-time comparison (sizes are not secret).
  bool Equals(const SecretBytes& other) const;
  bool Equals(std::span<const uint8_t> other) const;

 private:
  void Release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool from_slab_ = false;  // small secrets share locked slabs (see .cc)
};

// Test hook: called with every secret buffer after it has been wiped and just
// before it is returned to the allocator, so tests can prove evicted keys are
// zeroed. nullptr removes the hook. Not for production use.
using SecretFreeHook = void (*)(const uint8_t* data, size_t size);
void SetSecretFreeHookForTesting(SecretFreeHook hook);

// How many secure regions could not be locked into RAM (mlock refused, e.g.
// RLIMIT_MEMLOCK). The first failure logs one warning; when this is non-zero,
// keys may reach swap.
uint64_t SecretMemoryLockFailures();

// Makes this process undumpable and turns off core files, so key memory never
// lands on disk through a crash. Daemons call it at start-up.
void HardenProcessAgainstCoreDumps();

}  // namespace kmsfs

#endif  // KMSFS_BASE_SECRET_BYTES_H_
