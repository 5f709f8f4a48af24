// BYOK import actions: spec/kms-api.md §7.
#include <cmath>

#include "base/base64.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "kms/server/api_error.h"
#include "kms/server/import_token.h"
#include "kms/server/service.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kImportedMaterialBytes = 32;

std::string PrivateKeyLabel(std::string_view token_id_hex) {
  return "kmsd import private key v1|" + std::string(token_id_hex);
}

// expiration_time: epoch seconds as a JSON number or a numeric string; 0 = none.
StatusOr<int64_t> ExpirationSeconds(const Request& r) {
  const Json* v = r.Get("expiration_time");
  if (v == nullptr) return int64_t{0};
  if (v->is_string()) {
    const std::string_view s = v->get_ref<const Json::string_t&>();
    if (s.empty()) return int64_t{0};
    auto n = ParseDecimal(s);
    if (!n) return KmsError("KMS.0308");
    return *n;
  }
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > 999'999'999'999'999ULL) return KmsError("KMS.0308");
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) {
    int64_t i = v->get<int64_t>();
    if (i < 0) return KmsError("KMS.0308");
    return i;
  }
  double d = v->get<double>();
  if (!std::isfinite(d) || d < 0 || d > 1e15 || d != std::floor(d)) return KmsError("KMS.0308");
  return static_cast<int64_t>(d);
}

}  // namespace

StatusOr<Json> Service::GetParametersForImport(const Caller& c, const Request& r) {
  auto alg = crypto::ParseWrappingAlgorithm(*r.String("wrapping_algorithm"));
  if (!alg) return KmsError("KMS.0308");
  {
    KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
    KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
    if (k.origin != "external") return KmsError("KMS.0309");
    if (k.key_state != kStatePendingImport) return KmsError("KMS.0310");
  }
  // Key generation is slow; it runs outside the service lock.
  KMSFS_ASSIGN_OR_RETURN(crypto::RsaKeyPair pair, crypto::GenerateRsa2048());

  ImportToken token;
  token.algorithm = *alg;
  token.key_id = std::string(*r.String("key_id"));
  token.issued_s = clock_->WallNowSec();
  token.expires_s = token.issued_s + options_.import_token_ttl_sec;
  crypto::RandomBytes(token.token_id);
  token.public_key_digest = crypto::Sha256(pair.public_spki_der);
  const std::string token_id_hex = HexEncode(token.token_id);

  ImportTokenRecord rec;
  rec.token_id = token_id_hex;
  rec.key_id = token.key_id;
  rec.algorithm = std::string(crypto::WrappingAlgorithmName(*alg));
  rec.expires_s = token.expires_s;
  rec.sealed_private_key = keyring_->Seal(PrivateKeyLabel(token_id_hex), pair.private_der.span());
  rec.created_ms = clock_->WallNowMs();
  KMSFS_RETURN_IF_ERROR(store_->PurgeImportTokensExpiredBefore(token.issued_s));
  KMSFS_RETURN_IF_ERROR(store_->PutImportToken(rec));

  return Json{{"key_id", token.key_id},
                        {"import_token", EncodeImportToken(token, keyring_->import_token_mac_key())},
                        {"expiration_time", token.expires_s},
                        {"public_key", Base64Encode(pair.public_spki_der)}};
}

StatusOr<Json> Service::ImportKeyMaterial(const Caller& c, const Request& r) {
  std::string_view wrapped_text = *r.String("encrypted_key_material");
  if (!IsBase64Text(wrapped_text, 344, 360)) return KmsError("KMS.0308");
  auto wrapped = Base64Decode(wrapped_text);
  if (!wrapped.ok()) return KmsError("KMS.0308");
  std::string_view token_text = *r.String("import_token");
  if (!IsBase64Text(token_text, 200, 6144)) return KmsError("KMS.2605");
  KMSFS_ASSIGN_OR_RETURN(int64_t expiration_s, ExpirationSeconds(r));
  const int64_t now_s = clock_->WallNowSec();
  if (expiration_s != 0 && expiration_s <= now_s) return KmsError("KMS.2602");

  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.origin != "external") return KmsError("KMS.0309");
  if (k.key_state != kStatePendingImport) return KmsError("KMS.0310");

  auto token = DecodeImportToken(token_text, keyring_->import_token_mac_key());
  if (!token.ok()) return KmsError("KMS.2605");
  if (token->key_id != k.key_id) return KmsError("KMS.2603");
  if (token->expires_s <= now_s) return KmsError("KMS.2601");
  const std::string token_id_hex = HexEncode(token->token_id);
  KMSFS_ASSIGN_OR_RETURN(std::optional<ImportTokenRecord> rec, store_->GetImportToken(token_id_hex));
  if (!rec || rec->key_id != k.key_id) return KmsError("KMS.2605");
  auto private_der = keyring_->Open(PrivateKeyLabel(token_id_hex), rec->sealed_private_key);
  if (!private_der.ok()) return KmsError("KMS.2605");

  // One answer for every way the unwrap can fail (KMS.2604 for a wrong
  // length would make the answer a padding oracle for RSAES-PKCS1-v1_5).
  auto material = crypto::UnwrapKeyMaterial(*private_der, token->algorithm, *wrapped, kImportedMaterialBytes);
  if (!material.ok() && material.status().code() != StatusCode::kInvalidArgument) return material.status();
  // A mauled RSAES-PKCS1-v1_5 ciphertext now and then unwraps (its padding
  // conforms) to other material. Where material was imported before, that
  // must look like an unwrap that failed, after the same work, or the two
  // answers are the padding oracle again (Bleichenbacher): a failed unwrap
  // goes on with stand-in material, and both end in KMS.0311. OAEP leaves
  // no such oracle and keeps the cloud's KMS.2606 for other material.
  const bool unwrapped = material.ok();
  const SecretBytes stand_in(kImportedMaterialBytes);
  const crypto::Sha256Digest fingerprint =
      keyring_->MaterialFingerprint(k.key_id, unwrapped ? *material : stand_in);
  const bool same_material =
      k.import_fingerprint.empty() || crypto::ConstantTimeEquals(fingerprint, k.import_fingerprint);
  if (!unwrapped || !same_material) {
    if (!unwrapped || token->algorithm == crypto::WrappingAlgorithm::kPkcs1V15) return KmsError("KMS.0311");
    return KmsError("KMS.2606");
  }

  std::vector<uint8_t> sealed = SealMaterial(k.key_id, 0, *material);
  k.key_state = kStateEnabled;
  k.current_version = 0;
  k.expiration_ms = expiration_s * 1000;
  k.import_fingerprint.assign(fingerprint.begin(), fingerprint.end());
  KMSFS_RETURN_IF_ERROR(store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->PutMaterial(k.key_id, 0, sealed, clock_->WallNowMs()));
    return store_->UpdateKey(k);
  }));
  return Json::object();
}

StatusOr<Json> Service::DeleteImportedKeyMaterial(const Caller& c, const Request& r) {
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  if (k.origin != "external") return KmsError("KMS.0309");
  if (k.key_state != kStateEnabled && k.key_state != kStateDisabled) return KmsError("KMS.2701");
  k.key_state = kStatePendingImport;
  k.expiration_ms = 0;
  KMSFS_RETURN_IF_ERROR(store_->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store_->DeleteMaterial(k.key_id));
    ForgetEnvelopeKeys(k.key_id);
    return store_->UpdateKey(k);
  }));
  return Json::object();
}

}  // namespace kmsfs::kms::server
