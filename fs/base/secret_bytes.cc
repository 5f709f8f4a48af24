#include "fs/base/secret_bytes.h"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace kmsfs {
namespace {
std::atomic<SecretFreeHook> g_free_hook{nullptr};
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
  void* p = sodium_malloc(size);
  if (p == nullptr) {
    std::fputs("kmsfs: fatal: cannot allocate locked memory for key material\n", stderr);
    std::abort();
  }
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
  sodium_memzero(data_, size_);
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  sodium_memzero(data_, size_);
  if (SecretFreeHook hook = g_free_hook.load(std::memory_order_acquire)) hook(data_, size_);
  sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
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

void HardenProcessAgainstCoreDumps() {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace kmsfs
