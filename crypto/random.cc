#include "crypto/random.h"

#include <sodium.h>

#include "base/secret_bytes.h"

namespace kmsfs::crypto {

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  EnsureSodiumInitialized();
  randombytes_buf(out.data(), out.size());
}

std::vector<uint8_t> RandomVector(size_t n) {
  std::vector<uint8_t> v(n);
  RandomBytes(v);
  return v;
}

}  // namespace kmsfs::crypto
