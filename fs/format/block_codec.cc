#include "fs/format/block_codec.h"

#include <openssl/crypto.h>

#include <cstring>
#include <string>

#include "crypto/kdf.h"
#include "fs/format/big_endian.h"

namespace kmsfs::format {
namespace {

bool AllZero(const uint8_t* p, size_t n) {
  // Word-at-a-time OR; the data is not secret (it is ciphertext).
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= p[i];
  return acc == 0;
}

}  // namespace

StatusOr<SecretBytes> DeriveContentKey(const SecretBytes& dek, const FileId& file_id) {
  if (dek.size() != kDekSize) return Status::InvalidArgument("DEK must be 64 bytes");
  const std::string_view info(kContentKeyInfo);
  return crypto::HkdfSha256(dek.span(), file_id,
                            {reinterpret_cast<const uint8_t*>(info.data()), info.size()},
                            kContentKeySize);
}

std::array<uint8_t, kBlockAdSize> BlockAd(const FileId& file_id, uint64_t block) {
  std::array<uint8_t, kBlockAdSize> ad;
  std::memcpy(ad.data(), file_id.data(), kFileIdSize);
  PutBigEndian64(ad.data() + kFileIdSize, block);
  return ad;
}

StatusOr<Geometry> GeometryFor(crypto::CipherSuite suite, uint32_t block_size) {
  if (!IsValidBlockSize(block_size)) {
    return Status::InvalidArgument("block size " + std::to_string(block_size) +
                                   " is not a power of two in 512..1048576");
  }
  if (!crypto::CipherSuiteFromId(static_cast<uint8_t>(suite)).ok()) {
    return Status::InvalidArgument("unknown cipher suite");
  }
  return Geometry{block_size,
                  static_cast<uint32_t>(crypto::NonceSize(suite) + crypto::Aead::kTagSize)};
}

StatusOr<std::unique_ptr<BlockCodec>> BlockCodec::New(crypto::CipherSuite suite,
                                                      uint32_t block_size, const SecretBytes& dek,
                                                      const FileId& file_id,
                                                      crypto::RandomSource& nonce_random) {
  KMSFS_ASSIGN_OR_RETURN(Geometry geometry, GeometryFor(suite, block_size));
  KMSFS_ASSIGN_OR_RETURN(SecretBytes content_key, DeriveContentKey(dek, file_id));
  KMSFS_ASSIGN_OR_RETURN(auto aead, crypto::Aead::New(suite, content_key, nonce_random));
  return std::unique_ptr<BlockCodec>(new BlockCodec(std::move(aead), geometry, file_id));
}

BlockCodec::BlockCodec(std::unique_ptr<crypto::Aead> aead, Geometry geometry,
                       const FileId& file_id)
    : aead_(std::move(aead)), geometry_(geometry), file_id_(file_id) {}

Status BlockCodec::Seal(uint64_t first_block, std::span<const uint8_t> plain,
                        std::span<uint8_t> out) const {
  if (out.size() != SealedSize(plain.size(), geometry_)) {
    return Status::InvalidArgument("BlockCodec::Seal: output size " + std::to_string(out.size()) +
                                   " != sealed size " +
                                   std::to_string(SealedSize(plain.size(), geometry_)));
  }
  const size_t bs = geometry_.block_size;
  const size_t oh = geometry_.overhead;
  std::array<uint8_t, kBlockAdSize> ad = BlockAd(file_id_, first_block);
  size_t in_pos = 0;
  size_t out_pos = 0;
  for (uint64_t block = first_block; in_pos < plain.size(); ++block) {
    const size_t n = std::min(bs, plain.size() - in_pos);
    PutBigEndian64(ad.data() + kFileIdSize, block);
    Status s = aead_->Seal(plain.subspan(in_pos, n), ad, out.subspan(out_pos, n + oh));
    if (!s.ok()) {
      OPENSSL_cleanse(out.data(), out.size());
      return s.Annotate("seal block " + std::to_string(block));
    }
    in_pos += n;
    out_pos += n + oh;
  }
  return Status::Ok();
}

Status BlockCodec::Open(uint64_t first_block, std::span<const uint8_t> sealed,
                        std::span<uint8_t> out) const {
  const size_t sbs = geometry_.sealed_block_size();
  const size_t oh = geometry_.overhead;
  const uint64_t full = sealed.size() / sbs;
  const size_t rem = sealed.size() % sbs;
  if (rem != 0 && rem <= oh) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::DataLoss("block " + std::to_string(first_block + full) + ": truncated to " +
                            std::to_string(rem) + " bytes, no room for data (overhead " +
                            std::to_string(oh) + ")");
  }
  const size_t plain_size = full * geometry_.block_size + (rem == 0 ? 0 : rem - oh);
  if (out.size() != plain_size) {
    return Status::InvalidArgument("BlockCodec::Open: output size " + std::to_string(out.size()) +
                                   " != plaintext size " + std::to_string(plain_size));
  }
  std::array<uint8_t, kBlockAdSize> ad = BlockAd(file_id_, first_block);
  size_t in_pos = 0;
  size_t out_pos = 0;
  for (uint64_t block = first_block; in_pos < sealed.size(); ++block) {
    const size_t len = std::min(sbs, sealed.size() - in_pos);
    const uint8_t* in = sealed.data() + in_pos;
    // Hole rule. Seal never writes an all-zero nonce, so a zero nonce is the
    // cheap first test; only then is the whole block scanned.
    if (AllZero(in, aead_->nonce_size()) && AllZero(in, len)) {
      std::memset(out.data() + out_pos, 0, len - oh);
    } else {
      PutBigEndian64(ad.data() + kFileIdSize, block);
      Status s = aead_->Open(sealed.subspan(in_pos, len), ad, out.subspan(out_pos, len - oh));
      if (!s.ok()) {
        OPENSSL_cleanse(out.data(), out.size());
        if (s.code() == StatusCode::kDataLoss) {
          return Status::DataLoss("block " + std::to_string(block) +
                                  " failed authentication (tampered, moved, truncated or wrong key)");
        }
        return s.Annotate("open block " + std::to_string(block));
      }
    }
    in_pos += len;
    out_pos += len - oh;
  }
  return Status::Ok();
}

}  // namespace kmsfs::format
