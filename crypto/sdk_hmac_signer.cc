#include "crypto/sdk_hmac_signer.h"

#include <openssl/crypto.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace kmsfs::crypto::sdk_hmac {
namespace {

constexpr std::string_view kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Hex(const uint8_t* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::array<uint8_t, crypto_hash_sha256_BYTES> d{};
  crypto_hash_sha256(d.data(), reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return Hex(d.data(), d.size());
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// Python's str.strip() for the ASCII whitespace it removes.
std::string_view Strip(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\v\f\x1c\x1d\x1e\x1f";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; anything else (a lone '%' included) kept as is.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Python's urllib.parse.quote(s, safe='~') on UTF-8 bytes.
std::string PercentEncode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                            u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[u >> 4]);
      out.push_back(kDigits[u & 15]);
    }
  }
  return out;
}

std::string PayloadHash(const Request& request) {
  if (request.body.empty()) return std::string(kEmptyHash);
  if (const std::string* given = FindHeader(request.headers, kContentHashHeader)) return *given;
  return Sha256Hex(request.body);
}

}  // namespace

const std::string* FindHeader(const Pairs& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

std::string CanonicalUri(std::string_view path) {
  const std::string decoded = PercentDecode(path);
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t slash = decoded.find('/', start);
    out += PercentEncode(std::string_view(decoded).substr(start, slash - start));
    if (slash == std::string::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  if (out.empty() || out.back() != '/') out.push_back('/');
  return out;
}

Pairs ParseQuery(std::string_view raw_query) {
  Pairs out;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view item = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    out.emplace_back(PercentDecode(item.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : PercentDecode(item.substr(eq + 1)));
  }
  return out;
}

std::string CanonicalQueryString(const Pairs& query) {
  Pairs sorted = query;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [name, value] : sorted) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}

std::vector<std::string> SignableHeaderNames(const Pairs& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    if (name.find('_') == std::string::npos) names.push_back(LowerCase(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

StatusOr<std::string> CanonicalRequest(const Request& request, const std::vector<std::string>& signed_headers) {
  std::string headers;
  std::string names;
  for (const std::string& name : signed_headers) {
    const std::string* value = FindHeader(request.headers, name);
    if (value == nullptr) return Status::InvalidArgument("signed header " + name + " is not in the request");
    headers += LowerCase(name) + ":" + std::string(Strip(*value)) + "\n";
    if (!names.empty()) names.push_back(';');
    names += LowerCase(name);
  }
  std::string method = request.method;
  for (char& c : method) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return method + "\n" + CanonicalUri(request.path) + "\n" + CanonicalQueryString(request.query) + "\n" + headers +
         "\n" + names + "\n" + PayloadHash(request);
}

std::string StringToSign(std::string_view canonical_request, std::string_view sdk_date) {
  return std::string(kAlgorithm) + "\n" + std::string(sdk_date) + "\n" + Sha256Hex(canonical_request);
}

std::string Signature(const SecretBytes& secret_key, std::string_view string_to_sign) {
  std::array<uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, secret_key.data(), secret_key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const uint8_t*>(string_to_sign.data()),
                                string_to_sign.size());
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);  // holds the key's pads
  return Hex(mac.data(), mac.size());
}

std::string AuthorizationValue(std::string_view access, const std::vector<std::string>& signed_headers,
                               std::string_view signature) {
  std::string names;
  for (const std::string& n : signed_headers) {
    if (!names.empty()) names.push_back(';');
    names += n;
  }
  return std::string(kAlgorithm) + " Access=" + std::string(access) + ", SignedHeaders=" + names +
         ", Signature=" + std::string(signature);
}

StatusOr<Authorization> ParseAuthorization(std::string_view value) {
  const auto bad = [] { return Status::InvalidArgument("not an SDK-HMAC-SHA256 Authorization header"); };
  value = Strip(value);
  if (value.substr(0, kAlgorithm.size()) != kAlgorithm || value.size() == kAlgorithm.size() ||
      value[kAlgorithm.size()] != ' ') {
    return bad();
  }
  value.remove_prefix(kAlgorithm.size() + 1);
  Authorization auth;
  bool have_access = false, have_headers = false, have_signature = false;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view item = Strip(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad();
    const std::string_view name = item.substr(0, eq);
    const std::string_view field = item.substr(eq + 1);
    if (name == "Access" && !have_access) {
      auth.access = std::string(field);
      have_access = true;
    } else if (name == "SignedHeaders" && !have_headers) {
      std::string_view rest = field;
      while (!rest.empty()) {
        const size_t semi = rest.find(';');
        const std::string_view h = rest.substr(0, semi);
        if (h.empty() || LowerCase(h) != h) return bad();
        auth.signed_headers.emplace_back(h);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      }
      have_headers = true;
    } else if (name == "Signature" && !have_signature) {
      auth.signature = std::string(field);
      have_signature = true;
    } else {
      return bad();
    }
  }
  if (!have_access || !have_headers || !have_signature || auth.access.empty() || auth.signed_headers.empty() ||
      auth.signature.empty()) {
    return bad();
  }
  return auth;
}

std::string FormatSdkDate(int64_t epoch_sec) {
  const time_t t = static_cast<time_t>(epoch_sec);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

StatusOr<int64_t> ParseSdkDate(std::string_view text) {
  const auto bad = [&] { return Status::InvalidArgument("X-Sdk-Date is not YYYYMMDDTHHMMSSZ"); };
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return bad();
  auto number = [&](size_t at, size_t len, int* out) {
    int v = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  struct tm tm {};
  int year = 0, month = 0;
  if (!number(0, 4, &year) || !number(4, 2, &month) || !number(6, 2, &tm.tm_mday) || !number(9, 2, &tm.tm_hour) ||
      !number(11, 2, &tm.tm_min) || !number(13, 2, &tm.tm_sec)) {
    return bad();
  }
  if (year < 1970 || month < 1 || month > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return bad();
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  return static_cast<int64_t>(timegm(&tm));
}

StatusOr<std::string> Sign(Request& request, std::string_view access, const SecretBytes& secret_key, int64_t now_sec) {
  if (FindHeader(request.headers, kDateHeader) == nullptr) {
    request.headers.emplace_back(std::string(kDateHeader), FormatSdkDate(now_sec));
  }
  if (FindHeader(request.headers, "Host") == nullptr) {
    return Status::InvalidArgument("a signed request needs its Host header");
  }
  const std::vector<std::string> names = SignableHeaderNames(request.headers);
  KMSFS_ASSIGN_OR_RETURN(std::string canonical, CanonicalRequest(request, names));
  const std::string to_sign = StringToSign(canonical, *FindHeader(request.headers, kDateHeader));
  return AuthorizationValue(access, names, Signature(secret_key, to_sign));
}

StatusOr<bool> SignatureMatches(const Request& request, const Authorization& auth, const SecretBytes& secret_key) {
  const std::string* date = FindHeader(request.headers, kDateHeader);
  if (date == nullptr) return Status::InvalidArgument("the request has no X-Sdk-Date header");
  KMSFS_ASSIGN_OR_RETURN(std::string canonical, CanonicalRequest(request, auth.signed_headers));
  const std::string expected = Signature(secret_key, StringToSign(canonical, *date));
  if (expected.size() != auth.signature.size()) return false;
  return CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) == 0;
}

}  // namespace kmsfs::crypto::sdk_hmac
