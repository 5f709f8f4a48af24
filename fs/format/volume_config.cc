#include "fs/format/volume_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/hex.h"
#include "base/unique_fd.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "fs/format/offsets.h"

namespace kmsfs::format {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kFormatName = "kmsfs";
constexpr size_t kMaxIdSize = 255;
constexpr size_t kMaxWrappedSize = 8192;

Status Bad(std::string_view field, std::string_view why) {
  return Status::DataLoss(std::string(kConfigFileName) + ": field \"" + std::string(field) + "\" " +
                          std::string(why));
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool IsHex(std::string_view s) {
  if (s.size() % 2 != 0) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// Field checks shared by FromJson (kDataLoss) and Validate (kInvalidArgument):
// the reason, or empty when the value is fine.
std::string KeyIdProblem(std::string_view v) {
  if (v.empty()) return "is empty";
  if (v.size() > kMaxIdSize) return "is longer than 255 bytes";
  if (!IsPrintableAscii(v)) return "has a non-printable or non-ASCII character";
  return {};
}
std::string ProjectIdProblem(std::string_view v) {
  if (v.size() > kMaxIdSize) return "is longer than 255 bytes";
  if (!IsPrintableAscii(v)) return "has a non-printable or non-ASCII character";
  return {};
}
std::string WrappedProblem(std::string_view v) {
  if (v.empty()) return "is empty";
  if (v.size() > kMaxWrappedSize) return "is longer than 8192 characters";
  if (!IsHex(v)) return "is not even-length hex";
  return {};
}
std::string CreatedProblem(std::string_view v) {
  if (v.size() > 64) return "is longer than 64 characters";
  for (char c : v) {
    if (c < 0x20 || c > 0x7e) return "has a non-printable or non-ASCII character";
  }
  return {};
}

// Typed accessors over a parsed object: each names the field on failure.
StatusOr<std::string> GetString(const Json& obj, const char* field, std::string_view path) {
  auto it = obj.find(field);
  if (it == obj.end()) return Bad(path, "is missing");
  if (!it->is_string()) return Bad(path, "must be a string");
  return it->get<std::string>();
}

StatusOr<uint64_t> GetUnsigned(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return Bad(field, "is missing");
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return Bad(field, "must not be negative");
  return Bad(field, "must be an integer");
}

Status CheckKeys(const Json& obj, std::initializer_list<std::string_view> known,
                 std::string_view where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool found = false;
    for (std::string_view k : known) found = found || it.key() == k;
    if (!found) {
      std::string key = it.key().substr(0, 64);
      return Status::DataLoss(std::string(kConfigFileName) + ": unknown field \"" +
                              (where.empty() ? "" : std::string(where) + ".") + key + "\"");
    }
  }
  return Status::Ok();
}

Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write config temp file");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads a hex field into `out` (exactly out.size() bytes).
template <size_t N>
Status GetFixedHex(const Json& obj, const char* field, std::string_view path, std::array<uint8_t, N>& out) {
  KMSFS_ASSIGN_OR_RETURN(std::string hex, GetString(obj, field, path));
  if (hex.size() != 2 * N || !IsHex(hex)) return Bad(path, "must be " + std::to_string(2 * N) + " hex characters");
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != N) return Bad(path, "must be " + std::to_string(2 * N) + " hex characters");
  std::memcpy(out.data(), bytes->data(), N);
  return Status::Ok();
}

// The fields of a version 2 config in schema order; `with_mac` adds "mac".
OrderedJson V2Json(const VolumeConfig& c, bool with_mac) {
  OrderedJson j;
  j["format"] = kFormatName;
  j["version"] = c.version;
  j["volume_id"] = VolumeIdHex(c.volume_id);
  j["key_id"] = c.key_id;
  j["project_id"] = c.project_id;
  j["cipher_suite"] = crypto::CipherSuiteName(c.suite);
  j["block_size"] = c.block_size;
  j["names"] = NameModeName(c.names);
  j["header"] = HeaderModeName(c.header);
  j["volume_key"] = c.wrapped_volume_key;
  if (c.rewrap) {
    OrderedJson r;
    r["to_key"] = c.rewrap->to_key;
    r["volume_key"] = c.rewrap->wrapped_volume_key;
    j["rewrap"] = std::move(r);
  }
  j["created"] = c.created;
  if (with_mac) j["mac"] = c.mac;
  return j;
}

// The MAC key: HKDF-SHA256(volume key, salt = volume id, info).
StatusOr<SecretBytes> MacKey(const SecretBytes& volume_key, const VolumeId& volume_id) {
  static constexpr std::string_view kInfo = "kmsfs v2 config mac";
  return crypto::HkdfSha256(volume_key.span(), volume_id,
                            {reinterpret_cast<const uint8_t*>(kInfo.data()), kInfo.size()}, 32);
}

StatusOr<VolumeConfig> FromJsonV1(const Json& j) {
  KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"format", "version", "key_id", "project_id", "cipher_suite",
                                      "block_size", "canary", "created"},
                                  ""));
  VolumeConfig c;
  c.version = 1;
  c.names = NameMode::kPlaintext;
  c.header = HeaderMode::kXattr;
  auto canary = j.find("canary");
  if (canary == j.end()) return Bad("canary", "is missing");
  if (!canary->is_object()) return Bad("canary", "must be an object");
  KMSFS_RETURN_IF_ERROR(CheckKeys(*canary, {"file_id", "wrapped_dek"}, "canary"));
  KMSFS_RETURN_IF_ERROR(GetFixedHex(*canary, "file_id", "canary.file_id", c.canary_file_id));
  KMSFS_ASSIGN_OR_RETURN(c.canary_wrapped_dek, GetString(*canary, "wrapped_dek", "canary.wrapped_dek"));
  if (std::string p = WrappedProblem(c.canary_wrapped_dek); !p.empty()) return Bad("canary.wrapped_dek", p);
  return c;
}

StatusOr<VolumeConfig> FromJsonV2(const Json& j) {
  KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"format", "version", "volume_id", "key_id", "project_id", "cipher_suite",
                                      "block_size", "names", "header", "volume_key", "rewrap", "created", "mac"},
                                  ""));
  VolumeConfig c;
  c.version = 2;
  KMSFS_RETURN_IF_ERROR(GetFixedHex(j, "volume_id", "volume_id", c.volume_id));
  KMSFS_ASSIGN_OR_RETURN(std::string names, GetString(j, "names", "names"));
  if (names == "encrypted") {
    c.names = NameMode::kEncrypted;
  } else if (names == "plaintext") {
    c.names = NameMode::kPlaintext;
  } else {
    return Bad("names", "must be \"encrypted\" or \"plaintext\"");
  }
  KMSFS_ASSIGN_OR_RETURN(std::string header, GetString(j, "header", "header"));
  if (header == "xattr") {
    c.header = HeaderMode::kXattr;
  } else if (header == "inline") {
    c.header = HeaderMode::kInline;
  } else {
    return Bad("header", "must be \"xattr\" or \"inline\"");
  }
  KMSFS_ASSIGN_OR_RETURN(c.wrapped_volume_key, GetString(j, "volume_key", "volume_key"));
  if (std::string p = WrappedProblem(c.wrapped_volume_key); !p.empty()) return Bad("volume_key", p);
  if (auto r = j.find("rewrap"); r != j.end()) {
    if (!r->is_object()) return Bad("rewrap", "must be an object");
    KMSFS_RETURN_IF_ERROR(CheckKeys(*r, {"to_key", "volume_key"}, "rewrap"));
    VolumeConfig::Rewrap rewrap;
    KMSFS_ASSIGN_OR_RETURN(rewrap.to_key, GetString(*r, "to_key", "rewrap.to_key"));
    if (std::string p = KeyIdProblem(rewrap.to_key); !p.empty()) return Bad("rewrap.to_key", p);
    KMSFS_ASSIGN_OR_RETURN(rewrap.wrapped_volume_key, GetString(*r, "volume_key", "rewrap.volume_key"));
    if (std::string p = WrappedProblem(rewrap.wrapped_volume_key); !p.empty()) return Bad("rewrap.volume_key", p);
    c.rewrap = std::move(rewrap);
  }
  KMSFS_ASSIGN_OR_RETURN(c.mac, GetString(j, "mac", "mac"));
  if (c.mac.size() != 64 || !IsHex(c.mac)) return Bad("mac", "must be 64 hex characters");
  return c;
}

}  // namespace

std::string VolumeIdHex(const VolumeId& id) { return HexEncode(id); }

std::string_view NameModeName(NameMode mode) { return mode == NameMode::kEncrypted ? "encrypted" : "plaintext"; }

std::string_view HeaderModeName(HeaderMode mode) { return mode == HeaderMode::kInline ? "inline" : "xattr"; }

Status VolumeConfig::Validate() const {
  auto invalid = [](std::string_view field, const std::string& why) {
    return Status::InvalidArgument(std::string(kConfigFileName) + ": field \"" + std::string(field) +
                                   "\" " + why);
  };
  if (version != 1 && version != 2) return invalid("version", "must be 1 or 2");
  if (std::string p = KeyIdProblem(key_id); !p.empty()) return invalid("key_id", p);
  if (std::string p = ProjectIdProblem(project_id); !p.empty()) return invalid("project_id", p);
  if (!crypto::CipherSuiteFromId(static_cast<uint8_t>(suite)).ok()) {
    return invalid("cipher_suite", "is not a known suite");
  }
  if (!IsValidBlockSize(block_size)) {
    return invalid("block_size", "must be a power of two in 512..1048576");
  }
  if (version == 1) {
    if (names != NameMode::kPlaintext || header != HeaderMode::kXattr) {
      return invalid("version", "1 has plaintext names and xattr headers only");
    }
    if (std::string p = WrappedProblem(canary_wrapped_dek); !p.empty()) return invalid("canary.wrapped_dek", p);
  } else {
    if (std::string p = WrappedProblem(wrapped_volume_key); !p.empty()) return invalid("volume_key", p);
    if (rewrap) {
      if (std::string p = KeyIdProblem(rewrap->to_key); !p.empty()) return invalid("rewrap.to_key", p);
      if (std::string p = WrappedProblem(rewrap->wrapped_volume_key); !p.empty()) {
        return invalid("rewrap.volume_key", p);
      }
    }
    if (mac.size() != 64 || !IsHex(mac)) return invalid("mac", "must be 64 hex characters (Seal the config)");
  }
  if (std::string p = CreatedProblem(created); !p.empty()) return invalid("created", p);
  return Status::Ok();
}

std::string VolumeConfig::ToJson() const {
  OrderedJson j;
  if (version == 1) {
    j["format"] = kFormatName;
    j["version"] = version;
    j["key_id"] = key_id;
    j["project_id"] = project_id;
    j["cipher_suite"] = crypto::CipherSuiteName(suite);
    j["block_size"] = block_size;
    OrderedJson canary;
    canary["file_id"] = FileIdHex(canary_file_id);
    canary["wrapped_dek"] = canary_wrapped_dek;
    j["canary"] = std::move(canary);
    j["created"] = created;
  } else {
    j = V2Json(*this, true);
  }
  // `replace` keeps dump() from throwing on invalid UTF-8; Validate rejects
  // such strings anyway.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

std::string VolumeConfig::MacInput() const {
  return V2Json(*this, false).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

Status VolumeConfig::Seal(const SecretBytes& volume_key) {
  KMSFS_ASSIGN_OR_RETURN(SecretBytes key, MacKey(volume_key, volume_id));
  const std::string input = MacInput();
  mac = HexEncode(crypto::HmacSha256(key, {reinterpret_cast<const uint8_t*>(input.data()), input.size()}));
  return Status::Ok();
}

Status VolumeConfig::VerifyMac(const SecretBytes& volume_key) const {
  KMSFS_ASSIGN_OR_RETURN(SecretBytes key, MacKey(volume_key, volume_id));
  auto given = HexDecode(mac);
  const std::string input = MacInput();
  if (!given.ok() ||
      !crypto::HmacSha256Verify(key, {reinterpret_cast<const uint8_t*>(input.data()), input.size()}, *given)) {
    return Status::DataLoss(std::string(kConfigFileName) +
                            " fails its MAC: it was changed by someone who cannot unwrap the volume key");
  }
  return Status::Ok();
}

StatusOr<VolumeConfig> VolumeConfig::FromJson(std::string_view text) {
  if (text.size() > kMaxJsonSize) {
    return Status::DataLoss(std::string(kConfigFileName) + " is larger than 64 KiB");
  }
  // No exceptions: a parse error yields a discarded value.
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::DataLoss(std::string(kConfigFileName) + " is not valid JSON");
  if (!j.is_object()) return Status::DataLoss(std::string(kConfigFileName) + " is not a JSON object");

  KMSFS_ASSIGN_OR_RETURN(std::string format, GetString(j, "format", "format"));
  if (format != kFormatName) return Bad("format", "must be \"kmsfs\"");
  KMSFS_ASSIGN_OR_RETURN(uint64_t version, GetUnsigned(j, "version"));
  StatusOr<VolumeConfig> parsed = Status::Internal("unparsed");
  if (version == 1) {
    parsed = FromJsonV1(j);
  } else if (version == 2) {
    parsed = FromJsonV2(j);
  } else {
    return Bad("version", "is " + std::to_string(version) + "; this build reads versions 1 and 2");
  }
  if (!parsed.ok()) return parsed.status();
  VolumeConfig c = std::move(parsed).value();
  KMSFS_ASSIGN_OR_RETURN(c.key_id, GetString(j, "key_id", "key_id"));
  if (std::string p = KeyIdProblem(c.key_id); !p.empty()) return Bad("key_id", p);
  KMSFS_ASSIGN_OR_RETURN(c.project_id, GetString(j, "project_id", "project_id"));
  if (std::string p = ProjectIdProblem(c.project_id); !p.empty()) return Bad("project_id", p);

  KMSFS_ASSIGN_OR_RETURN(std::string suite_name, GetString(j, "cipher_suite", "cipher_suite"));
  auto suite = crypto::CipherSuiteFromName(suite_name);
  if (!suite.ok()) return Bad("cipher_suite", "is not AES-256-GCM or XChaCha20-Poly1305");
  c.suite = *suite;

  KMSFS_ASSIGN_OR_RETURN(uint64_t block_size, GetUnsigned(j, "block_size"));
  if (block_size > kMaxBlockSize || !IsValidBlockSize(static_cast<uint32_t>(block_size))) {
    return Bad("block_size", "must be a power of two in 512..1048576");
  }
  c.block_size = static_cast<uint32_t>(block_size);
  KMSFS_ASSIGN_OR_RETURN(c.created, GetString(j, "created", "created"));
  if (std::string p = CreatedProblem(c.created); !p.empty()) return Bad("created", p);
  return c;
}

StatusOr<VolumeConfig> VolumeConfig::Load(const std::string& backing_dir) {
  UniqueFd dir(open(backing_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() && errno == ENOENT) return Status::NotFound(backing_dir + " does not exist");
  if (!dir.valid()) return Status::FromErrno(errno, "open " + backing_dir);
  auto c = Load(dir.get());
  if (!c.ok() && c.status().code() == StatusCode::kNotFound) {
    return Status::NotFound(backing_dir + "/" + kConfigFileName + " does not exist (not a kmsfs volume? run kmsfs init)");
  }
  return c;
}

StatusOr<VolumeConfig> VolumeConfig::Load(int dir_fd) {
  UniqueFd fd(openat(dir_fd, kConfigFileName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(std::string(kConfigFileName) + " does not exist (run kmsfs init)");
    return Status::FromErrno(errno, std::string("open ") + kConfigFileName);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, std::string("stat ") + kConfigFileName);
  if (!S_ISREG(st.st_mode)) return Status::DataLoss(std::string(kConfigFileName) + " is not a regular file");
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, std::string("read ") + kConfigFileName);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxJsonSize) return Status::DataLoss(std::string(kConfigFileName) + " is larger than 64 KiB");
  }
  return FromJson(text);
}

Status VolumeConfig::Store(const std::string& backing_dir) const {
  UniqueFd dir(open(backing_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno(errno, "open directory " + backing_dir);
  return Store(dir.get());
}

Status VolumeConfig::Store(int dir_fd) const {
  KMSFS_RETURN_IF_ERROR(Validate());
  const std::string json = ToJson();
  // A fresh random temporary name, made exclusively: nothing planted there
  // (a symlink, a FIFO) is ever opened.
  std::array<uint8_t, 8> rnd{};
  crypto::RandomBytes(rnd);
  const std::string tmp = std::string(kConfigFileName) + ".tmp." + HexEncode(rnd);
  UniqueFd fd(openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::FromErrno(errno, "create " + tmp);
  Status s = Status::Ok();
  if (fchmod(fd.get(), 0644) != 0) s = Status::FromErrno(errno, "chmod " + tmp);
  if (s.ok()) s = WriteAll(fd.get(), json);
  if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (s.ok()) {
    int fd_num = fd.Release();
    if (close(fd_num) != 0) s = Status::FromErrno(errno, "close " + tmp);
  }
  if (s.ok() && renameat(dir_fd, tmp.c_str(), dir_fd, kConfigFileName) != 0) {
    s = Status::FromErrno(errno, std::string("rename to ") + kConfigFileName);
  }
  if (!s.ok()) {
    unlinkat(dir_fd, tmp.c_str(), 0);
    return s;
  }
  if (fsync(dir_fd) != 0) return Status::FromErrno(errno, "fsync the backing directory");
  return Status::Ok();
}

}  // namespace kmsfs::format
