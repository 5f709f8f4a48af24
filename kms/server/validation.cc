#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {
bool IsLowerAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }
bool IsAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool IsKeyId(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!IsLowerAlnum(s[i])) {
      return false;
    }
  }
  return true;
}

bool IsAliasSyntax(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != ':' && c != '/' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsGrantId(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsHex(c)) return false;
  }
  return true;
}

bool IsPrincipal(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!IsAlnum(c)) return false;
  }
  return true;
}

bool IsSequence(std::string_view s) {
  if (s.size() != 36) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsBase64Text(std::string_view s, size_t min_len, size_t max_len) {
  if (s.size() < min_len || s.size() > max_len) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '+' && c != '/' && c != '=') return false;
  }
  return true;
}

bool IsSimpleName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace kmsfs::kms::server
