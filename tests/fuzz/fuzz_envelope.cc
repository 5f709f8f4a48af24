// libFuzzer target: kmsd's ciphertext envelope (kms/server/envelope.h),
// InspectEnvelope and OpenEnvelope on arbitrary bytes, and a SealEnvelope ->
// Open round trip of arbitrary plaintext, under fixed CMK material and key id
// (fuzz_util.h).
//
// Input: byte 0 picks the kind (bit 0: data key / data), the encryption
// context (bit 1, fuzz_util.h kContexts) and the mode (bit 2: open / round
// trip); the rest is the envelope or the plaintext.
//
// Open mode invariants: Inspect and Open fail only with kDataLoss; an
// envelope Inspect accepts has exactly EnvelopeSize(kind, plaintext_size)
// bytes and a 36-character key id; Open succeeds only for envelopes Inspect
// accepts that were sealed under the fixed material, key id and version (the
// seed corpus holds some), returns plaintext_size bytes, and fails under the
// other context.
// Round-trip invariants: Seal refuses an empty plaintext; otherwise Inspect
// reports what was sealed and Open returns it, while the other context, the
// other kind, other material or one flipped bit all fail with kDataLoss.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "kms/server/envelope.h"
#include "tests/fuzz/fuzz_util.h"

namespace kmsfs::fuzz {
namespace {

using kms::server::EnvelopeKind;

const SecretBytes& Material() {
  static const SecretBytes m = FixedCmkMaterial();
  return m;
}
SecretBytes MakeOtherMaterial() {
  SecretBytes other = FixedCmkMaterial();
  other.mutable_span()[0] ^= 1;
  return other;
}
const SecretBytes& OtherMaterial() {
  static const SecretBytes m = MakeOtherMaterial();
  return m;
}

void FuzzOpen(EnvelopeKind kind, std::string_view context, std::string_view other_context,
              std::span<const uint8_t> env) {
  auto info = kms::server::InspectEnvelope(env, kind);
  if (info.ok()) {
    KMSFS_FUZZ_CHECK(info->plaintext_size > 0);
    KMSFS_FUZZ_CHECK(env.size() == kms::server::EnvelopeSize(kind, info->plaintext_size));
    KMSFS_FUZZ_CHECK(info->key_id.size() == kms::server::kEnvelopeKeyIdSize);
  } else {
    KMSFS_FUZZ_CHECK(info.status().code() == StatusCode::kDataLoss);
  }
  auto plain = kms::server::OpenEnvelope(Material(), env, kind, context);
  if (!plain.ok()) {
    KMSFS_FUZZ_CHECK(plain.status().code() == StatusCode::kDataLoss);
    return;
  }
  KMSFS_FUZZ_CHECK(info.ok());
  KMSFS_FUZZ_CHECK(info->key_id == kFixedKeyId);
  KMSFS_FUZZ_CHECK(info->version == kFixedKeyVersion);
  KMSFS_FUZZ_CHECK(plain->size() == info->plaintext_size);
  auto elsewhere = kms::server::OpenEnvelope(Material(), env, kind, other_context);
  KMSFS_FUZZ_CHECK(elsewhere.status().code() == StatusCode::kDataLoss);
}

void FuzzRoundTrip(EnvelopeKind kind, std::string_view context, std::string_view other_context,
                   std::span<const uint8_t> plain) {
  auto env = kms::server::SealEnvelope(Material(), kFixedKeyId, kFixedKeyVersion, kind, plain, context);
  if (plain.empty()) {
    KMSFS_FUZZ_CHECK(env.status().code() == StatusCode::kInvalidArgument);
    return;
  }
  KMSFS_FUZZ_CHECK(env.ok());
  KMSFS_FUZZ_CHECK(env->size() == kms::server::EnvelopeSize(kind, plain.size()));
  auto info = kms::server::InspectEnvelope(*env, kind);
  KMSFS_FUZZ_CHECK(info.ok());
  KMSFS_FUZZ_CHECK(info->key_id == kFixedKeyId);
  KMSFS_FUZZ_CHECK(info->version == kFixedKeyVersion);
  KMSFS_FUZZ_CHECK(info->plaintext_size == plain.size());

  auto opened = kms::server::OpenEnvelope(Material(), *env, kind, context);
  KMSFS_FUZZ_CHECK(opened.ok());
  KMSFS_FUZZ_CHECK(opened->Equals(plain));

  const EnvelopeKind other_kind = kind == EnvelopeKind::kData ? EnvelopeKind::kDataKey : EnvelopeKind::kData;
  KMSFS_FUZZ_CHECK(kms::server::OpenEnvelope(Material(), *env, kind, other_context).status().code() ==
                   StatusCode::kDataLoss);
  KMSFS_FUZZ_CHECK(kms::server::OpenEnvelope(Material(), *env, other_kind, context).status().code() ==
                   StatusCode::kDataLoss);
  KMSFS_FUZZ_CHECK(kms::server::OpenEnvelope(OtherMaterial(), *env, kind, context).status().code() ==
                   StatusCode::kDataLoss);

  size_t where = 0;
  for (size_t i = 0; i < plain.size() && i < 4; ++i) where = where * 251 + plain[i];
  where %= env->size();
  (*env)[where] ^= static_cast<uint8_t>(1u << (plain[0] & 7));
  KMSFS_FUZZ_CHECK(kms::server::OpenEnvelope(Material(), *env, kind, context).status().code() ==
                   StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kmsfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::fuzz;
  if (size < 1) return 0;
  const EnvelopeKind kind = (data[0] & 1) ? EnvelopeKind::kData : EnvelopeKind::kDataKey;
  const size_t ctx = (data[0] >> 1) & 1;
  const std::string_view context = kContexts[ctx];
  const std::string_view other_context = kContexts[1 - ctx];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  if (data[0] & 4) {
    FuzzRoundTrip(kind, context, other_context, rest);
  } else {
    FuzzOpen(kind, context, other_context, rest);
  }
  return 0;
}
