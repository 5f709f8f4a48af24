// Hex codecs. The KMS API carries DEKs and their ciphertexts as hex strings.
#ifndef KMSFS_BASE_HEX_H_
#define KMSFS_BASE_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/secure_string.h"
#include "base/status.h"

namespace kmsfs {

// Lower-case hex of `bytes`.
std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncodeUpper(std::span<const uint8_t> bytes);
// Upper-case hex into wiping memory (for key plaintexts in answers).
SecureString HexEncodeUpperSecret(std::span<const uint8_t> bytes);
// Accepts upper and lower case; rejects odd length, whitespace, any non-hex char.
StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex);
// Same, straight into secure memory (for DEK plaintexts received from a KMS).
StatusOr<SecretBytes> HexDecodeSecret(std::string_view hex);
// Wipes a std::string that held secret material (e.g. a JSON body with a DEK).
void WipeString(std::string& s);

}  // namespace kmsfs

#endif  // KMSFS_BASE_HEX_H_
