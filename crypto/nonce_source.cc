#include "crypto/nonce_source.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

namespace kmsfs::crypto {
namespace {

constexpr size_t kPoolSize = 4096;

// Bumped in every child after fork(): buffers filled before it are stale.
std::atomic<uint64_t> g_fork_generation{0};

void OnForkChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void RegisterForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, &OnForkChild); });
}

struct Pool {
  uint8_t bytes[kPoolSize];
  size_t next = kPoolSize;  // first unused byte; kPoolSize == empty
  uint64_t generation = 0;

  ~Pool() { OPENSSL_cleanse(bytes, sizeof(bytes)); }

  // out.size() <= kPoolSize.
  Status Take(std::span<uint8_t> out) {
    const uint64_t gen = g_fork_generation.load(std::memory_order_relaxed);
    if (gen != generation || kPoolSize - next < out.size()) {
      if (RAND_bytes(bytes, static_cast<int>(kPoolSize)) != 1) {
        next = kPoolSize;
        return Status::Internal("system random generator failed");
      }
      next = 0;
      generation = gen;
    }
    std::memcpy(out.data(), bytes + next, out.size());
    // Used bytes are overwritten so a later memory read cannot recover them
    // in the form they were handed out (they are public nonces, but cheap).
    std::memset(bytes + next, 0, out.size());
    next += out.size();
    return Status::Ok();
  }
};

// Stateless: the buffer is per thread, so one object serves every thread.
class SystemRandomSource final : public RandomSource {
 public:
  Status Fill(std::span<uint8_t> out) override {
    if (out.size() > kPoolSize) return Status::InvalidArgument("random draw larger than the buffer");
    RegisterForkHandler();
    thread_local Pool pool;
    return pool.Take(out);
  }
};

bool AllZero(std::span<const uint8_t> b) {
  uint8_t acc = 0;
  for (uint8_t x : b) acc |= x;
  return acc == 0;
}

}  // namespace

RandomSource& SystemRandom() {
  static SystemRandomSource source;
  return source;
}

Status FillNonce(std::span<uint8_t> out, RandomSource& random) {
  if (out.empty() || out.size() > kMaxNonceSize) {
    return Status::InvalidArgument("nonce size out of range");
  }
  for (int draw = 0; draw < kMaxNonceDraws; ++draw) {
    KMSFS_RETURN_IF_ERROR(random.Fill(out));
    if (!AllZero(out)) return Status::Ok();
  }
  return Status::Internal("random source gave " + std::to_string(kMaxNonceDraws) +
                          " all-zero nonces in a row");
}

}  // namespace kmsfs::crypto
