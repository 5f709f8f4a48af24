#include "base/secret_bytes.h"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/mutex.h"

namespace kmsfs {
namespace {
std::atomic<SecretFreeHook> g_free_hook{nullptr};
std::atomic<uint64_t> g_lock_failures{0};

// sodium_malloc tries to mlock its region but carries on silently when it
// cannot (RLIMIT_MEMLOCK reached, no CAP_IPC_LOCK). Locking again finds out:
// mlock of pages already locked costs little and succeeds. The first failure
// is reported once, so "keys never reach swap" is never claimed falsely.
// The system call is made directly: sanitizers replace mlock() with a no-op
// that always succeeds, which would hide a failure (and the lock) there.
void* LockedAlloc(size_t size) {
  void* p = sodium_malloc(size);
  if (p == nullptr) return nullptr;
  if (::syscall(SYS_mlock, p, size) != 0) {
    const int err = errno;
    if (g_lock_failures.fetch_add(1) == 0) {
      struct rlimit lim {};
      getrlimit(RLIMIT_MEMLOCK, &lim);
      KMSFS_LOG(kWarning) << "cannot lock key memory into RAM (mlock: " << std::strerror(err)
                          << "; RLIMIT_MEMLOCK is "
                          << (lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                            : std::to_string(lim.rlim_cur) + " bytes")
                          << "): keys may be written to swap; raise the limit (ulimit -l, LimitMEMLOCK= in a "
                             "systemd unit) or grant CAP_IPC_LOCK";
    }
  }
  return p;
}

// Small secrets (DEKs, derived keys, hex-decoded request fields) come from
// slabs of locked memory rather than one sodium_malloc each: sodium_malloc
// maps a locked page plus guard pages per call and unmaps them on free, so
// every short-lived secret cost an mmap, mprotects, mlock and munmap (with TLB
// shootdowns on every core), and a cache of thousands of 64-byte keys would
// pin a page per key. A slab is one sodium_malloc'd region of 64 KiB (locked,
// guarded as a whole, excluded from core dumps); slots are wiped when freed.
// Three size classes keep the waste per secret under 4x. Under ASan every
// secret keeps its own allocation so use-after-free stays detectable.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseSlabs = false;
#else
constexpr bool kUseSlabs = true;
#endif
constexpr size_t kSlabBytes = 64 * 1024;
constexpr size_t kSlotSizes[] = {64, 256, 1024};
constexpr size_t kSlabClasses = std::size(kSlotSizes);
constexpr size_t kLargestSlot = kSlotSizes[kSlabClasses - 1];

// The size class serving `size` bytes; only for size <= kLargestSlot.
size_t SlabClassOf(size_t size) {
  size_t c = 0;
  while (kSlotSizes[c] < size) ++c;
  return c;
}

class SecretSlabs {
 public:
  static SecretSlabs& Instance(size_t slab_class) {
    // Never destroyed: secrets released during static destruction still find them.
    static SecretSlabs* const slabs[kSlabClasses] = {new SecretSlabs(kSlotSizes[0]), new SecretSlabs(kSlotSizes[1]),
                                                     new SecretSlabs(kSlotSizes[2])};
    return *slabs[slab_class];
  }

  uint8_t* Allocate() {
    MutexLock lock(&mu_);
    if (free_.empty() && !Grow()) return nullptr;
    uint8_t* slot = free_.back();
    free_.pop_back();
    return slot;
  }

  // `slot` has been wiped by the caller.
  void Free(uint8_t* slot) {
    MutexLock lock(&mu_);
    free_.push_back(slot);
  }

 private:
  explicit SecretSlabs(size_t slot_size) : slot_size_(slot_size) {}

  bool Grow() KMSFS_REQUIRES(mu_) {
    void* region = LockedAlloc(kSlabBytes);
    if (region == nullptr) return false;
    auto* base = static_cast<uint8_t*>(region);
    sodium_memzero(base, kSlabBytes);
    const size_t slots = kSlabBytes / slot_size_;
    free_.reserve(free_.size() + slots);
    for (size_t i = slots; i-- > 0;) free_.push_back(base + i * slot_size_);
    return true;
  }

  const size_t slot_size_;
  Mutex mu_;
  std::vector<uint8_t*> free_ KMSFS_GUARDED_BY(mu_);
};
}  // namespace

void EnsureSodiumInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) {
      std::fputs("kmsfs: fatal: libsodium failed to initialise\n", stderr);
      std::abort();
    }
  });
}

SecretBytes::SecretBytes(size_t size) {
  EnsureSodiumInitialized();
  if (size == 0) return;
  // sodium_malloc mlocks the pages, adds guard pages and a canary, and marks
  // the region MADV_DONTDUMP.
  void* p = nullptr;
  if (kUseSlabs && size <= kLargestSlot) {
    p = SecretSlabs::Instance(SlabClassOf(size)).Allocate();
    from_slab_ = p != nullptr;
  }
  if (p == nullptr) p = LockedAlloc(size);
  if (p == nullptr) {
    std::fputs("kmsfs: fatal: cannot allocate locked memory for key material\n", stderr);
    std::abort();
  }
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
  sodium_memzero(data_, size_);
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_), from_slab_(other.from_slab_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.from_slab_ = false;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    from_slab_ = other.from_slab_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.from_slab_ = false;
  }
  return *this;
}

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  sodium_memzero(data_, size_);
  if (SecretFreeHook hook = g_free_hook.load(std::memory_order_acquire)) hook(data_, size_);
  if (from_slab_) {
    SecretSlabs::Instance(SlabClassOf(size_)).Free(data_);
  } else {
    sodium_free(data_);
  }
  data_ = nullptr;
  size_ = 0;
  from_slab_ = false;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes out(size);
  if (size > 0) randombytes_buf(out.data_, size);
  return out;
}

SecretBytes SecretBytes::CopyFrom(std::span<const uint8_t> bytes) {
  SecretBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecretBytes SecretBytes::Clone() const { return CopyFrom(span()); }

bool SecretBytes::Equals(const SecretBytes& other) const { return Equals(other.span()); }

bool SecretBytes::Equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void SetSecretFreeHookForTesting(SecretFreeHook hook) {
  g_free_hook.store(hook, std::memory_order_release);
}

uint64_t SecretMemoryLockFailures() { return g_lock_failures.load(); }

void HardenProcessAgainstCoreDumps() {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace kmsfs
