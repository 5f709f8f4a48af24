#include "base/base64.h"

namespace kmsfs {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

template <typename String>
String Encode(std::span<const uint8_t> bytes) {
  String out(4 * ((bytes.size() + 2) / 3), '\0');
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0u);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) { return Encode<std::string>(bytes); }

SecureString Base64EncodeSecret(std::span<const uint8_t> bytes) { return Encode<SecureString>(bytes); }

StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return Status::InvalidArgument("Base64 length is not a multiple of 4");
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      // '=' only in the last two positions, and nothing but '=' after it.
      if (i + 2 < text.size()) return Status::InvalidArgument("misplaced Base64 padding");
      ++padding;
      continue;
    }
    if (padding > 0 || Base64Value(c) < 0) return Status::InvalidArgument("invalid Base64 character");
  }
  // Every quantum decodes to three bytes, the padded tail's unused bits
  // included (they are dropped, not checked), and the padding bytes go.
  std::vector<uint8_t> out(text.size() / 4 * 3);
  for (size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      v = (v << 6) | static_cast<uint32_t>(c == '=' ? 0 : Base64Value(c));
    }
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
  }
  out.resize(out.size() - padding);
  return out;
}

}  // namespace kmsfs
