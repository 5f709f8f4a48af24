// Golden bytes of on-disk format v1. They guard the format against accidental
// change: if a test using them fails, the code changed the layout. Released
// layouts are never edited (docs/FORMAT.md "Versioning"): a new layout gets a
// new version and new golden bytes next to these.
//
// The values are the worked example of docs/FORMAT.md, as printed by
// tests/format/print_format_example from the inputs in
// tests/format/format_example.h, and cross-checked with an independent
// HKDF / AES-GCM implementation.
#ifndef KMSFS_TESTS_VECTORS_FORMAT_V1_GOLDEN_H_
#define KMSFS_TESTS_VECTORS_FORMAT_V1_GOLDEN_H_

namespace kmsfs::vectors {

// user.kmsfs of the example file: AES-256-GCM, block size 4096, file id
// a0..af, key id 0d0466b0-e727-4d9c-b35d-f84bb474a37f, a 376-character
// wrapped DEK. 443 bytes.
inline constexpr char kHeaderV1Hex[] =
    "4b4d53460001010000001000a0a1a2a3a4a5a6a7a8a9aaabacadaeaf24306430"
    "34363662302d653732372d346439632d623335642d6638346262343734613337"
    "6601783032303039383030304233303535374139464334453930453333353837"
    "4441324337454331313336354238304135434145463134333935453833413843"
    "4446323137334336313836414244304635314133463634383941454433463831"
    "4434323637384342314436464232303435364138464234443946453233343836"
    "4439324237444330313236344237303935424144463034323934453733393842"
    "4445323037324335313736394243304535304132463534373939454333453830"
    "4433323537374341314336454231303335354137464134433945453133333835"
    "4438324137434346313136333036343330333433363336363233303244363533"
    "3733323337324433343634333936333244363233333335363432443636333833"
    "3436323632333433373334363133333337363630303030303030303037364344"
    "3133363942303036354341324639344639354543333238384446323537424332"
    "313836454235304235314137464534343941453133373844443432";

// HKDF-SHA256(DEK = 00..3f, salt = file id a0..af, "kmsfs v1 content key").
inline constexpr char kContentKeyHex[] =
    "722b6ddd0a8ec8ee922f3160e3c8ea05aeaac4bdc92dae0e0d3b0438b3d3ead2";

// AD of block 0: file id || 0 as uint64 big-endian.
inline constexpr char kBlock0AdHex[] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0000000000000000";

// The whole backing file (72 bytes): block 0 = nonce || ciphertext || tag for
// the 44-byte plaintext "Hello, kmsfs! This file is one short block.\n".
inline constexpr char kBlock0SealedHex[] =
    "e35c910a7f22d468b1063e9d"
    "7c7ffe1ec7cc48ab21aee3296773dd4a1c20de2bfd87afd5a36fe38d828722362365ba6bb5471ea77b47d136"
    "724b9b3d0c4ea6f9dbb2182cf705b147";

// The .kmsfs.json example of docs/FORMAT.md, byte for byte as ToJson writes it.
inline constexpr char kVolumeConfigV1Json[] = R"({
  "format": "kmsfs",
  "version": 1,
  "key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
  "project_id": "05a41e0bd580d4a82f8bc00a2e5b33ad",
  "cipher_suite": "AES-256-GCM",
  "block_size": 4096,
  "canary": {
    "file_id": "5f0c2e1d9a7b4c3e8d6f1a2b3c4d5e6f",
    "wrapped_dek": "0200980042"
  },
  "created": "2024-05-01T12:00:00Z"
}
)";

}  // namespace kmsfs::vectors

#endif  // KMSFS_TESTS_VECTORS_FORMAT_V1_GOLDEN_H_
