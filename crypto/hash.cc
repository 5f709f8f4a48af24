#include "crypto/hash.h"

#include <sodium.h>

namespace kmsfs::crypto {

Sha256Digest Sha256(std::span<const uint8_t> data) {
  static_assert(crypto_hash_sha256_BYTES == std::tuple_size_v<Sha256Digest>);
  EnsureSodiumInitialized();
  Sha256Digest digest{};
  crypto_hash_sha256(digest.data(), data.data(), data.size());
  return digest;
}

Sha256Digest HmacSha256(const SecretBytes& key, std::span<const uint8_t> data) {
  static_assert(crypto_auth_hmacsha256_BYTES == std::tuple_size_v<Sha256Digest>);
  EnsureSodiumInitialized();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, data.data(), data.size());
  Sha256Digest mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);  // it holds the key's inner and outer pads
  return mac;
}

bool HmacSha256Verify(const SecretBytes& key, std::span<const uint8_t> data, std::span<const uint8_t> mac) {
  return ConstantTimeEquals(HmacSha256(key, data), mac);
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kmsfs::crypto
