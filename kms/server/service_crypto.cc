// Data-key and data actions: spec/kms-api.md §4, envelope §5.
#include "base/base64.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "kms/server/api_error.h"
#include "kms/server/envelope.h"
#include "kms/server/service.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr int64_t kMaxDekBytes = 1024;
constexpr size_t kMaxDataBytes = 4096;

// DEK length in bytes from datakey_length (bits) or key_spec; spec §4.1.
StatusOr<size_t> DataKeyBytes(const Request& r) {
  std::optional<size_t> from_spec;
  if (auto spec = r.String("key_spec")) {
    if (*spec == "AES_128") {
      from_spec = 16;
    } else if (*spec == "AES_256") {
      from_spec = 32;
    } else {
      return KmsError("KMS.1902");
    }
  }
  if (const Request::Decimal len = r.DecimalField("datakey_length"); len.present) {
    const std::optional<int64_t> bits = len.value;
    if (!bits || *bits < 8 || *bits > 8192) return KmsError("KMS.1901");
    if (*bits % 8 != 0) return KmsError("KMS.1903");
    return static_cast<size_t>(*bits / 8);
  }
  return from_spec.value_or(32);
}

// Hex string into secure memory, with the SHA-256 hex of the plaintext.
std::string DigestHex(const SecretBytes& data) { return HexEncodeUpper(crypto::Sha256(data.span())); }

}  // namespace

StatusOr<Json> Service::CreateDataKey(const Caller& c, const Request& r, bool with_plaintext) {
  KMSFS_ASSIGN_OR_RETURN(const std::string bound, BoundData(r));
  KMSFS_ASSIGN_OR_RETURN(size_t dek_bytes, DataKeyBytes(r));
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), /*allow_alias=*/true));
  KMSFS_RETURN_IF_ERROR(
      Authorize(c, k, with_plaintext ? "create-datakey" : "create-datakey-without-plaintext"));
  KMSFS_RETURN_IF_ERROR(CheckUsableForCrypto(k));
  KMSFS_ASSIGN_OR_RETURN(auto keys, EnvelopeKeysOf(k, k.current_version));
  SecretBytes dek = SecretBytes::Random(dek_bytes);
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> env, SealEnvelope(*keys, k.key_id, k.current_version,
                                                                EnvelopeKind::kDataKey, dek.span(), bound));
  Json out = {{"key_id", k.key_id}};
  if (with_plaintext) out["plain_text"] = HexEncodeUpperSecret(dek.span());
  out["cipher_text"] = HexEncodeUpper(env);
  return out;
}

StatusOr<Json> Service::EncryptDataKey(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(const std::string bound, BoundData(r));
  std::string_view hex = *r.String("plain_text");
  auto decoded = HexDecodeSecret(hex);
  if (hex.empty() || !decoded.ok()) return KmsError("KMS.2101");
  const std::optional<int64_t> dek_len = r.DecimalField("datakey_plain_length").value;
  if (!dek_len || *dek_len < 1 || *dek_len > kMaxDekBytes) return KmsError("KMS.2102");
  const SecretBytes& both = *decoded;
  if (both.size() != static_cast<size_t>(*dek_len) + 32) return KmsError("KMS.2104");
  SecretBytes dek = SecretBytes::CopyFrom(both.span().first(static_cast<size_t>(*dek_len)));
  const crypto::Sha256Digest digest = crypto::Sha256(dek.span());
  if (!crypto::ConstantTimeEquals(digest, both.span().last(32))) return KmsError("KMS.2103");

  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), /*allow_alias=*/true));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "encrypt-datakey"));
  KMSFS_RETURN_IF_ERROR(CheckUsableForCrypto(k));
  KMSFS_ASSIGN_OR_RETURN(auto keys, EnvelopeKeysOf(k, k.current_version));
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> env, SealEnvelope(*keys, k.key_id, k.current_version,
                                                                EnvelopeKind::kDataKey, dek.span(), bound));
  return Json{{"key_id", k.key_id},
                        {"cipher_text", HexEncodeUpper(env)},
                        {"datakey_length", std::to_string(*dek_len)}};
}

StatusOr<Json> Service::DecryptDataKey(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(const std::string bound, BoundData(r));
  auto env = HexDecode(*r.String("cipher_text"));
  if (!env.ok()) return KmsError("KMS.2201");
  auto info = InspectEnvelope(*env, EnvelopeKind::kDataKey);
  if (!info.ok()) return KmsError("KMS.2201");
  const std::optional<int64_t> dek_len = r.DecimalField("datakey_cipher_length").value;
  if (!dek_len || *dek_len < 1 || *dek_len > kMaxDekBytes) return KmsError("KMS.2202");
  if (info->plaintext_size != static_cast<size_t>(*dek_len)) return KmsError("KMS.2204");

  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), /*allow_alias=*/true));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "decrypt-datakey"));
  KMSFS_RETURN_IF_ERROR(CheckUsableForCrypto(k));
  if (info->key_id != k.key_id) return KmsError("KMS.2201");
  auto keys = EnvelopeKeysOf(k, info->version);
  if (!keys.ok()) {
    if (keys.status().code() == StatusCode::kNotFound) return KmsError("KMS.2201");
    return keys.status();
  }
  auto dek = OpenEnvelope(**keys, *env, EnvelopeKind::kDataKey, bound);
  if (!dek.ok()) return KmsError("KMS.2201");
  return Json{{"data_key", HexEncodeUpperSecret(dek->span())},
                        {"datakey_length", std::to_string(dek->size())},
                        {"datakey_dgst", DigestHex(*dek)}};
}

StatusOr<Json> Service::EncryptData(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(const std::string bound, BoundData(r));
  std::string_view text = *r.String("plain_text");
  if (text.empty() || text.size() > kMaxDataBytes) return KmsError("KMS.2101");
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), /*allow_alias=*/true));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "encrypt-data"));
  KMSFS_RETURN_IF_ERROR(CheckUsableForCrypto(k));
  if (auto alg = r.NonEmptyString("encryption_algorithm"); alg && *alg != "SYMMETRIC_DEFAULT") {
    return KmsError("KMS.2105");
  }
  KMSFS_ASSIGN_OR_RETURN(auto keys, EnvelopeKeysOf(k, k.current_version));
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> env, SealEnvelope(*keys, k.key_id, k.current_version,
                                                                EnvelopeKind::kData, AsBytes(text), bound));
  return Json{{"key_id", k.key_id}, {"cipher_text", Base64Encode(env)}};
}

StatusOr<Json> Service::DecryptData(const Caller& c, const Request& r) {
  KMSFS_ASSIGN_OR_RETURN(const std::string bound, BoundData(r));
  std::string_view text = *r.String("cipher_text");
  if (!IsBase64Text(text, 188, 5648)) return KmsError("KMS.2201");
  auto env = Base64Decode(text);
  if (!env.ok()) return KmsError("KMS.2201");
  auto info = InspectEnvelope(*env, EnvelopeKind::kData);
  if (!info.ok()) return KmsError("KMS.2201");
  if (auto named = r.NonEmptyString("key_id")) {
    if (!IsKeyId(*named)) return KmsError("KMS.0205");
    if (*named != info->key_id) return KmsError("KMS.2201");
  }
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, info->key_id, false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "decrypt-data"));
  KMSFS_RETURN_IF_ERROR(CheckUsableForCrypto(k));
  if (auto alg = r.NonEmptyString("encryption_algorithm"); alg && *alg != "SYMMETRIC_DEFAULT") {
    return KmsError("KMS.2105");
  }
  auto keys = EnvelopeKeysOf(k, info->version);
  if (!keys.ok()) {
    if (keys.status().code() == StatusCode::kNotFound) return KmsError("KMS.2201");
    return keys.status();
  }
  auto plain = OpenEnvelope(**keys, *env, EnvelopeKind::kData, bound);
  if (!plain.ok()) return KmsError("KMS.2201");
  return Json{{"key_id", k.key_id},
              {"plain_text", SecureString(reinterpret_cast<const char*>(plain->data()), plain->size())},
              {"plain_text_base64", Base64EncodeSecret(plain->span())}};
}

}  // namespace kmsfs::kms::server
