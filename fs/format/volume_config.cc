#include "fs/format/volume_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "fs/base/hex.h"
#include "fs/base/unique_fd.h"
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

}  // namespace

Status VolumeConfig::Validate() const {
  auto invalid = [](std::string_view field, const std::string& why) {
    return Status::InvalidArgument(std::string(kConfigFileName) + ": field \"" + std::string(field) +
                                   "\" " + why);
  };
  if (version != kVersion) return invalid("version", "must be 1");
  if (std::string p = KeyIdProblem(key_id); !p.empty()) return invalid("key_id", p);
  if (std::string p = ProjectIdProblem(project_id); !p.empty()) return invalid("project_id", p);
  if (!crypto::CipherSuiteFromId(static_cast<uint8_t>(suite)).ok()) {
    return invalid("cipher_suite", "is not a known suite");
  }
  if (!IsValidBlockSize(block_size)) {
    return invalid("block_size", "must be a power of two in 512..1048576");
  }
  if (std::string p = WrappedProblem(canary_wrapped_dek); !p.empty()) {
    return invalid("canary.wrapped_dek", p);
  }
  if (std::string p = CreatedProblem(created); !p.empty()) return invalid("created", p);
  return Status::Ok();
}

std::string VolumeConfig::ToJson() const {
  OrderedJson j;
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
  // `replace` keeps dump() from throwing on invalid UTF-8; Validate rejects
  // such strings anyway.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

StatusOr<VolumeConfig> VolumeConfig::FromJson(std::string_view text) {
  if (text.size() > kMaxJsonSize) {
    return Status::DataLoss(std::string(kConfigFileName) + " is larger than 64 KiB");
  }
  // No exceptions: a parse error yields a discarded value.
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::DataLoss(std::string(kConfigFileName) + " is not valid JSON");
  if (!j.is_object()) return Status::DataLoss(std::string(kConfigFileName) + " is not a JSON object");
  KMSFS_RETURN_IF_ERROR(CheckKeys(j, {"format", "version", "key_id", "project_id", "cipher_suite",
                                      "block_size", "canary", "created"},
                                  ""));

  KMSFS_ASSIGN_OR_RETURN(std::string format, GetString(j, "format", "format"));
  if (format != kFormatName) return Bad("format", "must be \"kmsfs\"");
  KMSFS_ASSIGN_OR_RETURN(uint64_t version, GetUnsigned(j, "version"));
  if (version != kVersion) {
    return Bad("version", "is " + std::to_string(version) + "; this build reads version 1");
  }

  VolumeConfig c;
  c.version = kVersion;
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

  auto canary = j.find("canary");
  if (canary == j.end()) return Bad("canary", "is missing");
  if (!canary->is_object()) return Bad("canary", "must be an object");
  KMSFS_RETURN_IF_ERROR(CheckKeys(*canary, {"file_id", "wrapped_dek"}, "canary"));
  KMSFS_ASSIGN_OR_RETURN(std::string file_id_hex, GetString(*canary, "file_id", "canary.file_id"));
  if (file_id_hex.size() != 2 * kFileIdSize || !IsHex(file_id_hex)) {
    return Bad("canary.file_id", "must be 32 hex characters");
  }
  auto file_id = HexDecode(file_id_hex);
  if (!file_id.ok() || file_id->size() != kFileIdSize) {
    return Bad("canary.file_id", "must be 32 hex characters");
  }
  std::memcpy(c.canary_file_id.data(), file_id->data(), kFileIdSize);
  KMSFS_ASSIGN_OR_RETURN(c.canary_wrapped_dek,
                         GetString(*canary, "wrapped_dek", "canary.wrapped_dek"));
  if (std::string p = WrappedProblem(c.canary_wrapped_dek); !p.empty()) {
    return Bad("canary.wrapped_dek", p);
  }
  KMSFS_ASSIGN_OR_RETURN(c.created, GetString(j, "created", "created"));
  if (std::string p = CreatedProblem(c.created); !p.empty()) return Bad("created", p);
  return c;
}

StatusOr<VolumeConfig> VolumeConfig::Load(const std::string& backing_dir) {
  const std::string path = backing_dir + "/" + kConfigFileName;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return Status::NotFound(path + " does not exist (not a kmsfs volume? run kmsfs init)");
    }
    return Status::FromErrno(errno, "open " + path);
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxJsonSize) return Status::DataLoss(path + " is larger than 64 KiB");
  }
  return FromJson(text);
}

Status VolumeConfig::Store(const std::string& backing_dir) const {
  KMSFS_RETURN_IF_ERROR(Validate());
  const std::string json = ToJson();
  const std::string path = backing_dir + "/" + kConfigFileName;
  std::string tmp = path + ".tmp.XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  UniqueFd fd(mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "create temp file in " + backing_dir);
  tmp.assign(tmpl.data());
  Status s = Status::Ok();
  if (fchmod(fd.get(), 0644) != 0) s = Status::FromErrno(errno, "chmod " + tmp);
  if (s.ok()) s = WriteAll(fd.get(), json);
  if (s.ok() && fsync(fd.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (s.ok()) {
    int fd_num = fd.Release();
    if (close(fd_num) != 0) s = Status::FromErrno(errno, "close " + tmp);
  }
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Status::FromErrno(errno, "rename to " + path);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  UniqueFd dir(open(backing_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Status::FromErrno(errno, "open directory " + backing_dir);
  if (fsync(dir.get()) != 0) return Status::FromErrno(errno, "fsync directory " + backing_dir);
  return Status::Ok();
}

}  // namespace kmsfs::format
