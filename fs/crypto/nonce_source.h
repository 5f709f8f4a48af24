// FillNonce: fresh random AEAD nonces, cheaply.
//
// A CSPRNG call costs far more than sealing a 4 KiB block with AES-NI
// (RAND_bytes ~0.5 us per call here), so nonces are cut from a per-thread
// buffer that OpenSSL's RAND_bytes refills 4 KiB at a time. Every byte is
// handed out once and then overwritten. After fork() the child discards any
// buffered bytes (pthread_atfork bumps a generation counter) so parent and
// child can never share a nonce. An all-zero nonce is never returned: a real
// sealed block therefore never looks like a hole (docs/FORMAT.md).
//
// Internal to fs/crypto and fs/format. Thread-safety: safe from any thread.
#ifndef KMSFS_FS_CRYPTO_NONCE_SOURCE_H_
#define KMSFS_FS_CRYPTO_NONCE_SOURCE_H_

#include <cstdint>
#include <span>

#include "fs/base/status.h"

namespace kmsfs::crypto {

// Largest nonce FillNonce serves (XChaCha20 needs 24).
inline constexpr size_t kMaxNonceSize = 32;

// Fills `out` (1..kMaxNonceSize bytes) with CSPRNG bytes, never all zero.
// kInternal only if the system CSPRNG fails.
Status FillNonce(std::span<uint8_t> out);

}  // namespace kmsfs::crypto

#endif  // KMSFS_FS_CRYPTO_NONCE_SOURCE_H_
