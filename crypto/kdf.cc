#include "crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include <memory>

namespace kmsfs::crypto {
namespace {

struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct KdfCtxDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

constexpr size_t kSha256Size = 32;
// RFC 5869: L <= 255 * HashLen.
constexpr size_t kMaxHkdfOutput = 255 * kSha256Size;

}  // namespace

StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> info, size_t out_len) {
  if (out_len == 0 || out_len > kMaxHkdfOutput) {
    return Status::InvalidArgument("HKDF-SHA256 output length must be 1..8160 bytes");
  }
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (kdf == nullptr) return Status::Internal("OpenSSL has no HKDF");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
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

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> digest{};
  static_assert(crypto_hash_sha256_BYTES == 32);
  EnsureSodiumInitialized();
  crypto_hash_sha256(digest.data(), data.data(), data.size());
  return digest;
}

std::array<uint8_t, 32> HmacSha256(const SecretBytes& key, std::span<const uint8_t> data) {
  static_assert(crypto_auth_hmacsha256_BYTES == 32);
  EnsureSodiumInitialized();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, data.data(), data.size());
  std::array<uint8_t, 32> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);  // it holds the key's inner and outer pads
  return mac;
}

bool HmacSha256Verify(const SecretBytes& key, std::span<const uint8_t> data, std::span<const uint8_t> mac) {
  if (mac.size() != crypto_auth_hmacsha256_BYTES) return false;
  const std::array<uint8_t, 32> expected = HmacSha256(key, data);
  return sodium_memcmp(expected.data(), mac.data(), expected.size()) == 0;
}

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  EnsureSodiumInitialized();
  randombytes_buf(out.data(), out.size());
}

}  // namespace kmsfs::crypto
