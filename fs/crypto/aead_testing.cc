#include "fs/crypto/aead_testing.h"

#include "fs/crypto/aes_gcm_aead.h"
#include "fs/crypto/xchacha_aead.h"
#ifdef KMSFS_HAVE_IPSEC_MB
#include "fs/crypto/ipsec_mb_aes_gcm_aead.h"
#endif

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

Status SealWithNonceForTesting(AesGcmBackend backend, const SecretBytes& key, std::span<const uint8_t> nonce,
                               std::span<const uint8_t> plain, std::span<const uint8_t> ad,
                               std::span<uint8_t> out) {
  switch (backend) {
    case AesGcmBackend::kOpenSsl: {
      KMSFS_ASSIGN_OR_RETURN(auto aead, AesGcmAead::New(key));
      return aead->SealWithNonce(nonce, plain, ad, out);
    }
    case AesGcmBackend::kIpsecMb: {
#ifdef KMSFS_HAVE_IPSEC_MB
      KMSFS_ASSIGN_OR_RETURN(auto aead, IpsecMbAesGcmAead::New(key));
      return aead->SealWithNonce(nonce, plain, ad, out);
#else
      return Status::Unimplemented("kmsfs was built without intel-ipsec-mb");
#endif
    }
  }
  return Status::InvalidArgument("unknown AES-GCM backend");
}

}  // namespace kmsfs::crypto
