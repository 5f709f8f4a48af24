// Published AEAD known-answer vectors, as hex text.
//
// AES-256-GCM: test cases 13-16 of "The Galois/Counter Mode of Operation
// (GCM)" (McGrew & Viega), the AES-256 cases with a 96-bit IV, also used by
// NIST's GCM validation. XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03,
// appendix A.3.1.
#ifndef KMSFS_TESTS_VECTORS_AEAD_KAT_H_
#define KMSFS_TESTS_VECTORS_AEAD_KAT_H_

#include <ostream>

#include "crypto/aead.h"

namespace kmsfs::vectors {

struct AeadVector {
  const char* name;
  crypto::CipherSuite suite;
  const char* key;
  const char* nonce;
  const char* ad;
  const char* plain;
  const char* ciphertext;
  const char* tag;
};
// Test names show the vector's name, not its bytes.
inline void PrintTo(const AeadVector& v, std::ostream* os) { *os << v.name; }

inline constexpr AeadVector kAeadVectors[] = {
    {"GcmTestCase13", crypto::CipherSuite::kAes256Gcm,
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"GcmTestCase14", crypto::CipherSuite::kAes256Gcm,
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"GcmTestCase15", crypto::CipherSuite::kAes256Gcm,
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"GcmTestCase16", crypto::CipherSuite::kAes256Gcm,
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"XChaChaDraftA31", crypto::CipherSuite::kXChaCha20Poly1305,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
     "404142434445464748494a4b4c4d4e4f5051525354555657", "50515253c0c1c2c3c4c5c6c7",
     // "Ladies and Gentlemen of the class of '99: If I could offer you only
     // one tip for the future, sunscreen would be it."
     "4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
     "73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
     "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
     "637265656e20776f756c642062652069742e",
     "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
     "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
     "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
     "21f9664c97637da9768812f615c68b13b52e",
     "c0875924c1c7987947deafd8780acf49"},
};

}  // namespace kmsfs::vectors

#endif  // KMSFS_TESTS_VECTORS_AEAD_KAT_H_
