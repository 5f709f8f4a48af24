#include "base/logging.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace kmsfs {
namespace {

LogLevel LevelFromEnv() {
  const char* v = std::getenv("KMSFS_LOG_LEVEL");
  if (v == nullptr) return LogLevel::kInfo;
  if (std::strcmp(v, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(v, "warning") == 0) return LogLevel::kWarning;
  if (std::strcmp(v, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{LevelFromEnv()};
  return level;
}
std::atomic<bool> g_syslog{false};
std::mutex g_mu;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "D";
    case LogLevel::kInfo: return "I";
    case LogLevel::kWarning: return "W";
    case LogLevel::kError: return "E";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return LOG_DEBUG;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kError: return LOG_ERR;
  }
  return LOG_INFO;
}
}  // namespace

void SetLogLevel(LogLevel level) { Level().store(level); }
LogLevel GetLogLevel() { return Level().load(std::memory_order_relaxed); }

void LogToSyslog(const char* ident) {
  openlog(ident, LOG_PID, LOG_DAEMON);
  g_syslog.store(true);
}

// One log line stays one line: names from the backing directory are
// hostile, and a newline in one would let it write a line of its choosing
// (into whatever file the log is). Control bytes are shown as \xNN.
std::string OneLine(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (unsigned char c : line) {
    if (c < 0x20 || c == 0x7f) {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

void LogLine(LogLevel level, std::string_view raw) {
  const std::string escaped = OneLine(raw);
  const std::string_view line = escaped;
  if (g_syslog.load()) {
    syslog(SyslogPriority(level), "%.*s", static_cast<int>(line.size()), line.data());
    return;
  }
  char stamp[32];
  std::time_t now = std::time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s %s %.*s\n", stamp, LevelName(level), static_cast<int>(line.size()),
               line.data());
}

}  // namespace kmsfs
