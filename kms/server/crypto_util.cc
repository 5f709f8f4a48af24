#include "kms/server/crypto_util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace kmsfs::kms::server {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct KdfFree {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
};
struct KdfCtxFree {
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("kmsd: fatal: the random number generator failed\n", stderr);
    std::abort();
  }
}

std::vector<uint8_t> RandomVector(size_t n) {
  std::vector<uint8_t> v(n);
  RandomBytes(v);
  return v;
}

// SHA-256 and HMAC-SHA256 come from libsodium: every data-key call hashes
// and MACs, and OpenSSL's EVP_Digest and EVP_Q_mac look their algorithm up
// by name on each call (provider locks and a fetch), which cost more than
// hashing a 64-byte key. Same functions, same results.
Digest Sha256(std::span<const uint8_t> data) {
  static_assert(crypto_hash_sha256_BYTES == std::tuple_size_v<Digest>);
  Digest out{};
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  static_assert(crypto_auth_hmacsha256_BYTES == std::tuple_size_v<Digest>);
  Digest out{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, data.data(), data.size());
  crypto_auth_hmacsha256_final(&state, out.data());
  sodium_memzero(&state, sizeof state);  // holds the key's pads
  return out;
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

StatusOr<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm, std::string_view info, size_t out_len) {
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return Status::Internal("HKDF is not available");
  std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return Status::Internal("HKDF context allocation failed");
  char digest[] = "SHA256";
  OSSL_PARAM params[4];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()),
                                                ikm.size());
  params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                                info.size());
  params[3] = OSSL_PARAM_construct_end();
  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return Status::Internal("HKDF derivation failed");
  }
  return out;
}

StatusOr<Digest> Pbkdf2Sha256(std::span<const uint8_t> password, std::span<const uint8_t> salt,
                              int iterations) {
  Digest out{};
  static const uint8_t kEmpty = 0;
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.empty() ? &kEmpty : password.data()),
                        static_cast<int>(password.size()), salt.empty() ? &kEmpty : salt.data(),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return Status::Internal("PBKDF2 failed");
  }
  return out;
}

Status AesGcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                  std::span<uint8_t> ciphertext, std::span<uint8_t> tag) {
  if (key.size() != kAes256KeySize || nonce.size() != kGcmNonceSize || tag.size() != kGcmTagSize ||
      ciphertext.size() != plaintext.size()) {
    return Status::InvalidArgument("AES-GCM: bad buffer sizes");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1) {
    return Status::Internal("AES-GCM init failed");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Status::Internal("AES-GCM aad failed");
  }
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ciphertext.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return Status::Internal("AES-GCM encrypt failed");
  }
  uint8_t final_block[16];
  if (EVP_EncryptFinal_ex(ctx.get(), final_block, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag.data()) != 1) {
    return Status::Internal("AES-GCM finalise failed");
  }
  return Status::Ok();
}

Status AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> ciphertext, std::span<const uint8_t> aad,
                  std::span<const uint8_t> tag, std::span<uint8_t> plaintext) {
  if (key.size() != kAes256KeySize || nonce.size() != kGcmNonceSize || tag.size() != kGcmTagSize ||
      ciphertext.size() != plaintext.size()) {
    return Status::InvalidArgument("AES-GCM: bad buffer sizes");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1) {
    return Status::Internal("AES-GCM init failed");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Status::Internal("AES-GCM aad failed");
  }
  if (!ciphertext.empty() && EVP_DecryptUpdate(ctx.get(), plaintext.data(), &len, ciphertext.data(),
                                               static_cast<int>(ciphertext.size())) != 1) {
    return Status::Internal("AES-GCM decrypt failed");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize,
                          const_cast<uint8_t*>(tag.data())) != 1) {
    return Status::Internal("AES-GCM tag failed");
  }
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    ERR_clear_error();
    if (!plaintext.empty()) OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Status::DataLoss("AES-GCM authentication failed");
  }
  return Status::Ok();
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

kms::SecureString Base64EncodeSecret(std::span<const uint8_t> bytes) {
  kms::SecureString out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

kms::SecureString HexEncodeUpperSecret(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  kms::SecureString out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("Base64 length is not a multiple of 4");
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      // '=' only in the last two positions, and nothing but '=' after it.
      if (i + 2 < text.size()) return Status::InvalidArgument("misplaced Base64 padding");
      ++padding;
      continue;
    }
    if (padding > 0 || Base64Value(c) < 0) return Status::InvalidArgument("invalid Base64 character");
  }
  std::vector<uint8_t> out(text.size() / 4 * 3);
  if (text.empty()) return out;
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < padding) return Status::InvalidArgument("invalid Base64");
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

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

StatusOr<RsaKeyPair> GenerateRsa2048() {
  Pkey key(EVP_RSA_gen(2048));
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
StatusOr<PkeyCtx> RsaDecryptContext(const SecretBytes& private_der) {
  const unsigned char* p = private_der.data();
  Pkey key(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(private_der.size())));
  if (!key) return Status::Internal("stored RSA private key is unreadable");
  PkeyCtx ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
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
  KMSFS_ASSIGN_OR_RETURN(PkeyCtx ctx, RsaDecryptContext(private_der));
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
  KMSFS_ASSIGN_OR_RETURN(PkeyCtx ctx, RsaDecryptContext(private_der));
  int ok = 1;
  switch (alg) {
    case WrappingAlgorithm::kOaepSha256:
      ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) == 1;
      break;
    case WrappingAlgorithm::kOaepSha1:
      ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) == 1;
      break;
    case WrappingAlgorithm::kPkcs1V15:
      ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
      break;
  }
  if (!ok) return Status::Internal("RSA padding setup failed");
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

}  // namespace kmsfs::kms::server
