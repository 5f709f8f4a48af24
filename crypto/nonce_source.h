// FillNonce: fresh random AEAD nonces, cheaply, from an injectable source.
//
// A CSPRNG call costs far more than sealing a 4 KiB block with AES-NI, so
// the system source (SystemRandom)
// cuts bytes from a per-thread buffer that OpenSSL's RAND_bytes refills 4 KiB
// at a time. Every byte is handed out once and then overwritten. After fork()
// the child discards any buffered bytes (pthread_atfork bumps a generation
// counter) so parent and child can never share a nonce.
//
// An all-zero nonce is never returned: an all-zero draw is drawn again, so a
// real sealed block never looks like a hole (docs/FORMAT.md §4). Tests reach
// that redraw by handing FillNonce (or Aead::New, or BlockCodec::New) a
// RandomSource whose first draw is all zero.
//
// Thread-safety: FillNonce and SystemRandom() are safe from any thread; a
// RandomSource says its own.
#ifndef KMSFS_CRYPTO_NONCE_SOURCE_H_
#define KMSFS_CRYPTO_NONCE_SOURCE_H_

#include <cstdint>
#include <span>

#include "base/status.h"

namespace kmsfs::crypto {

// Largest nonce FillNonce serves (XChaCha20 needs 24).
inline constexpr size_t kMaxNonceSize = 32;
// All-zero draws in a row after which FillNonce gives up: a working CSPRNG
// returns one with probability 2^-96 per 12-byte draw, so this many means the
// source is broken, and sealing must fail rather than loop forever.
inline constexpr int kMaxNonceDraws = 4;

// Where nonce bytes come from.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills all of `out` with random bytes; kInternal if the generator fails.
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

// The system CSPRNG (OpenSSL RAND_bytes through a per-thread buffer, as
// above). Lives for the whole process; safe from any thread.
RandomSource& SystemRandom();

// Fills `out` (1..kMaxNonceSize bytes) from `random`, never all zero.
// kInvalidArgument for a bad size; kInternal if the source fails or gives
// kMaxNonceDraws all-zero draws in a row.
Status FillNonce(std::span<uint8_t> out, RandomSource& random = SystemRandom());

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_NONCE_SOURCE_H_
