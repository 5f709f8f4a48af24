#include "kms/server/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <istream>
#include <string>

#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/hash.h"
#include "kms/server/identity.h"

namespace kmsfs::kms::server {
namespace {

// No line of kmsd's comes near this (contexts and key references are
// bounded); a longer one is refused as it is read, never held whole.
constexpr size_t kMaxLineBytes = 64 * 1024;
constexpr size_t kTailBytes = kMaxLineBytes;
constexpr auto kSyncEvery = std::chrono::seconds(1);
const std::string kNoHash(64, '0');

std::string HashHex(std::string_view text) { return HexEncode(crypto::Sha256(AsBytes(text))); }

bool IsHashHex(const Json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const Json::string_t&>();
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Checks one line on its own: an object with seq, prev and a hash that
// matches the rest of it. Returns the entry, or why it is not one.
StatusOr<Json> ParseEntry(std::string_view line) {
  Json entry = ParseJson(line);
  if (entry.is_discarded() || !entry.is_object()) return Status::DataLoss("not a JSON object");
  auto seq = entry.find("seq");
  if (seq == entry.end() || !seq->is_number_unsigned()) return Status::DataLoss("no seq");
  auto prev = entry.find("prev");
  if (prev == entry.end() || !IsHashHex(*prev)) return Status::DataLoss("no prev");
  auto hash = entry.find("hash");
  if (hash == entry.end() || !IsHashHex(*hash)) return Status::DataLoss("no hash");
  const auto& claimed_text = hash->get_ref<const Json::string_t&>();
  const std::string claimed(claimed_text.data(), claimed_text.size());
  Json rest = entry;
  rest.erase("hash");
  const std::string actual = HashHex(std::string_view(DumpJson(rest)));
  if (!crypto::ConstantTimeEquals(AsBytes(actual), AsBytes(claimed))) {
    return Status::DataLoss("its hash does not match its content (the line was changed)");
  }
  return entry;
}

enum class LineRead { kLine, kEnd, kTornTail, kTooLong };

// Reads the next line of `in` into `line`, without its newline, stopping
// once it is longer than kMaxLineBytes.
LineRead NextLine(std::istream& in, std::string* line) {
  line->clear();
  std::streambuf* buf = in.rdbuf();
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) return line->empty() ? LineRead::kEnd : LineRead::kTornTail;
    if (c == '\n') return LineRead::kLine;
    if (line->size() == kMaxLineBytes) return LineRead::kTooLong;
    line->push_back(static_cast<char>(c));
  }
}

}  // namespace

AuditLog::AuditLog(UniqueFd fd, uint64_t seq, std::string last_hash)
    : fd_(std::move(fd)), seq_(seq), last_hash_(std::move(last_hash)),
      last_sync_(std::chrono::steady_clock::now()) {}

AuditLog::~AuditLog() {
  if (fd_.valid()) ::fdatasync(fd_.get());
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(int dir_fd, const std::string& display_path) {
  const std::string name(kFileName);
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot open audit log " + display_path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + display_path);
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("audit log " + display_path + " is not a regular file");
  uint64_t seq = 0;
  std::string last_hash = kNoHash;
  if (st.st_size == 0) return std::unique_ptr<AuditLog>(new AuditLog(std::move(fd), seq, last_hash));

  const off_t start = st.st_size > static_cast<off_t>(kTailBytes) ? st.st_size - static_cast<off_t>(kTailBytes) : 0;
  std::string tail(static_cast<size_t>(st.st_size - start), '\0');
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(fd.get(), tail.data() + got, tail.size() - got, start + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "read " + display_path);
    got += static_cast<size_t>(n);
  }
  if (tail.back() != '\n') {
    // kmsd was killed inside a write: that call was never answered.
    const size_t end = tail.rfind('\n');
    if (end == std::string::npos && start > 0) {
      return Status::FailedPrecondition("audit log " + display_path +
                                        " does not end in a line of kmsd's; move it aside to start a new one");
    }
    const size_t keep = end == std::string::npos ? 0 : end + 1;
    if (::ftruncate(fd.get(), start + static_cast<off_t>(keep)) != 0) {
      return Status::FromErrno(errno, "cut the torn last line of " + display_path);
    }
    tail.resize(keep);
  }
  if (!tail.empty()) {
    tail.pop_back();  // the newline
    const size_t nl = tail.rfind('\n');
    const std::string_view line = std::string_view(tail).substr(nl == std::string::npos ? 0 : nl + 1);
    auto entry = ParseEntry(line);
    if (!entry.ok()) {
      return Status::FailedPrecondition("audit log " + display_path + ": its last line is not an entry (" +
                                        entry.status().message() + "); move it aside to start a new one");
    }
    seq = (*entry)["seq"].get<uint64_t>();
    last_hash = HashHex(line);
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(fd), seq, last_hash));
}

Status AuditLog::Append(const AuditEntry& e) {
  Json entry = {{"time", Iso8601Utc(e.time_ms)}, {"request_id", e.request_id}, {"source_ip", e.source_ip},
                {"user_id", e.user_id},          {"user_name", e.user_name},   {"domain_id", e.domain_id},
                {"project_id", e.project_id},    {"action", e.action},         {"key_id", e.key_id},
                {"result", e.result},            {"http_status", e.http_status}};
  if (!e.access_key.empty()) entry["access_key"] = e.access_key;
  if (!e.encryption_context.is_null()) entry["encryption_context"] = e.encryption_context;
  MutexLock lock(&mu_);
  if (failed_) {
    return Status::FailedPrecondition(
        "audit log: a partial line could not be removed after a failed write; restart kmsd to cut it off");
  }
  entry["seq"] = seq_ + 1;
  entry["prev"] = last_hash_;
  entry["hash"] = HashHex(std::string_view(DumpJson(entry)));
  SecureString line = DumpJson(entry);
  const std::string line_hash = HashHex(std::string_view(line));
  line.push_back('\n');
  // Only this object appends (under mu_), so the size now is where the line
  // starts: a write that fails part-way (a full disk) is cut back to it, or
  // the next line would follow a fragment and break the chain for good.
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return Status::FromErrno(errno, "stat audit log");
  // One write(2) of the whole line: O_APPEND puts it at the end at once.
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Status failed = Status::FromErrno(n < 0 ? errno : EIO, "write audit log");
      if (done > 0 && ::ftruncate(fd_.get(), st.st_size) != 0) {
        // The fragment stays: no line may follow it until Open() cuts it.
        failed_ = true;
      }
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  ++seq_;
  last_hash_ = line_hash;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_sync_ >= kSyncEvery) {
    if (::fdatasync(fd_.get()) != 0) return Status::FromErrno(errno, "sync audit log");
    last_sync_ = now;
  }
  return Status::Ok();
}

StatusOr<AuditReadResult> ReadAuditLog(const std::string& path,
                                       const std::function<void(size_t, const Json&)>& each) {
  AuditReadResult result;
  result.head = kNoHash;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return result;
    return Status::Unavailable("cannot read audit log " + path);
  }
  std::string line;
  size_t number = 0;
  for (LineRead read = NextLine(in, &line); read != LineRead::kEnd; read = NextLine(in, &line)) {
    ++number;
    auto broken = [&](const std::string& what) {
      return Status::DataLoss("line " + std::to_string(number) + ": " + what);
    };
    if (read == LineRead::kTooLong) {
      return broken("longer than " + std::to_string(kMaxLineBytes) + " bytes (no line of kmsd's is)");
    }
    if (read == LineRead::kTornTail) {  // a last line without its newline: a write kmsd never finished
      result.torn_tail = true;
      break;
    }
    auto entry = ParseEntry(line);
    if (!entry.ok()) return broken(entry.status().message());
    const uint64_t seq = (*entry)["seq"].get<uint64_t>();
    if (seq != result.entries + 1) {
      return broken("seq " + std::to_string(seq) + " where " + std::to_string(result.entries + 1) +
                    " was due (a line was removed, repeated or moved)");
    }
    const auto& prev = (*entry)["prev"].get_ref<const Json::string_t&>();
    if (std::string_view(prev.data(), prev.size()) != result.head) {
      return broken("prev does not match line " + std::to_string(number - 1) +
                    " (that line was changed, removed or moved)");
    }
    each(number, *entry);
    result.head = HashHex(line);
    ++result.entries;
  }
  return result;
}

}  // namespace kmsfs::kms::server
