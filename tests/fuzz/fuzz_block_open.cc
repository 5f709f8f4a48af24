// libFuzzer target: format::BlockCodec::Open over arbitrary sealed bytes, and
// a Seal -> Open round trip of arbitrary plaintext, under a fixed DEK and file
// id (fuzz_util.h).
//
// Input: byte 0 picks the suite (bit 0), the block size (bits 1-2: 512, 1024,
// 2048, 4096) and the mode (bit 3: open / round trip); byte 1 is the first
// block index (0xff: 2^64 - 2, so block numbers wrap); the rest is the payload.
//
// Open mode invariants: an impossible backing size is kDataLoss; otherwise
// Open succeeds exactly when every block is all zero (the hole rule of
// docs/FORMAT.md) or authenticates under an independent per-block AEAD open
// with the same content key and AD; on success the output is those blocks'
// plaintext, on failure it is kDataLoss with an all-zero output. An output
// buffer of the wrong size is kInvalidArgument.
// Round-trip invariants: Seal succeeds, Open gives the plaintext back; one
// flipped bit, or opening at another block index, fails with kDataLoss.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "crypto/aead.h"
#include "fs/format/block_codec.h"
#include "fs/format/offsets.h"
#include "tests/fuzz/fuzz_util.h"

namespace kmsfs::fuzz {
namespace {

using crypto::CipherSuite;
using format::BlockCodec;
using format::FileId;
using format::Geometry;

constexpr std::array<uint32_t, 4> kBlockSizes = {512, 1024, 2048, 4096};

struct Codecs {
  // [suite][block size]
  std::array<std::array<std::unique_ptr<BlockCodec>, kBlockSizes.size()>, 2> codec;
  std::array<std::unique_ptr<crypto::Aead>, 2> aead;  // independent, per suite
};

Codecs MakeCodecs() {
  Codecs c;
  const SecretBytes dek = FixedDek();
  const FileId file_id = kFixedFileId;
  const std::array<CipherSuite, 2> suites = {CipherSuite::kAes256Gcm, CipherSuite::kXChaCha20Poly1305};
  for (size_t s = 0; s < suites.size(); ++s) {
    for (size_t b = 0; b < kBlockSizes.size(); ++b) {
      auto codec = BlockCodec::New(suites[s], kBlockSizes[b], dek, file_id);
      KMSFS_FUZZ_CHECK(codec.ok());
      c.codec[s][b] = std::move(codec).value();
    }
    auto key = format::DeriveContentKey(dek, file_id);
    KMSFS_FUZZ_CHECK(key.ok());
    auto aead = crypto::Aead::New(suites[s], *key);
    KMSFS_FUZZ_CHECK(aead.ok());
    c.aead[s] = std::move(aead).value();
  }
  return c;
}

const Codecs& GetCodecs() {
  static const Codecs codecs = MakeCodecs();
  return codecs;
}

bool AllZero(std::span<const uint8_t> b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

// What Open must answer for `sealed`, computed block by block without
// BlockCodec: the plaintext, or false when some block must be rejected.
bool ExpectedOpen(const crypto::Aead& aead, const Geometry& g, uint64_t first_block,
                  std::span<const uint8_t> sealed, std::vector<uint8_t>* plain) {
  const size_t sbs = g.sealed_block_size();
  uint64_t block = first_block;
  for (size_t pos = 0; pos < sealed.size(); pos += sbs, ++block) {
    std::span<const uint8_t> chunk = sealed.subspan(pos, std::min(sbs, sealed.size() - pos));
    std::vector<uint8_t> out(chunk.size() - g.overhead, 0);
    if (!AllZero(chunk)) {
      const auto ad = format::BlockAd(kFixedFileId, block);
      if (!aead.Open(chunk, ad, out).ok()) return false;
    }
    plain->insert(plain->end(), out.begin(), out.end());
  }
  return true;
}

void FuzzOpen(const BlockCodec& codec, const crypto::Aead& aead, uint64_t first_block,
              std::span<const uint8_t> sealed) {
  const Geometry& g = codec.geometry();
  auto plain_size = format::PlainSize(sealed.size(), g);
  if (!plain_size.ok()) {
    KMSFS_FUZZ_CHECK(plain_size.status().code() == StatusCode::kDataLoss);
    // Impossible size: Open must refuse it too, whatever the output buffer.
    std::vector<uint8_t> out(16, 0xAA);
    Status s = codec.Open(first_block, sealed, out);
    KMSFS_FUZZ_CHECK(s.code() == StatusCode::kDataLoss);
    return;
  }
  KMSFS_FUZZ_CHECK(format::BackingSize(*plain_size, g) == sealed.size());

  std::vector<uint8_t> wrong(*plain_size + 1, 0xAA);
  KMSFS_FUZZ_CHECK(codec.Open(first_block, sealed, wrong).code() == StatusCode::kInvalidArgument);

  std::vector<uint8_t> out(*plain_size, 0xAA);
  const Status s = codec.Open(first_block, sealed, out);
  std::vector<uint8_t> expected;
  const bool expect_ok = ExpectedOpen(aead, g, first_block, sealed, &expected);
  KMSFS_FUZZ_CHECK(s.ok() == expect_ok);
  if (s.ok()) {
    KMSFS_FUZZ_CHECK(out == expected);
  } else {
    KMSFS_FUZZ_CHECK(s.code() == StatusCode::kDataLoss);
    KMSFS_FUZZ_CHECK(AllZero(out));
  }
}

void FuzzRoundTrip(const BlockCodec& codec, uint64_t first_block, std::span<const uint8_t> plain) {
  const Geometry& g = codec.geometry();
  std::vector<uint8_t> sealed(format::BackingSize(plain.size(), g));
  KMSFS_FUZZ_CHECK(codec.Seal(first_block, plain, sealed).ok());
  std::vector<uint8_t> out(plain.size(), 0xAA);
  KMSFS_FUZZ_CHECK(codec.Open(first_block, sealed, out).ok());
  KMSFS_FUZZ_CHECK(std::equal(out.begin(), out.end(), plain.begin(), plain.end()));
  if (plain.empty()) return;

  // Every sealed block carries a nonzero nonce, so none may pass as a hole.
  for (size_t pos = 0; pos < sealed.size(); pos += g.sealed_block_size()) {
    KMSFS_FUZZ_CHECK(!AllZero(std::span<const uint8_t>(sealed).subspan(pos, g.overhead - 16)));
  }

  // Opening at another index fails (the AD carries the block number).
  std::fill(out.begin(), out.end(), 0xAA);
  Status moved = codec.Open(first_block + 1, sealed, out);
  KMSFS_FUZZ_CHECK(moved.code() == StatusCode::kDataLoss);
  KMSFS_FUZZ_CHECK(AllZero(out));

  // One flipped bit, at a place chosen by the plaintext, fails.
  size_t where = 0;
  for (uint8_t b : plain.first(std::min<size_t>(plain.size(), 4))) where = where * 251 + b;
  where %= sealed.size();
  sealed[where] ^= static_cast<uint8_t>(1u << (plain[0] & 7));
  std::fill(out.begin(), out.end(), 0xAA);
  Status tampered = codec.Open(first_block, sealed, out);
  KMSFS_FUZZ_CHECK(tampered.code() == StatusCode::kDataLoss);
  KMSFS_FUZZ_CHECK(AllZero(out));
}

}  // namespace
}  // namespace kmsfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::fuzz;
  if (size < 2) return 0;
  const Codecs& codecs = GetCodecs();
  const size_t suite = data[0] & 1;
  const size_t block_size = (data[0] >> 1) & 3;
  const bool round_trip = (data[0] & 8) != 0;
  const uint64_t first_block = data[1] == 0xff ? UINT64_MAX - 1 : data[1];
  const std::span<const uint8_t> payload(data + 2, size - 2);
  const auto& codec = *codecs.codec[suite][block_size];
  if (round_trip) {
    FuzzRoundTrip(codec, first_block, payload);
  } else {
    FuzzOpen(codec, *codecs.aead[suite], first_block, payload);
  }
  return 0;
}
