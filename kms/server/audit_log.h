// AuditLog: the trail of the KMS calls kmsd answered (what the cloud records
// in its trace service), DATA/audit.log: one JSON object per line, appended
// and never rewritten.
//
//   {"action":"decrypt-datakey","domain_id":"…","encryption_context":{…},
//    "hash":"<64 hex>","http_status":403,"key_id":"…","prev":"<64 hex>",
//    "project_id":"…","request_id":"…","result":"KMS.0306","seq":17,
//    "source_ip":"127.0.0.1","time":"2026-01-02T03:04:05.678000Z",
//    "user_id":"…","user_name":"bob"}
//
// "result" is "ok" or the error code answered; user fields are empty for a
// call refused before a caller was known (a bad token). An AK/SK-signed call
// adds "access_key". No DEK, plaintext, password, token or secret key is ever
// written; key ids, encryption contexts and results are.
//
// Hash chain: "seq" counts from 1; "prev" is the SHA-256 of the previous
// line (its bytes without the newline; 64 zeros for the first); "hash" the
// SHA-256 of this line's object without "hash". Changing a line breaks its
// "hash" (or, rewritten consistently, the next line's "prev"); removing,
// inserting or reordering lines breaks "seq" and "prev". Anyone who can
// write the file can also read root.key (both are kmsd's alone), so a key
// would not stop them; `kmsd audit verify` prints the chain's head, which
// an operator may record elsewhere to detect a rewritten or truncated tail.
//
// Each line is one write(2) to an O_APPEND descriptor, under a lock, before
// the answer leaves, so a crash of kmsd (even SIGKILL) loses no line of an
// answered call: the page cache survives the process. The file is synced
// (fdatasync) at most once a second as calls come, and when kmsd stops; a
// power loss may lose up to the last second of lines, never split the chain
// before them. A last line without its newline (kmsd killed inside the
// write) belongs to a call never answered: Open() cuts it off, and
// ReadAuditLog() reports it as a torn tail after the intact lines.
//
// A write that fails part-way (disk full, file size limit) is cut back to
// the end of the last whole line before Append returns its error; should
// that cut fail too, every later Append fails until kmsd restarts, whose
// Open() cuts the fragment off.
//
// Thread-safety: Append() is safe from any thread.
#ifndef KMSFS_KMS_SERVER_AUDIT_LOG_H_
#define KMSFS_KMS_SERVER_AUDIT_LOG_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "kms/server/json.h"

namespace kmsfs::kms::server {

struct AuditEntry {
  int64_t time_ms = 0;
  std::string request_id;
  std::string source_ip;
  std::string access_key;  // AK of a signed call; empty with a token
  std::string user_id;
  std::string user_name;
  std::string domain_id;
  std::string project_id;
  std::string action;
  std::string key_id;
  Json encryption_context;  // null when none
  std::string result;       // "ok" or the error code
  int http_status = 0;
};

class AuditLog {
 public:
  static constexpr std::string_view kFileName = "audit.log";

  // Opens (creating, mode 0600, not following links) kFileName in the
  // directory `dir_fd` to append to it, continuing the chain from its last
  // line; a torn last line is cut off first. kFailedPrecondition when the
  // last full line is not an entry of kmsd's.
  static StatusOr<std::unique_ptr<AuditLog>> Open(int dir_fd, const std::string& display_path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status Append(const AuditEntry& entry);

 private:
  AuditLog(UniqueFd fd, uint64_t seq, std::string last_hash);

  Mutex mu_;
  UniqueFd fd_ KMSFS_GUARDED_BY(mu_);
  uint64_t seq_ KMSFS_GUARDED_BY(mu_);           // of the last line written
  std::string last_hash_ KMSFS_GUARDED_BY(mu_);  // SHA-256 hex of the last line
  std::chrono::steady_clock::time_point last_sync_ KMSFS_GUARDED_BY(mu_);
  // A failed write left a fragment that could not be cut off; every later
  // Append fails (kmsd answers 500) until a restart.
  bool failed_ KMSFS_GUARDED_BY(mu_) = false;
};

struct AuditReadResult {
  uint64_t entries = 0;    // intact entries read
  std::string head;        // SHA-256 hex of the last intact line (64 zeros if none)
  bool torn_tail = false;  // the file ends in a line without its newline
};

// Reads the log at `path` from the start, checking the chain, and calls
// `each(line_number, entry)` for every intact entry in order. kDataLoss
// naming the first broken line ("line N: …") when the chain is broken (the
// entries before it have been passed to `each`). A missing file is empty.
StatusOr<AuditReadResult> ReadAuditLog(const std::string& path,
                                       const std::function<void(size_t, const Json&)>& each);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_AUDIT_LOG_H_
