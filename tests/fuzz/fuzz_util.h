// Shared pieces of the libFuzzer targets in tests/fuzz: the invariant check
// that turns a broken promise into a crash libFuzzer reports, and the fixed
// keys the targets and their seed generator agree on (so that committed seed
// blocks and envelopes are genuinely sealed, and the fuzzer starts from
// inputs that pass authentication).
//
// The keys are public test constants, never used outside tests/fuzz.
//
// Thread-safety: constants and a stateless macro.
#ifndef KMSFS_TESTS_FUZZ_FUZZ_UTIL_H_
#define KMSFS_TESTS_FUZZ_FUZZ_UTIL_H_

#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>

#include "base/secret_bytes.h"

// Aborts the run (libFuzzer saves the input as a crash) when `cond` is false,
// after naming the broken invariant on stderr.
#define KMSFS_FUZZ_CHECK(cond)                                                              \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                                     \
    }                                                                                       \
  } while (0)

namespace kmsfs::fuzz {

// fuzz_block_open: DEK = 00 01 … 3f, file id = a0 a1 … af (the worked
// example of docs/FORMAT.md).
inline SecretBytes FixedDek() {
  SecretBytes dek(64);
  for (size_t i = 0; i < dek.size(); ++i) dek.mutable_span()[i] = static_cast<uint8_t>(i);
  return dek;
}
inline constexpr std::array<uint8_t, 16> kFixedFileId = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                                         0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

// fuzz_envelope: CMK material = 32 bytes of 0x5a, key id and contexts below.
inline SecretBytes FixedCmkMaterial() {
  SecretBytes m(32);
  for (uint8_t& b : m.mutable_span()) b = 0x5a;
  return m;
}
inline constexpr std::string_view kFixedKeyId = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
inline constexpr uint32_t kFixedKeyVersion = 1;
// Canonical encryption contexts the envelope target opens under (selected by
// the input's first byte).
inline constexpr std::array<std::string_view, 2> kContexts = {
    "", R"({"kmsfs_file_id":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"})"};

// fuzz_kmsd_request: the actions its first input byte selects from, in
// this order: every action kmsd serves, then the pseudo-actions "login"
// (POST /v3/auth/tokens) and "authenticate" (the X-Auth-Token check).
inline constexpr std::array<std::string_view, 27> kKmsdActions = {
    "create-key",
    "describe-key",
    "list-keys",
    "enable-key",
    "disable-key",
    "schedule-key-deletion",
    "cancel-key-deletion",
    "enable-key-rotation",
    "disable-key-rotation",
    "get-key-rotation-status",
    "gen-random",
    "create-datakey",
    "create-datakey-without-plaintext",
    "encrypt-datakey",
    "decrypt-datakey",
    "encrypt-data",
    "decrypt-data",
    "create-grant",
    "list-grants",
    "revoke-grant",
    "retire-grant",
    "list-retirable-grants",
    "get-parameters-for-import",
    "import-key-material",
    "delete-imported-key-material",
    "login",
    "authenticate",
};

}  // namespace kmsfs::fuzz

#endif  // KMSFS_TESTS_FUZZ_FUZZ_UTIL_H_
