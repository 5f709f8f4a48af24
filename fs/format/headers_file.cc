#include "fs/format/headers_file.h"

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "base/hex.h"

namespace kmsfs::format {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxComponent = 255;
constexpr char kHexDigits[] = "0123456789ABCDEF";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not the canonical form: refused
}

// Why `path` (decoded) cannot name an entry under the backing directory, or
// empty when it can. "" (the root) is checked by the caller.
std::string PathProblem(std::string_view path) {
  if (path.size() > kMaxPath) return "is longer than 4096 bytes";
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return "has an empty component";
    if (part == "." || part == "..") return "has a '.' or '..' component";
    if (part.size() > kMaxComponent) return "has a component longer than 255 bytes";
    if (part.find('\0') != std::string_view::npos) return "has a NUL byte";
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

Status BadLine(std::string_view why) { return Status::DataLoss(std::string(why)); }

Status CheckKeys(const Json& j, std::initializer_list<std::string_view> known) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool found = false;
    for (std::string_view k : known) found = found || it.key() == k;
    if (!found) return BadLine("unknown field \"" + it.key().substr(0, 64) + "\"");
  }
  return Status::Ok();
}

StatusOr<std::string> GetString(const Json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return BadLine(std::string("field \"") + field + "\" is missing");
  if (!it->is_string()) return BadLine(std::string("field \"") + field + "\" must be a string");
  return it->get<std::string>();
}

StatusOr<Json> ParseObject(std::string_view line) {
  if (line.size() > kMaxHeadersFileLine) return BadLine("line is longer than 64 KiB");
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return BadLine("not a JSON object");
  return j;
}

StatusOr<std::vector<uint8_t>> GetHex(const Json& j, const char* field) {
  KMSFS_ASSIGN_OR_RETURN(std::string hex, GetString(j, field));
  auto bytes = HexDecode(hex);
  if (!bytes.ok()) return BadLine(std::string("field \"") + field + "\" is not hex");
  return bytes;
}

}  // namespace

std::string EscapePath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e || c == '%') {
      out += '%';
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

StatusOr<std::string> UnescapePath(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const auto c = static_cast<unsigned char>(escaped[i]);
    if (c < 0x21 || c > 0x7e) return BadLine("path has a byte that must be escaped");
    if (c != '%') {
      out += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= escaped.size()) return BadLine("path ends inside an escape");
    const int hi = HexDigit(escaped[i + 1]), lo = HexDigit(escaped[i + 2]);
    if (hi < 0 || lo < 0) return BadLine("path has a bad escape (want %XX, upper-case hex)");
    const auto b = static_cast<unsigned char>(hi * 16 + lo);
    if (b >= 0x21 && b <= 0x7e && b != '%') return BadLine("path escapes a byte that needs none");
    out += static_cast<char>(b);
    i += 2;
  }
  return out;
}

std::string EncodeInfoLine(const HeadersFileInfo& info) {
  OrderedJson j;
  j["format"] = kHeadersFileFormat;
  j["version"] = kHeadersFileVersion;
  j["volume_id"] = info.volume_id;
  j["key_id"] = info.key_id;
  j["created"] = info.created;
  return j.dump(-1, ' ', true, OrderedJson::error_handler_t::replace) + "\n";
}

std::string EncodeEntryLine(const ExportedEntry& entry) {
  OrderedJson j;
  if (entry.kind == ExportedEntry::Kind::kDirectory) {
    j["dir"] = EscapePath(entry.path);
    j["value"] = HexEncode(EncodeDirValue(entry.value));
  } else {
    j["file"] = EscapePath(entry.path);
    j["file_id"] = FileIdHex(entry.header.file_id);
    j["header"] = HexEncode(entry.header.Encode());
  }
  return j.dump() + "\n";
}

StatusOr<HeadersFileInfo> DecodeInfoLine(std::string_view line) {
  KMSFS_ASSIGN_OR_RETURN(Json j, ParseObject(line));
  KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"format", "version", "volume_id", "key_id", "created"}));
  KMSFS_ASSIGN_OR_RETURN(std::string format, GetString(j, "format"));
  if (format != kHeadersFileFormat) return BadLine("not a kmsfs headers export (format is not \"kmsfs-headers\")");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_unsigned()) return BadLine("field \"version\" must be an integer");
  if (version->get<uint64_t>() != kHeadersFileVersion) {
    return BadLine("headers export version " + std::to_string(version->get<uint64_t>()) +
                   " is not supported (this build reads version 1)");
  }
  HeadersFileInfo info;
  KMSFS_ASSIGN_OR_RETURN(info.volume_id, GetString(j, "volume_id"));
  if (!info.volume_id.empty() && (info.volume_id.size() != 32 || !HexDecode(info.volume_id).ok())) {
    return BadLine("field \"volume_id\" must be 32 hex characters or empty");
  }
  KMSFS_ASSIGN_OR_RETURN(info.key_id, GetString(j, "key_id"));
  KMSFS_ASSIGN_OR_RETURN(info.created, GetString(j, "created"));
  if (info.key_id.size() > 255 || info.created.size() > 64) return BadLine("field \"key_id\" or \"created\" is too long");
  return info;
}

StatusOr<ExportedEntry> DecodeEntryLine(std::string_view line) {
  KMSFS_ASSIGN_OR_RETURN(Json j, ParseObject(line));
  ExportedEntry e;
  std::string escaped;
  if (j.contains("dir")) {
    KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"dir", "value"}));
    e.kind = ExportedEntry::Kind::kDirectory;
    KMSFS_ASSIGN_OR_RETURN(escaped, GetString(j, "dir"));
    KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> value, GetHex(j, "value"));
    auto decoded = DecodeDirValue(value);
    if (!decoded.ok()) return decoded.status().Annotate("field \"value\"");
    e.value = *decoded;
  } else if (j.contains("file")) {
    KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"file", "file_id", "header"}));
    KMSFS_ASSIGN_OR_RETURN(escaped, GetString(j, "file"));
    KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> header, GetHex(j, "header"));
    auto decoded = FileHeader::Decode(header);
    if (!decoded.ok()) return decoded.status().Annotate("field \"header\"");
    e.header = std::move(decoded).value();
    KMSFS_ASSIGN_OR_RETURN(std::string file_id, GetString(j, "file_id"));
    if (file_id != FileIdHex(e.header.file_id)) return BadLine("field \"file_id\" is not the header's file id");
  } else {
    return BadLine("neither a \"dir\" nor a \"file\" line");
  }
  KMSFS_ASSIGN_OR_RETURN(e.path, UnescapePath(escaped));
  if (e.kind == ExportedEntry::Kind::kFile && e.path.empty()) return BadLine("a file line needs a path");
  if (!e.path.empty()) {
    if (std::string p = PathProblem(e.path); !p.empty()) return BadLine("path " + p);
  }
  return e;
}

StatusOr<std::unique_ptr<HeadersFileReader>> HeadersFileReader::Open(const std::string& path) {
  std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rbe");
  if (file == nullptr) return Status::FromErrno(errno, "open " + path);
  std::unique_ptr<HeadersFileReader> reader(new HeadersFileReader(file, path != "-"));
  KMSFS_ASSIGN_OR_RETURN(std::optional<std::string> first, reader->ReadLine());
  if (!first) return Status::DataLoss(path + " is empty, not a kmsfs headers export");
  auto info = DecodeInfoLine(*first);
  if (!info.ok()) return info.status().Annotate(path + " line 1");
  reader->info_ = std::move(info).value();
  return reader;
}

HeadersFileReader::~HeadersFileReader() {
  if (owned_) std::fclose(file_);
}

StatusOr<std::optional<std::string>> HeadersFileReader::ReadLine() {
  std::string line;
  int c;
  while ((c = std::getc(file_)) != EOF && c != '\n') {
    if (line.size() >= kMaxHeadersFileLine) {
      return Status::DataLoss("line " + std::to_string(line_number_ + 1) + " is longer than 64 KiB");
    }
    line += static_cast<char>(c);
  }
  if (std::ferror(file_)) return Status::FromErrno(EIO, "read the headers export");
  if (c == EOF && line.empty()) return std::optional<std::string>();
  ++line_number_;
  return std::optional<std::string>(std::move(line));
}

StatusOr<std::optional<ExportedEntry>> HeadersFileReader::Next() {
  while (true) {
    KMSFS_ASSIGN_OR_RETURN(std::optional<std::string> line, ReadLine());
    if (!line) return std::optional<ExportedEntry>();
    if (line->empty()) continue;
    auto entry = DecodeEntryLine(*line);
    if (!entry.ok()) return entry.status().Annotate("line " + std::to_string(line_number_));
    return std::optional<ExportedEntry>(std::move(entry).value());
  }
}

}  // namespace kmsfs::format
