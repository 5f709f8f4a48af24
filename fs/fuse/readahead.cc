#include "fs/fuse/readahead.h"

#include <cerrno>
#include <fstream>
#include <sstream>

namespace kmsfs::fuse {
namespace {

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const char a = field[i + 1], b = field[i + 2], c = field[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// Field `n` (0-based) of a space-separated line, or empty.
std::string_view Field(std::string_view line, int n) {
  size_t start = 0;
  for (int i = 0; i < n; ++i) {
    size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) return {};
    start = sp + 1;
  }
  size_t end = line.find(' ', start);
  return line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

}  // namespace

std::optional<std::string> MountDevice(std::string_view mountinfo, std::string_view mountpoint) {
  // Line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... ; later lines are newer mounts.
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t nl = mountinfo.find('\n', pos);
    std::string_view line = mountinfo.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? mountinfo.size() : nl + 1;
    std::string_view dev = Field(line, 2);
    std::string_view point = Field(line, 4);
    if (dev.empty() || point.empty() || dev.find(':') == std::string_view::npos) continue;
    if (Unescape(point) == mountpoint) found = std::string(dev);
  }
  return found;
}

Status RaiseMountReadahead(const std::string& mountpoint, unsigned kib) {
  std::ifstream info("/proc/self/mountinfo");
  if (!info) return Status::FromErrno(errno, "read /proc/self/mountinfo");
  std::stringstream text;
  text << info.rdbuf();
  std::optional<std::string> dev = MountDevice(text.str(), mountpoint);
  if (!dev) return Status::NotFound("no mount on " + mountpoint + " in /proc/self/mountinfo");
  const std::string path = "/sys/class/bdi/" + *dev + "/read_ahead_kb";
  unsigned current = 0;
  if (std::ifstream in(path); in >> current && current >= kib) return Status::Ok();
  std::ofstream out(path);
  if (!(out << kib << '\n') || !out.flush()) return Status::FromErrno(errno ? errno : EACCES, "write " + path);
  return Status::Ok();
}

}  // namespace kmsfs::fuse
