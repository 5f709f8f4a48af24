#include "fs/cli/output.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <ctime>

namespace kmsfs::cli {
namespace {

using nlohmann::json;

// Characters, not bytes: UTF-8 continuation bytes do not count.
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// 2000-01-01 .. 9999-12-31 in ms: anything else is not a date the KMS meant.
std::optional<int64_t> EpochMillis(std::string_view ms) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), v);
  if (ms.empty() || ec != std::errc() || ptr != ms.data() + ms.size()) return std::nullopt;
  if (v < 946684800000LL || v > 253402300799999LL) return std::nullopt;
  return v;
}

std::string FormatUtc(int64_t ms, const char* format) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

json OptionalIso(std::string_view ms) {
  std::optional<std::string> iso = IsoFromEpochMillis(ms);
  return iso ? json(*iso) : json(nullptr);
}

json OptionalMillis(std::string_view ms) {
  std::optional<int64_t> v = EpochMillis(ms);
  return v ? json(*v) : json(nullptr);
}

}  // namespace

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  for (std::string& c : cells) c = Printable(c);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], DisplayWidth(row[i]));
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);
  std::string out;
  auto render = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  render(header_);
  for (const auto& row : rows_) render(row);
  return out;
}

namespace {

// Characters a terminal acts on or that reorder what is shown: C1 controls
// (U+0080-U+009F: xterm takes U+009B as CSI) and the bidirectional marks,
// embeddings, overrides and isolates.
bool IsControlCodePoint(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

// The length of the well-formed UTF-8 sequence at text[i] and its code
// point, or 0 when it is not one (a stray byte, an overlong form, a
// surrogate, past U+10FFFF).
size_t DecodeUtf8(std::string_view text, size_t i, uint32_t* cp) {
  const auto b = static_cast<unsigned char>(text[i]);
  size_t len = 0;
  if ((b & 0xe0) == 0xc0) {
    len = 2, *cp = b & 0x1f;
  } else if ((b & 0xf0) == 0xe0) {
    len = 3, *cp = b & 0x0f;
  } else if ((b & 0xf8) == 0xf0) {
    len = 4, *cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    *cp = (*cp << 6) | (c & 0x3f);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (*cp < kSmallest[len] || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff) return 0;
  return len;
}

}  // namespace

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += (b < 0x20 || b == 0x7f) ? '?' : static_cast<char>(b);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0 || IsControlCodePoint(cp)) {
      out += '?';
      i += len == 0 ? 1 : len;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

std::string FormatEpochMillis(std::string_view ms) {
  if (ms.empty()) return "";
  std::optional<int64_t> v = EpochMillis(ms);
  return v ? FormatUtc(*v, "%Y-%m-%d %H:%M:%S UTC") : Printable(ms);
}

std::optional<std::string> IsoFromEpochMillis(std::string_view ms) {
  std::optional<int64_t> v = EpochMillis(ms);
  if (!v) return std::nullopt;
  return FormatUtc(*v, "%Y-%m-%dT%H:%M:%SZ");
}

const char* KeyStateName(std::string_view state) {
  if (state == "1") return "pending-activation";
  if (state == "2") return "enabled";
  if (state == "3") return "disabled";
  if (state == "4") return "scheduled-deletion";
  if (state == "5") return "pending-import";
  return "unknown";
}

json KeyJson(const kms::KeyInfo& k) {
  json state_code = nullptr;
  int code = 0;
  if (auto [ptr, ec] = std::from_chars(k.key_state.data(), k.key_state.data() + k.key_state.size(), code);
      ec == std::errc() && ptr == k.key_state.data() + k.key_state.size()) {
    state_code = code;
  }
  return {{"key_id", k.key_id},
          {"alias", k.key_alias},
          {"state", KeyStateName(k.key_state)},
          {"state_code", state_code},
          {"origin", k.origin},
          {"spec", k.key_spec},
          {"usage", k.key_usage},
          {"description", k.key_description},
          {"domain_id", k.domain_id},
          {"default_key", k.default_key_flag == "1"},
          {"created", OptionalIso(k.creation_date)},
          {"created_ms", OptionalMillis(k.creation_date)},
          {"deletion_date", OptionalIso(k.scheduled_deletion_date)},
          {"material_expires", OptionalIso(k.expiration_time)}};
}

json GrantJson(const kms::Grant& g) {
  return {{"grant_id", g.grant_id},
          {"key_id", g.key_id},
          {"grantee", g.grantee_principal},
          {"grantee_type", g.grantee_principal_type},
          {"operations", g.operations},
          {"name", g.name},
          {"issuing_principal", g.issuing_principal},
          {"retiring_principal", g.retiring_principal},
          {"created", OptionalIso(g.creation_date)},
          {"created_ms", OptionalMillis(g.creation_date)}};
}

std::string JsonText(const json& value) {
  return value.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace kmsfs::cli
