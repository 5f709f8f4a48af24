#include "crypto/aes_gcm_backend.h"

#include <openssl/crypto.h>

#include "crypto/aes_gcm_aead.h"
#ifdef KMSFS_HAVE_IPSEC_MB
#include "crypto/ipsec_mb_aes_gcm_aead.h"
#endif

namespace kmsfs::crypto {

bool AesGcmBackendAvailable(AesGcmBackend backend) {
  switch (backend) {
    case AesGcmBackend::kOpenSsl:
      return true;
    case AesGcmBackend::kIpsecMb:
#ifdef KMSFS_HAVE_IPSEC_MB
      return IpsecMbAesGcmAead::Usable();
#else
      return false;
#endif
  }
  return false;
}

AesGcmBackend PreferredAesGcmBackend() {
  static const AesGcmBackend backend =
      AesGcmBackendAvailable(AesGcmBackend::kIpsecMb) ? AesGcmBackend::kIpsecMb : AesGcmBackend::kOpenSsl;
  return backend;
}

std::string AesGcmBackendDescription(AesGcmBackend backend) {
  switch (backend) {
    case AesGcmBackend::kOpenSsl:
      return OpenSSL_version(OPENSSL_VERSION);
    case AesGcmBackend::kIpsecMb:
#ifdef KMSFS_HAVE_IPSEC_MB
      return IpsecMbAesGcmAead::Description();
#else
      return "intel-ipsec-mb (not built in)";
#endif
  }
  return "unknown";
}

StatusOr<std::unique_ptr<Aead>> NewAesGcmAead(AesGcmBackend backend, const SecretBytes& key) {
  switch (backend) {
    case AesGcmBackend::kOpenSsl: {
      KMSFS_ASSIGN_OR_RETURN(auto aead, AesGcmAead::New(key));
      return std::unique_ptr<Aead>(std::move(aead));
    }
    case AesGcmBackend::kIpsecMb: {
#ifdef KMSFS_HAVE_IPSEC_MB
      KMSFS_ASSIGN_OR_RETURN(auto aead, IpsecMbAesGcmAead::New(key));
      return std::unique_ptr<Aead>(std::move(aead));
#else
      return Status::Unimplemented("kmsfs was built without intel-ipsec-mb");
#endif
    }
  }
  return Status::InvalidArgument("unknown AES-GCM backend");
}

}  // namespace kmsfs::crypto
