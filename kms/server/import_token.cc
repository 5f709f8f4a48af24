#include "kms/server/import_token.h"

#include <cstring>
#include <vector>

#include "base/base64.h"
#include "crypto/hash.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kMacOffset = kImportTokenBytes - 32;

void PutBe64(uint8_t* p, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(u & 0xFF);
    u >>= 8;
  }
}

int64_t GetBe64(const uint8_t* p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | p[i];
  return static_cast<int64_t>(u);
}

}  // namespace

std::string EncodeImportToken(const ImportToken& token, const SecretBytes& mac_key) {
  std::vector<uint8_t> b(kImportTokenBytes, 0);
  b[0] = kVersion;
  b[1] = static_cast<uint8_t>(token.algorithm);
  std::memcpy(b.data() + 2, token.key_id.data(), std::min<size_t>(token.key_id.size(), 36));
  PutBe64(b.data() + 38, token.issued_s);
  PutBe64(b.data() + 46, token.expires_s);
  std::memcpy(b.data() + 54, token.token_id.data(), 32);
  std::memcpy(b.data() + 86, token.public_key_digest.data(), 32);
  crypto::Sha256Digest mac = crypto::HmacSha256(mac_key, std::span<const uint8_t>(b.data(), kMacOffset));
  std::memcpy(b.data() + kMacOffset, mac.data(), 32);
  return Base64Encode(b);
}

StatusOr<ImportToken> DecodeImportToken(std::string_view text, const SecretBytes& mac_key) {
  auto decoded = Base64Decode(text);
  if (!decoded.ok()) return Status::InvalidArgument("import token is not Base64");
  const std::vector<uint8_t>& b = *decoded;
  if (b.size() != kImportTokenBytes) return Status::InvalidArgument("import token has the wrong size");
  crypto::Sha256Digest mac = crypto::HmacSha256(mac_key, std::span<const uint8_t>(b.data(), kMacOffset));
  if (!crypto::ConstantTimeEquals(mac, std::span<const uint8_t>(b.data() + kMacOffset, 32))) {
    return Status::InvalidArgument("import token failed verification");
  }
  if (b[0] != kVersion) return Status::InvalidArgument("unknown import token version");
  ImportToken t;
  switch (b[1]) {
    case static_cast<uint8_t>(crypto::WrappingAlgorithm::kOaepSha256):
    case static_cast<uint8_t>(crypto::WrappingAlgorithm::kOaepSha1):
    case static_cast<uint8_t>(crypto::WrappingAlgorithm::kPkcs1V15):
      t.algorithm = static_cast<crypto::WrappingAlgorithm>(b[1]);
      break;
    default:
      return Status::InvalidArgument("unknown wrapping algorithm in import token");
  }
  t.key_id.assign(reinterpret_cast<const char*>(b.data() + 2), 36);
  if (!IsKeyId(t.key_id)) return Status::InvalidArgument("import token names a malformed key id");
  t.issued_s = GetBe64(b.data() + 38);
  t.expires_s = GetBe64(b.data() + 46);
  std::memcpy(t.token_id.data(), b.data() + 54, 32);
  std::memcpy(t.public_key_digest.data(), b.data() + 86, 32);
  return t;
}

}  // namespace kmsfs::kms::server
