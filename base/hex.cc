#include "base/hex.h"

#include <sodium.h>

namespace kmsfs {
namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes into `out` (exactly hex.size()/2 bytes); false on any bad char.
bool DecodeInto(std::string_view hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return true;
}

template <typename String>
String Encode(std::span<const uint8_t> bytes, const char* digits) {
  String out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}
}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes) { return Encode<std::string>(bytes, "0123456789abcdef"); }
std::string HexEncodeUpper(std::span<const uint8_t> bytes) { return Encode<std::string>(bytes, "0123456789ABCDEF"); }
SecureString HexEncodeUpperSecret(std::span<const uint8_t> bytes) {
  return Encode<SecureString>(bytes, "0123456789ABCDEF");
}

StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status::InvalidArgument("hex string has odd length");
  std::vector<uint8_t> out(hex.size() / 2);
  if (!DecodeInto(hex, out.data())) return Status::InvalidArgument("not a hex string");
  return out;
}

StatusOr<SecretBytes> HexDecodeSecret(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status::InvalidArgument("hex string has odd length");
  SecretBytes out(hex.size() / 2);
  if (!DecodeInto(hex, out.data())) return Status::InvalidArgument("not a hex string");
  return out;
}

void WipeString(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

}  // namespace kmsfs
