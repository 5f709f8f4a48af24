#include "kms/server/envelope.h"

#include <cstring>

#include "base/bytes.h"
#include "crypto/aes_gcm_oneshot.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kHeaderSize = 4;
constexpr size_t kVersionSize = 4;
constexpr size_t kMacSize = 32;
constexpr size_t kTrailerSize = kEnvelopeKeyIdSize + kVersionSize + kMacSize;  // 72
constexpr size_t kMaxLengthField = 0xFFFF;
constexpr std::string_view kGcmLabel = "kmsd envelope v2 aes-256-gcm";
constexpr std::string_view kMacLabel = "kmsd envelope v2 hmac-sha256";

// header || key id || version || canonical context
std::vector<uint8_t> Aad(std::span<const uint8_t> envelope, std::string_view canonical_context) {
  // Sized up front and filled with memcpy: GCC 12 at -O3 misreads the
  // bounds of chained vector::insert calls here (-Wstringop-overflow).
  constexpr size_t kIdAndVersion = kEnvelopeKeyIdSize + kVersionSize;
  std::vector<uint8_t> aad(kHeaderSize + kIdAndVersion + canonical_context.size());
  std::memcpy(aad.data(), envelope.data(), kHeaderSize);
  std::memcpy(aad.data() + kHeaderSize, envelope.data() + envelope.size() - kTrailerSize, kIdAndVersion);
  if (!canonical_context.empty()) {
    std::memcpy(aad.data() + kHeaderSize + kIdAndVersion, canonical_context.data(), canonical_context.size());
  }
  return aad;
}

Status Corrupt(std::string_view why) { return Status::DataLoss(std::string("envelope: ") + std::string(why)); }

}  // namespace

StatusOr<EnvelopeKeys> DeriveEnvelopeKeys(const SecretBytes& material) {
  if (material.size() != crypto::kAes256KeySize) return Status::Internal("CMK material has the wrong size");
  KMSFS_ASSIGN_OR_RETURN(SecretBytes gcm,
                         crypto::HkdfSha256(material.span(), {}, AsBytes(kGcmLabel), crypto::kAes256KeySize));
  KMSFS_ASSIGN_OR_RETURN(SecretBytes mac, crypto::HkdfSha256(material.span(), {}, AsBytes(kMacLabel), 32));
  return EnvelopeKeys{std::move(gcm), std::move(mac)};
}

size_t EnvelopePadding(EnvelopeKind kind) { return kind == EnvelopeKind::kDataKey ? 20 : 36; }

size_t EnvelopeSize(EnvelopeKind kind, size_t plaintext_size) {
  return kEnvelopeFixedOverhead + EnvelopePadding(kind) + plaintext_size;
}

StatusOr<EnvelopeInfo> InspectEnvelope(std::span<const uint8_t> env, EnvelopeKind kind) {
  const size_t overhead = kEnvelopeFixedOverhead + EnvelopePadding(kind);
  if (env.size() <= overhead) return Corrupt("too short");
  if (env.size() - 36 > kMaxLengthField) return Corrupt("too long");
  if (env[0] != 0x02 || env[1] != 0x00) return Corrupt("unknown format version");
  const size_t length_field = static_cast<size_t>(env[2]) | (static_cast<size_t>(env[3]) << 8);
  if (length_field != env.size() - 36) return Corrupt("length field does not match");
  EnvelopeInfo info;
  info.plaintext_size = env.size() - overhead;
  const size_t pad_start = kHeaderSize + crypto::kGcmNonceSize + info.plaintext_size + crypto::kGcmTagSize;
  for (size_t i = pad_start; i < env.size() - kTrailerSize; ++i) {
    if (env[i] != 0) return Corrupt("padding is not zero");
  }
  const size_t id_start = env.size() - kTrailerSize;
  info.key_id.assign(reinterpret_cast<const char*>(env.data() + id_start), kEnvelopeKeyIdSize);
  if (!IsKeyId(info.key_id)) return Corrupt("embedded key id is malformed");
  const uint8_t* v = env.data() + id_start + kEnvelopeKeyIdSize;
  info.version = static_cast<uint32_t>(v[0]) | (static_cast<uint32_t>(v[1]) << 8) |
                 (static_cast<uint32_t>(v[2]) << 16) | (static_cast<uint32_t>(v[3]) << 24);
  return info;
}

StatusOr<std::vector<uint8_t>> SealEnvelope(const SecretBytes& material, std::string_view key_id,
                                            uint32_t version, EnvelopeKind kind,
                                            std::span<const uint8_t> plaintext,
                                            std::string_view canonical_context) {
  KMSFS_ASSIGN_OR_RETURN(EnvelopeKeys keys, DeriveEnvelopeKeys(material));
  return SealEnvelope(keys, key_id, version, kind, plaintext, canonical_context);
}

StatusOr<std::vector<uint8_t>> SealEnvelope(const EnvelopeKeys& keys, std::string_view key_id, uint32_t version,
                                            EnvelopeKind kind, std::span<const uint8_t> plaintext,
                                            std::string_view canonical_context) {
  if (key_id.size() != kEnvelopeKeyIdSize) return Status::InvalidArgument("key id must be 36 characters");
  if (plaintext.empty()) return Status::InvalidArgument("nothing to seal");
  const size_t total = EnvelopeSize(kind, plaintext.size());
  if (total - 36 > kMaxLengthField) return Status::InvalidArgument("plaintext too long for an envelope");

  std::vector<uint8_t> env(total, 0);
  env[0] = 0x02;
  env[1] = 0x00;
  env[2] = static_cast<uint8_t>((total - 36) & 0xFF);
  env[3] = static_cast<uint8_t>((total - 36) >> 8);
  std::span<uint8_t> nonce(env.data() + kHeaderSize, crypto::kGcmNonceSize);
  crypto::RandomBytes(nonce);
  const size_t id_start = total - kTrailerSize;
  std::memcpy(env.data() + id_start, key_id.data(), kEnvelopeKeyIdSize);
  uint8_t* v = env.data() + id_start + kEnvelopeKeyIdSize;
  v[0] = static_cast<uint8_t>(version);
  v[1] = static_cast<uint8_t>(version >> 8);
  v[2] = static_cast<uint8_t>(version >> 16);
  v[3] = static_cast<uint8_t>(version >> 24);

  const std::vector<uint8_t> aad = Aad(env, canonical_context);
  std::span<uint8_t> ct(env.data() + kHeaderSize + crypto::kGcmNonceSize, plaintext.size());
  std::span<uint8_t> tag(ct.data() + ct.size(), crypto::kGcmTagSize);
  KMSFS_RETURN_IF_ERROR(crypto::AesGcmSeal(keys.gcm, nonce, plaintext, aad, ct, tag));

  const crypto::Sha256Digest mac = crypto::HmacSha256(keys.mac, std::span<const uint8_t>(env.data(), total - kMacSize));
  std::memcpy(env.data() + total - kMacSize, mac.data(), kMacSize);
  return env;
}

StatusOr<SecretBytes> OpenEnvelope(const SecretBytes& material, std::span<const uint8_t> env,
                                   EnvelopeKind kind, std::string_view canonical_context) {
  KMSFS_ASSIGN_OR_RETURN(EnvelopeKeys keys, DeriveEnvelopeKeys(material));
  return OpenEnvelope(keys, env, kind, canonical_context);
}

StatusOr<SecretBytes> OpenEnvelope(const EnvelopeKeys& keys, std::span<const uint8_t> env, EnvelopeKind kind,
                                   std::string_view canonical_context) {
  KMSFS_ASSIGN_OR_RETURN(EnvelopeInfo info, InspectEnvelope(env, kind));
  const size_t total = env.size();
  const crypto::Sha256Digest mac = crypto::HmacSha256(keys.mac, env.first(total - kMacSize));
  if (!crypto::ConstantTimeEquals(mac, env.last(kMacSize))) return Corrupt("integrity check failed");

  const std::vector<uint8_t> aad = Aad(env, canonical_context);
  std::span<const uint8_t> nonce = env.subspan(kHeaderSize, crypto::kGcmNonceSize);
  std::span<const uint8_t> ct = env.subspan(kHeaderSize + crypto::kGcmNonceSize, info.plaintext_size);
  std::span<const uint8_t> tag =
      env.subspan(kHeaderSize + crypto::kGcmNonceSize + info.plaintext_size, crypto::kGcmTagSize);
  SecretBytes plain(info.plaintext_size);
  Status st = crypto::AesGcmOpen(keys.gcm, nonce, ct, aad, tag, plain.mutable_span());
  if (!st.ok()) return Corrupt("authentication failed");
  return plain;
}

}  // namespace kmsfs::kms::server
