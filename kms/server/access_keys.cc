#include "kms/server/access_keys.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"
#include "kms/server/identity.h"

namespace kmsfs::kms::server {
namespace {

namespace sdk = crypto::sdk_hmac;

constexpr std::string_view kUpperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// `n` characters drawn uniformly from `alphabet` (random bytes over the
// largest multiple of its size are drawn again, so there is no bias).
SecureString RandomText(std::string_view alphabet, size_t n) {
  SecureString out;
  const size_t limit = 256 - 256 % alphabet.size();
  std::array<uint8_t, 64> pool{};
  while (out.size() < n) {
    crypto::RandomBytes(pool);
    for (uint8_t b : pool) {
      if (b < limit && out.size() < n) out.push_back(alphabet[b % alphabet.size()]);
    }
  }
  sodium_memzero(pool.data(), pool.size());
  return out;
}

std::string SealLabel(std::string_view access) { return "kmsd access key v1|" + std::string(access); }

std::string TokenHash(std::string_view token) { return HexEncode(crypto::Sha256(AsBytes(token))); }

}  // namespace

Status GatewayAuthError(std::string_view detail) {
  return WithApiError(Status::Unauthenticated("Incorrect IAM authentication information: " + std::string(detail)),
                      "APIGW.0301", 401);
}

std::vector<uint8_t> AccessKeys::SealSecret(std::string_view access, std::span<const uint8_t> secret) const {
  return keyring_->Seal(SealLabel(access), secret);
}

AccessKeyRecord AccessKeys::FileKey(const std::string& user_id, const AccessKeySpec& spec) const {
  AccessKeyRecord r;
  r.access = spec.access;
  r.user_id = user_id;
  r.sealed_secret = SealSecret(spec.access, spec.secret.span());
  r.description = "from the users file";
  r.created_ms = clock_->WallNowMs();
  r.source = "file";
  return r;
}

StatusOr<AccessKeys::Created> AccessKeys::CreatePermanent(const std::string& user_id, std::string_view description) {
  KMSFS_ASSIGN_OR_RETURN(std::vector<AccessKeyRecord> existing, List(user_id));
  if (existing.size() >= kMaxPermanentPerUser) {
    return Status::FailedPrecondition("The number of access keys of this user has reached the maximum (2).");
  }
  Created c;
  c.secret = RandomText(kAlnum, 40);
  c.record.access = std::string(RandomText(kUpperDigits, 20));
  c.record.user_id = user_id;
  c.record.sealed_secret = SealSecret(c.record.access, AsBytes(c.secret));
  c.record.description = std::string(description);
  c.record.created_ms = clock_->WallNowMs();
  c.record.source = "api";
  KMSFS_RETURN_IF_ERROR(store_->PutAccessKey(c.record));
  return c;
}

StatusOr<AccessKeys::Created> AccessKeys::CreateTemporary(const std::string& user_id, int64_t duration_sec) {
  Created c;
  c.secret = RandomText(kAlnum, 40);
  c.security_token = RandomText(kAlnum, 96);
  c.record.access = std::string(RandomText(kUpperDigits, 20));
  c.record.user_id = user_id;
  c.record.sealed_secret = SealSecret(c.record.access, AsBytes(c.secret));
  c.record.description = "temporary";
  c.record.created_ms = clock_->WallNowMs();
  c.record.expires_ms = c.record.created_ms + duration_sec * 1000;
  c.record.security_token_hash = TokenHash(c.security_token);
  c.record.source = "temporary";
  // Temporary keys of the past are of no use to anyone any more.
  (void)store_->PurgeAccessKeysExpiredBefore(c.record.created_ms - 86'400'000);
  KMSFS_RETURN_IF_ERROR(store_->PutAccessKey(c.record));
  return c;
}

StatusOr<std::vector<AccessKeyRecord>> AccessKeys::List(const std::string& user_id) {
  KMSFS_ASSIGN_OR_RETURN(std::vector<AccessKeyRecord> all, store_->ListAccessKeys(user_id));
  std::vector<AccessKeyRecord> permanent;
  for (AccessKeyRecord& k : all) {
    if (k.source != "temporary") permanent.push_back(std::move(k));
  }
  return permanent;
}

StatusOr<AccessKeyRecord> AccessKeys::Get(std::string_view access) {
  KMSFS_ASSIGN_OR_RETURN(std::optional<AccessKeyRecord> k, store_->GetAccessKey(access));
  if (!k || k->source == "temporary") return Status::NotFound("Could not find the access key.");
  return *std::move(k);
}

Status AccessKeys::Put(const AccessKeyRecord& record) { return store_->PutAccessKey(record); }

Status AccessKeys::Delete(std::string_view access) { return store_->DeleteAccessKey(access); }

Json AccessKeys::CredentialJson(const AccessKeyRecord& r) {
  return {{"access", r.access},
          {"status", r.status},
          {"user_id", r.user_id},
          {"create_time", Iso8601Utc(r.created_ms)},
          {"description", r.description}};
}

StatusOr<AccessKeyRecord> AccessKeys::Authenticate(const sdk::Request& request, std::string_view authorization) const {
  auto auth = sdk::ParseAuthorization(authorization);
  if (!auth.ok()) return GatewayAuthError("the Authorization header is not SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…");
  const std::string* date_text = sdk::FindHeader(request.headers, sdk::kDateHeader);
  if (date_text == nullptr) return GatewayAuthError("x-sdk-date is missing");
  auto date = sdk::ParseSdkDate(*date_text);
  if (!date.ok()) return GatewayAuthError("x-sdk-date is not in the format YYYYMMDDTHHMMSSZ");
  const int64_t now = clock_->WallNowSec();
  if (*date < now - kMaxClockSkewSec || *date > now + kMaxClockSkewSec) {
    return GatewayAuthError("x-sdk-date is expired (more than 15 minutes from the server's time)");
  }

  KMSFS_ASSIGN_OR_RETURN(std::optional<AccessKeyRecord> key, store_->GetAccessKey(auth->access));
  if (!key || key->status != "active") return GatewayAuthError("ak not exist");
  const std::string* token = sdk::FindHeader(request.headers, sdk::kSecurityTokenHeader);
  if (!key->security_token_hash.empty()) {
    if (key->expires_ms <= clock_->WallNowMs()) return GatewayAuthError("the temporary access key has expired");
    if (token == nullptr) return GatewayAuthError("x-security-token is missing for a temporary access key");
    const std::string given = TokenHash(*token);
    if (!crypto::ConstantTimeEquals(AsBytes(given), AsBytes(key->security_token_hash))) {
      return GatewayAuthError("x-security-token does not belong to this access key");
    }
  } else if (token != nullptr) {
    return GatewayAuthError("x-security-token given for a permanent access key");
  }

  // An unsigned date could be moved forward to replay an old request.
  if (std::find(auth->signed_headers.begin(), auth->signed_headers.end(), "x-sdk-date") ==
      auth->signed_headers.end()) {
    return GatewayAuthError("verify aksk signature fail: x-sdk-date is not among the signed headers");
  }
  for (const std::string& name : auth->signed_headers) {
    size_t count = 0;
    for (const auto& [k, v] : request.headers) {
      if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
          })) {
        ++count;
      }
    }
    if (count == 0) return GatewayAuthError("verify aksk signature fail: signed header " + name + " is missing");
    if (count > 1) return GatewayAuthError("verify aksk signature fail: signed header " + name + " is sent twice");
  }
  if (!request.body.empty()) {
    if (const std::string* hash = sdk::FindHeader(request.headers, sdk::kContentHashHeader)) {
      const std::string actual = HexEncode(crypto::Sha256(AsBytes(request.body)));
      if (*hash != actual) {
        return GatewayAuthError("kmsd requires the body to be signed (X-Sdk-Content-Sha256 must be its SHA-256)");
      }
    }
  }
  auto secret = keyring_->Open(SealLabel(key->access), key->sealed_secret);
  if (!secret.ok()) return secret.status();
  KMSFS_ASSIGN_OR_RETURN(bool matches, sdk::SignatureMatches(request, *auth, *secret));
  if (!matches) return GatewayAuthError("verify aksk signature fail");
  return *std::move(key);
}

}  // namespace kmsfs::kms::server
