#include "fs/crypto/aead_testing.h"

#include "fs/crypto/aes_gcm_aead.h"
#include "fs/crypto/xchacha_aead.h"

namespace kmsfs::crypto {

Status SealWithNonceForTesting(CipherSuite suite, const SecretBytes& key,
                               std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                               std::span<const uint8_t> ad, std::span<uint8_t> out) {
  switch (suite) {
    case CipherSuite::kAes256Gcm: {
      KMSFS_ASSIGN_OR_RETURN(auto aead, AesGcmAead::New(key));
      return aead->SealWithNonce(nonce, plain, ad, out);
    }
    case CipherSuite::kXChaCha20Poly1305: {
      KMSFS_ASSIGN_OR_RETURN(auto aead, XChaCha20Poly1305Aead::New(key));
      return aead->SealWithNonce(nonce, plain, ad, out);
    }
  }
  return Status::InvalidArgument("unknown cipher suite");
}

}  // namespace kmsfs::crypto
