// libFuzzer target: the KMS client's reading of 2xx answers (kms/api_json.h),
// as the mount daemon (root) meets them from the network.
//
// Input: byte 0 picks the answer (modulo 6): 0 create-datakey, 1
// decrypt-datakey, 2 a cipher_text answer (encrypt-datakey,
// create-datakey-without-plaintext, encrypt-data), 3 describe-key (key_info
// object or top level), 4 list-keys, 5 list-grants; byte 1 is the data key
// length asked for, in bytes (for 0 and 1); the rest is the body.
//
// Invariants: nothing crashes or throws; failures are kInternal or kDataLoss
// only. create-datakey: a success has exactly the asked length and a
// cipher_text, and the plain_text member of the body has been overwritten
// with '0's (so the body parses without the key). decrypt-datakey:
// likewise for data_key, and a success matches the body's datakey_dgst. A
// cipher_text answer is non-empty on success. List answers never report a
// negative count of their own making.
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/hex.h"
#include "kms/api_json.h"
#include "base/secure_string.h"
#include "tests/fuzz/fuzz_util.h"

namespace kmsfs::fuzz {
namespace {

bool FailedCleanly(const Status& s) {
  return s.code() == StatusCode::kInternal || s.code() == StatusCode::kDataLoss;
}

// True when the body's top-level `name` is the key's hex, overwritten with '0's.
bool FieldWasWiped(const SecureString& body, const char* name, size_t key_size) {
  auto parsed = kms::ParseObject(body);
  if (!parsed) return false;
  const std::string text = kms::GetText(*parsed, name);
  return text.size() == 2 * key_size && text.find_first_not_of('0') == std::string::npos;
}

void CreateDataKey(SecureString body, size_t length) {
  auto key = kms::ParseCreateDataKeyAnswer(body, length);
  if (!key.ok()) {
    KMSFS_FUZZ_CHECK(FailedCleanly(key.status()));
    return;
  }
  KMSFS_FUZZ_CHECK(key->plain.size() == length);
  KMSFS_FUZZ_CHECK(!key->cipher_text.empty());
  KMSFS_FUZZ_CHECK(FieldWasWiped(body, "plain_text", length));
}

void DecryptDataKey(SecureString body, size_t length) {
  auto dek = kms::ParseDecryptDataKeyAnswer(body, length);
  if (!dek.ok()) {
    KMSFS_FUZZ_CHECK(FailedCleanly(dek.status()));
    return;
  }
  KMSFS_FUZZ_CHECK(dek->size() == length);
  KMSFS_FUZZ_CHECK(FieldWasWiped(body, "data_key", length));
  // The digest the answer named is the key's.
  auto parsed = kms::ParseObject(body);
  KMSFS_FUZZ_CHECK(parsed.has_value());
  auto dgst = HexDecode(kms::GetText(*parsed, "datakey_dgst"));
  KMSFS_FUZZ_CHECK(dgst.ok() && dgst->size() == crypto_hash_sha256_BYTES);
  std::array<uint8_t, crypto_hash_sha256_BYTES> actual{};
  crypto_hash_sha256(actual.data(), dek->data(), dek->size());
  KMSFS_FUZZ_CHECK(sodium_memcmp(actual.data(), dgst->data(), actual.size()) == 0);
}

void CipherText(std::string_view body) {
  auto cipher = kms::ParseCipherTextAnswer(body);
  if (!cipher.ok()) {
    KMSFS_FUZZ_CHECK(FailedCleanly(cipher.status()));
    return;
  }
  KMSFS_FUZZ_CHECK(!cipher->empty());
}

void Lists(int which, std::string_view body) {
  auto parsed = kms::ParseObject(body);
  if (!parsed) return;
  if (which == 3) {
    auto it = parsed->find("key_info");
    const kms::KeyInfo info = kms::ParseKeyInfo(it != parsed->end() && it->is_object() ? *it : *parsed);
    (void)info;
  } else if (which == 4) {
    const kms::KeyList list = kms::ParseKeyList(*parsed);
    KMSFS_FUZZ_CHECK(list.total >= 0 || parsed->contains("total"));
  } else {
    const kms::GrantList list = kms::ParseGrantList(*parsed);
    KMSFS_FUZZ_CHECK(list.total >= 0 || parsed->contains("total"));
  }
}

}  // namespace
}  // namespace kmsfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::fuzz;  // NOLINT
  if (size < 2) return 0;
  kmsfs::EnsureSodiumInitialized();
  const int which = data[0] % 6;
  const size_t length = data[1];
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  switch (which) {
    case 0: CreateDataKey(kmsfs::SecureString(body.data(), body.size()), length); break;
    case 1: DecryptDataKey(kmsfs::SecureString(body.data(), body.size()), length); break;
    case 2: CipherText(body); break;
    default: Lists(which, body); break;
  }
  return 0;
}
