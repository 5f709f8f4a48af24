// Golden values of on-disk format version 2 (docs/FORMAT.md §10 and later).
// Like format_v1_golden.h, they guard released layouts: if a test using them
// fails, the code changed the format. The encrypted-name values were
// cross-checked with an independent AES-SIV and HKDF implementation.
#ifndef KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_
#define KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_

namespace kmsfs::vectors {

// The inline header region (FORMAT.md §12) of the example file of FORMAT.md
// §6 in an inline-header volume: the length 00ff, then its 255-byte version 2
// header (user.kmsfs of the same file in an xattr volume); the 255 bytes up
// to 512 are zero. The file's sealed block follows at offset 512, unchanged.
inline constexpr char kInlineRegionPrefixHex[] =
    "00ff"
    "4b4d53460002010100001000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf24306430"
    "34363662302d653732372d346439632d623335642d6638346262343734613337"
    "6600bc020098000b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83"
    "a8cdf2173c6186abd0f51a3f6489aed3f81d42678cb1d6fb20456a8fb4d9fe23"
    "486d92b7dc01264b7095badf04294e7398bde2072c51769bc0e50a2f54799ec3"
    "e80d32577ca1c6eb10355a7fa4c9ee13385d82a7ccf11630643034363662302d"
    "653732372d346439632d623335642d6638346262343734613337660000000007"
    "6cd1369b0065ca2f94f95ec3288df257bc2186eb50b51a7fe449ae1378dd42";
// The directory value file (FORMAT.md §13) of the directory whose value is
// 20 21 .. 2f: the same 22 bytes as its xattr would hold.
inline constexpr char kExampleDirValueFileHex[] = "4b4d53440001202122232425262728292a2b2c2d2e2f";

// Inputs: volume key 00..1f, volume id 10..1f, directory value 20..2f.
// HKDF-SHA256(volume key, salt = volume id, "kmsfs v2 name key", 64).
inline constexpr char kExampleNameKeyHex[] =
    "e2abafec085afa14571cb9a14a86306cc34b8f73101d9e21a73c71b4698c0b8b"
    "1c6e46817c6627ad1d443490605deb9c9fd5b048c1c56318b99e315d545cf123";
inline constexpr char kExampleName[] = "salaries-2026.xlsx";
// AES-256-SIV(name key, AD = directory value, "salaries-2026.xlsx" || 0e x 14):
// tag || ciphertext, as unpadded base64url (64 characters).
inline constexpr char kExampleEncodedName[] = "EAp7AV2q9y3zOPLLeKoBK00M7xIYdnr2znt7GQbWLAl0QMRzmTgVMYgqtoInjip9";
// 200 times 'n' encrypts to 299 characters: stored as its hash.
inline constexpr char kExampleLongStoredName[] = "kmsfs.l.9CkESzh3vW-07Wd41bdN53-WJxiJ6vLFY4SrizQn3l8";
// The directory's user.kmsfs xattr: "KMSD" | 0001 | value.
inline constexpr char kExampleDirValueXattrHex[] = "4b4d53440001202122232425262728292a2b2c2d2e2f";

// user.kmsfs of the example file of FORMAT.md §6 in header version 2: the
// same fields as kHeaderV1Hex, the wrapped DEK stored as its 188 bytes with
// flag bit 0 set (its hex was upper-case). 255 bytes.
inline constexpr char kHeaderV2Hex[] =
    "4b4d53460002010100001000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf24306430"
    "34363662302d653732372d346439632d623335642d6638346262343734613337"
    "6600bc020098000b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83"
    "a8cdf2173c6186abd0f51a3f6489aed3f81d42678cb1d6fb20456a8fb4d9fe23"
    "486d92b7dc01264b7095badf04294e7398bde2072c51769bc0e50a2f54799ec3"
    "e80d32577ca1c6eb10355a7fa4c9ee13385d82a7ccf11630643034363662302d"
    "653732372d346439632d623335642d6638346262343734613337660000000007"
    "6cd1369b0065ca2f94f95ec3288df257bc2186eb50b51a7fe449ae1378dd42";

// .kmsfs.json version 2 of FORMAT.md §7, byte for byte as ToJson writes it:
// volume id 10..1f, a shortened illustrative wrapped volume key, and the MAC
// under the volume key 00..1f.
inline constexpr char kVolumeConfigV2Json[] = R"({
  "format": "kmsfs",
  "version": 2,
  "volume_id": "101112131415161718191a1b1c1d1e1f",
  "key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
  "project_id": "05a41e0bd580d4a82f8bc00a2e5b33ad",
  "cipher_suite": "AES-256-GCM",
  "block_size": 4096,
  "names": "encrypted",
  "header": "xattr",
  "volume_key": "0200980042",
  "created": "2026-12-06T12:00:00Z",
  "mac": "f1f03595b25b68c24d9d2d509d84057eeffda8aa223eea6c9c402d4447ea8194"
}
)";
// HKDF-SHA256(volume key 00..1f, salt = volume id, "kmsfs v2 config mac", 32).
inline constexpr char kConfigMacKeyHex[] = "93c594cfd7b377025d34d82f939a88493cca9b5178516fb57f404ba3a1204f59";

}  // namespace kmsfs::vectors

#endif  // KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_
