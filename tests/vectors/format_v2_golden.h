// Golden values of on-disk format version 2 (docs/FORMAT.md §10 and later).
// Like format_v1_golden.h, they guard released layouts: if a test using them
// fails, the code changed the format. The encrypted-name values were
// cross-checked with an independent AES-SIV and HKDF implementation.
#ifndef KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_
#define KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_

namespace kmsfs::vectors {

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

}  // namespace kmsfs::vectors

#endif  // KMSFS_TESTS_VECTORS_FORMAT_V2_GOLDEN_H_
