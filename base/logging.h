// A small levelled logger writing one line per event to stderr (or syslog once
// a daemon detaches). Never pass key material, tokens or KMS bodies to it.
//
//   KMSFS_LOG(kWarning) << "open " << path << ": " << status.ToString();
//
// Thread-safety: lines from different threads never interleave.
#ifndef KMSFS_BASE_LOGGING_H_
#define KMSFS_BASE_LOGGING_H_

#include <sstream>
#include <string>
#include <string_view>

namespace kmsfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default: kInfo, or KMSFS_LOG_LEVEL=debug|info|warning|error.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Route lines to syslog (used once the mount daemonizes); `ident` names the program.
void LogToSyslog(const char* ident);
void LogLine(LogLevel level, std::string_view line);
// `line` with every control byte (newlines included) shown as \xNN: what
// LogLine writes, so that one call is always one line.
std::string OneLine(std::string_view line);

class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { LogLine(level_, stream_.str()); }
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns the stream expression into void so KMSFS_LOG can be a conditional
// expression (safe inside an unbraced if/else). `&` binds looser than `<<`.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace kmsfs

#define KMSFS_LOG(level)                                     \
  (::kmsfs::LogLevel::level < ::kmsfs::GetLogLevel())        \
      ? (void)0                                              \
      : ::kmsfs::LogVoidify() & ::kmsfs::LogMessage(::kmsfs::LogLevel::level).stream()

#endif  // KMSFS_BASE_LOGGING_H_
