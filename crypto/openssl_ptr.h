// Owning pointers for OpenSSL 3 objects: one deleter per type, so every
// context, key and fetched algorithm is freed (and, for cipher contexts,
// cleansed by OpenSSL) on every path out of a function.
//
// Thread-safety: the aliases are plain unique_ptrs; an object is used by one
// thread at a time unless OpenSSL documents otherwise.
#ifndef KMSFS_CRYPTO_OPENSSL_PTR_H_
#define KMSFS_CRYPTO_OPENSSL_PTR_H_

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace kmsfs::crypto {

// Calls `Free` on a non-null pointer (unique_ptr never passes null).
template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpenSslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, OpenSslDeleter<EVP_CIPHER, EVP_CIPHER_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, OpenSslDeleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OpenSslDeleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_OPENSSL_PTR_H_
