#include "crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "crypto/openssl_ptr.h"

namespace kmsfs::crypto {
namespace {

constexpr size_t kSha256Size = 32;
// RFC 5869: L <= 255 * HashLen.
constexpr size_t kMaxHkdfOutput = 255 * kSha256Size;

}  // namespace

StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t out_len) {
  if (out_len == 0 || out_len > kMaxHkdfOutput) {
    return Status::InvalidArgument("HKDF-SHA256 output length must be 1..8160 bytes");
  }
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (kdf == nullptr) return Status::Internal("OpenSSL has no HKDF");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return Status::Internal("EVP_KDF_CTX_new failed");

  // OpenSSL's params take non-const pointers but only read through them. An
  // empty salt is RFC 5869's "not provided" (HashLen zeros), which OpenSSL
  // applies when the salt parameter is absent.
  static const uint8_t kEmpty[1] = {0};
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.empty() ? kEmpty : ikm.data()), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<uint8_t*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();

  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return Status::Internal("HKDF-SHA256 derivation failed");
  }
  return out;
}

StatusOr<Sha256Digest> Pbkdf2Sha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                                    int iterations) {
  // OpenSSL wants non-null pointers even for empty inputs.
  static const uint8_t kEmpty = 0;
  Sha256Digest out{};
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.empty() ? &kEmpty : password.data()),
                        static_cast<int>(password.size()), salt.empty() ? &kEmpty : salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(), static_cast<int>(out.size()),
                        out.data()) != 1) {
    return Status::Internal("PBKDF2 failed");
  }
  return out;
}

}  // namespace kmsfs::crypto
