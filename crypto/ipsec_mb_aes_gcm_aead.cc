#include "crypto/ipsec_mb_aes_gcm_aead.h"

#include <intel-ipsec-mb.h>
#include <sodium.h>

#include <cstring>


namespace kmsfs::crypto {
namespace {

struct Library {
  IMB_MGR* mgr = nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
};

// The library's manager, set up once for the process and never freed: after
// init_mb_mgr_auto it is only read (the direct GCM calls go through its
// function pointers). nullptr when it cannot be allocated.
const Library& TheLibrary() {
  static const Library lib = [] {
    Library l;
    l.mgr = alloc_mb_mgr(0);
    if (l.mgr != nullptr) init_mb_mgr_auto(l.mgr, &l.arch);
    return l;
  }();
  return lib;
}

// The direct API reports bad arguments through a thread-local error number.
bool LastCallFailed() { return imb_get_errno(nullptr) != 0; }

// The library wants pointers even for empty buffers.
const uint8_t* NonNull(std::span<const uint8_t> s) {
  static const uint8_t kEmpty = 0;
  return s.empty() ? &kEmpty : s.data();
}

}  // namespace

bool IpsecMbAesGcmAead::Usable() {
  const Library& lib = TheLibrary();
  return lib.mgr != nullptr && (lib.arch == IMB_ARCH_AVX2 || lib.arch == IMB_ARCH_AVX512);
}

std::string IpsecMbAesGcmAead::Description() {
  const Library& lib = TheLibrary();
  std::string s = std::string("intel-ipsec-mb ") + imb_get_version_str();
  switch (lib.arch) {
    case IMB_ARCH_AVX512: return s + " (AVX-512)";
    case IMB_ARCH_AVX2: return s + " (AVX2)";
    case IMB_ARCH_AVX: return s + " (AVX, not used)";
    case IMB_ARCH_SSE: return s + " (SSE, not used)";
    default: return s + " (not usable on this CPU)";
  }
}

StatusOr<std::unique_ptr<IpsecMbAesGcmAead>> IpsecMbAesGcmAead::New(const SecretBytes& key) {
  if (key.size() != kKeySize) return Status::InvalidArgument("AES-256-GCM key must be 32 bytes");
  if (!Usable()) return Status::Unimplemented("intel-ipsec-mb cannot run its AVX2 or AVX-512 code here");
  SecretBytes key_data(sizeof(gcm_key_data));
  IMB_AES256_GCM_PRE(TheLibrary().mgr, key.data(), reinterpret_cast<gcm_key_data*>(key_data.data()));
  if (LastCallFailed()) return Status::Internal("AES-256-GCM key setup failed");
  return std::unique_ptr<IpsecMbAesGcmAead>(new IpsecMbAesGcmAead(std::move(key_data)));
}

Status IpsecMbAesGcmAead::SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                                        std::span<const uint8_t> ad, std::span<uint8_t> out) const {
  if (nonce.size() != kNonceSize) return Status::InvalidArgument("AES-256-GCM nonce must be 12 bytes");
  if (out.size() != plain.size() + overhead()) {
    return Status::InvalidArgument("AES-256-GCM seal: output size must be input + 28");
  }
  std::memcpy(out.data(), nonce.data(), kNonceSize);
  uint8_t* ct = out.data() + kNonceSize;
  uint8_t* tag = ct + plain.size();
  gcm_context_data ctx;
  IMB_AES256_GCM_ENC(TheLibrary().mgr, reinterpret_cast<const gcm_key_data*>(key_data_.data()), &ctx, ct,
                     NonNull(plain), plain.size(), out.data(), NonNull(ad), ad.size(), tag, kTagSize);
  const bool failed = LastCallFailed();
  sodium_memzero(&ctx, sizeof ctx);
  if (failed) {
    sodium_memzero(out.data(), out.size());
    return Status::Internal("AES-256-GCM seal failed");
  }
  return Status::Ok();
}

Status IpsecMbAesGcmAead::Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
                               std::span<uint8_t> out) const {
  if (sealed.size() < overhead() || out.size() != sealed.size() - overhead()) {
    return Status::InvalidArgument("AES-256-GCM open: output size must be input - 28");
  }
  const uint8_t* nonce = sealed.data();
  const uint8_t* ct = nonce + kNonceSize;
  const uint8_t* tag = ct + out.size();
  uint8_t no_output = 0;
  uint8_t* plain = out.empty() ? &no_output : out.data();
  uint8_t computed[kTagSize];
  gcm_context_data ctx;
  IMB_AES256_GCM_DEC(TheLibrary().mgr, reinterpret_cast<const gcm_key_data*>(key_data_.data()), &ctx, plain,
                     ct, out.size(), nonce, NonNull(ad), ad.size(), computed, kTagSize);
  const bool failed = LastCallFailed();
  const bool authentic = !failed && sodium_memcmp(computed, tag, kTagSize) == 0;
  sodium_memzero(&ctx, sizeof ctx);
  sodium_memzero(computed, sizeof computed);
  if (!authentic) {
    sodium_memzero(out.data(), out.size());
    if (failed) return Status::Internal("AES-256-GCM open failed");
    return Status::DataLoss("authentication failed (data tampered, truncated or wrong key)");
  }
  return Status::Ok();
}

}  // namespace kmsfs::crypto
