// Random bytes from libsodium's CSPRNG (the kernel's getrandom). For key
// material use SecretBytes::Random, which keeps the bytes in secure memory.
//
// Thread-safety: safe from any thread.
#ifndef KMSFS_CRYPTO_RANDOM_H_
#define KMSFS_CRYPTO_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kmsfs::crypto {

void RandomBytes(std::span<uint8_t> out);
std::vector<uint8_t> RandomVector(size_t n);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_RANDOM_H_
