// The ciphertext envelope kmsd returns from create-datakey, encrypt-datakey
// (hex) and encrypt-data (Base64); spec/kms-api.md §5. Clients treat it as
// opaque; kmsd alone seals and opens it.
//
//   offset  size  content
//   0       2     02 00                         format version
//   2       2     uint16 little-endian = total length - 36
//   4       12    random GCM nonce
//   16      n     AES-256-GCM ciphertext of the n-byte plaintext
//   16+n    16    GCM tag
//   32+n    P     zero padding: P = 20 for data keys, 36 for encrypt-data
//   T-72    36    key id, ASCII
//   T-36    4     key material version, uint32 little-endian
//   T-32    32    HMAC-SHA256 over bytes [0, T-32)
//
// So a 64-byte DEK gives 188 bytes and encrypt-data has 140 bytes of overhead,
// as in the documented examples. The GCM key and the HMAC key are derived
// from the CMK material version with HKDF-SHA256 (distinct labels); the GCM
// associated data is header(4) || key id || version || what the ciphertext is
// bound to (request.h BoundData: the canonical encryption context, then any
// additional_authenticated_data). Open checks the HMAC (constant time) before decrypting, so any
// tampering, a wrong key or a wrong context fails without releasing plaintext.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_ENVELOPE_H_
#define KMSFS_KMS_SERVER_ENVELOPE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::kms::server {

enum class EnvelopeKind { kDataKey, kData };

inline constexpr size_t kEnvelopeKeyIdSize = 36;
// header + nonce + tag + key id + version + HMAC, without padding.
inline constexpr size_t kEnvelopeFixedOverhead = 4 + 12 + 16 + 36 + 4 + 32;

size_t EnvelopePadding(EnvelopeKind kind);
size_t EnvelopeSize(EnvelopeKind kind, size_t plaintext_size);

// What the envelope says about itself, readable without any key.
struct EnvelopeInfo {
  std::string key_id;
  uint32_t version = 0;
  size_t plaintext_size = 0;
};

// Structural checks only: version bytes, length field, padding, key id shape.
// kDataLoss when the bytes are not an envelope of `kind`.
StatusOr<EnvelopeInfo> InspectEnvelope(std::span<const uint8_t> envelope, EnvelopeKind kind);

// The AES-256-GCM and HMAC-SHA256 keys of one CMK material version.
struct EnvelopeKeys {
  SecretBytes gcm;
  SecretBytes mac;
};
StatusOr<EnvelopeKeys> DeriveEnvelopeKeys(const SecretBytes& material);

// Seals `plaintext` (1..65535-ish bytes) under the material of `key_id` version `version`.
StatusOr<std::vector<uint8_t>> SealEnvelope(const SecretBytes& material, std::string_view key_id,
                                            uint32_t version, EnvelopeKind kind,
                                            std::span<const uint8_t> plaintext,
                                            std::string_view canonical_context);

// The same with keys derived from the material beforehand.
StatusOr<std::vector<uint8_t>> SealEnvelope(const EnvelopeKeys& keys, std::string_view key_id, uint32_t version,
                                            EnvelopeKind kind, std::span<const uint8_t> plaintext,
                                            std::string_view canonical_context);

// Inspects, verifies the HMAC, then decrypts. kDataLoss on any mismatch.
StatusOr<SecretBytes> OpenEnvelope(const SecretBytes& material, std::span<const uint8_t> envelope,
                                   EnvelopeKind kind, std::string_view canonical_context);
StatusOr<SecretBytes> OpenEnvelope(const EnvelopeKeys& keys, std::span<const uint8_t> envelope, EnvelopeKind kind,
                                   std::string_view canonical_context);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_ENVELOPE_H_
