#include "crypto/rsa.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/openssl_ptr.h"

namespace kmsfs::crypto {

std::optional<WrappingAlgorithm> ParseWrappingAlgorithm(std::string_view name) {
  if (name == "RSAES_OAEP_SHA_256") return WrappingAlgorithm::kOaepSha256;
  if (name == "RSAES_OAEP_SHA_1") return WrappingAlgorithm::kOaepSha1;
  if (name == "RSAES_PKCS1_V1_5") return WrappingAlgorithm::kPkcs1V15;
  return std::nullopt;
}

std::string_view WrappingAlgorithmName(WrappingAlgorithm alg) {
  switch (alg) {
    case WrappingAlgorithm::kOaepSha256: return "RSAES_OAEP_SHA_256";
    case WrappingAlgorithm::kOaepSha1: return "RSAES_OAEP_SHA_1";
    case WrappingAlgorithm::kPkcs1V15: return "RSAES_PKCS1_V1_5";
  }
  return "";
}

namespace {

// Sets the padding (and for OAEP the label digest and MGF1 hash, both the
// same) of an encryption or decryption context.
bool SetPadding(EVP_PKEY_CTX* ctx, WrappingAlgorithm alg) {
  switch (alg) {
    case WrappingAlgorithm::kOaepSha256:
      return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
    case WrappingAlgorithm::kOaepSha1:
      return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) == 1;
    case WrappingAlgorithm::kPkcs1V15:
      return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
  }
  return false;
}

}  // namespace

StatusOr<std::vector<uint8_t>> RsaEncrypt(std::span<const uint8_t> public_spki_der, WrappingAlgorithm alg,
                                          std::span<const uint8_t> plaintext) {
  const unsigned char* p = public_spki_der.data();
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(public_spki_der.size())));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument("the public key is not DER SubjectPublicKeyInfo");
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) return Status::Internal("RSA encrypt init failed");
  if (!SetPadding(ctx.get(), alg)) return Status::Internal("RSA padding setup failed");
  size_t out_len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, plaintext.data(), plaintext.size()) != 1) {
    ERR_clear_error();
    return Status::Internal("RSA encrypt (size) failed");
  }
  std::vector<uint8_t> out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, plaintext.data(), plaintext.size()) != 1) {
    ERR_clear_error();
    return Status::Internal("RSA encrypt failed");  // e.g. a plaintext too long for the key
  }
  out.resize(out_len);
  return out;
}

StatusOr<RsaKeyPair> GenerateRsa2048() {
  PkeyPtr key(EVP_RSA_gen(2048));
  if (!key) return Status::Internal("RSA-2048 key generation failed");
  RsaKeyPair pair;
  int pub_len = i2d_PUBKEY(key.get(), nullptr);
  int priv_len = i2d_PrivateKey(key.get(), nullptr);
  if (pub_len <= 0 || priv_len <= 0) return Status::Internal("RSA key encoding failed");
  pair.public_spki_der.resize(static_cast<size_t>(pub_len));
  unsigned char* p = pair.public_spki_der.data();
  if (i2d_PUBKEY(key.get(), &p) != pub_len) return Status::Internal("RSA public key encoding failed");
  pair.private_der = SecretBytes(static_cast<size_t>(priv_len));
  unsigned char* q = pair.private_der.data();
  if (i2d_PrivateKey(key.get(), &q) != priv_len) {
    return Status::Internal("RSA private key encoding failed");
  }
  return pair;
}

namespace {

// A decryption context for the DER private key, padding not yet chosen.
StatusOr<PkeyCtxPtr> RsaDecryptContext(const SecretBytes& private_der) {
  const unsigned char* p = private_der.data();
  PkeyPtr key(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(private_der.size())));
  if (!key) return Status::Internal("stored RSA private key is unreadable");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) return Status::Internal("RSA decrypt init failed");
  return ctx;
}

Status UnwrapFailed() { return Status::InvalidArgument("RSA decryption failed"); }

// RSAES-PKCS1-v1_5 material of `m` bytes in the k-byte block `em`:
// 00 02 PS(k-m-3 non-zero bytes) 00 M. OpenSSL 3.0 reports the length of a
// well-padded message of any length, and fails at once otherwise; with the
// length known beforehand every byte position is fixed, so all of them are
// checked with the same operations, and only the combined result decides.
bool Pkcs1Type2HoldsMaterial(std::span<const uint8_t> em, size_t m) {
  if (em.size() < m + 11) return false;  // sizes are public: the modulus and the API's material length
  const size_t zero_at = em.size() - m - 1;
  uint32_t bad = em[0] | (em[1] ^ 0x02u) | em[zero_at];
  for (size_t i = 2; i < zero_at; ++i) {
    bad |= ((static_cast<uint32_t>(em[i]) - 1u) >> 8) & 1u;  // 1 exactly when em[i] == 0
  }
  return bad == 0;
}

}  // namespace

StatusOr<SecretBytes> UnwrapKeyMaterial(const SecretBytes& private_der, WrappingAlgorithm alg,
                                        std::span<const uint8_t> ciphertext, size_t material_size) {
  if (alg != WrappingAlgorithm::kPkcs1V15) {
    // OAEP decoding in OpenSSL is constant-time, and a well-formed OAEP
    // ciphertext is something anyone with the public key can make: whether
    // one decodes tells nothing about the material.
    auto plain = RsaDecrypt(private_der, alg, ciphertext);
    if (!plain.ok()) return plain.status().code() == StatusCode::kInvalidArgument ? UnwrapFailed() : plain.status();
    if (plain->size() != material_size) return UnwrapFailed();
    return plain;
  }
  KMSFS_ASSIGN_OR_RETURN(PkeyCtxPtr ctx, RsaDecryptContext(private_der));
  if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1) return Status::Internal("RSA padding setup failed");
  size_t out_len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &out_len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    return UnwrapFailed();
  }
  SecretBytes block(out_len);
  // Fails only for a ciphertext of the wrong size or not below the modulus:
  // properties of the ciphertext, not of what it decrypts to.
  if (EVP_PKEY_decrypt(ctx.get(), block.data(), &out_len, ciphertext.data(), ciphertext.size()) != 1 ||
      out_len != block.size() || block.size() < material_size) {
    ERR_clear_error();
    return UnwrapFailed();
  }
  const bool good = Pkcs1Type2HoldsMaterial(block.span(), material_size);
  SecretBytes material = SecretBytes::CopyFrom(block.span().last(material_size));
  if (!good) return UnwrapFailed();
  return material;
}

StatusOr<SecretBytes> RsaDecrypt(const SecretBytes& private_der, WrappingAlgorithm alg,
                                 std::span<const uint8_t> ciphertext) {
  KMSFS_ASSIGN_OR_RETURN(PkeyCtxPtr ctx, RsaDecryptContext(private_der));
  if (!SetPadding(ctx.get(), alg)) return Status::Internal("RSA padding setup failed");
  size_t out_len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &out_len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("RSA decryption failed");
  }
  SecretBytes buf(out_len);
  if (EVP_PKEY_decrypt(ctx.get(), buf.data(), &out_len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("RSA decryption failed");
  }
  return SecretBytes::CopyFrom(buf.span().first(out_len));
}

}  // namespace kmsfs::crypto
