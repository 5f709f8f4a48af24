// Test helper: wraps BYOK key material with a get-parameters-for-import
// public key, as a client following the user guide would (OpenSSL EVP).
#ifndef KMSFS_TESTS_SERVER_BYOK_UTIL_H_
#define KMSFS_TESTS_SERVER_BYOK_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kmsfs::testing {

// `public_key_b64`: Base64 DER SubjectPublicKeyInfo; `algorithm`: the API's
// wrapping_algorithm name. Returns the Base64 wrapped material ("" on error).
std::string WrapKeyMaterial(const std::string& public_key_b64, const std::string& algorithm,
                            const std::vector<uint8_t>& material);
// Bits of the RSA key in `public_key_b64` (0 if it is not an RSA SPKI).
int RsaPublicKeyBits(const std::string& public_key_b64);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_SERVER_BYOK_UTIL_H_
