#include "tests/server/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace kmsfs::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

int MillisLeft(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Bytes still missing from the answer that `text` begins: 0 once it is
// complete (head, then Content-Length bytes of body), 1 while the head is
// still coming (read it byte by byte, so a second answer is left unread).
size_t Missing(const std::string& text) {
  const size_t head_end = text.find("\r\n\r\n");
  if (head_end == std::string::npos) return 1;
  if (text.rfind("HTTP/1.1 1", 0) == 0) return 0;  // interim answers have no body
  size_t length = 0;
  std::istringstream lines(text.substr(0, head_end));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > 15 && (line.rfind("Content-Length:", 0) == 0 || line.rfind("content-length:", 0) == 0)) {
      length = static_cast<size_t>(std::strtoull(line.c_str() + 15, nullptr, 10));
    }
  }
  const size_t total = head_end + 4 + length;
  return text.size() >= total ? 0 : total - text.size();
}

}  // namespace

int ConnectFrom(int port, const std::string& source_ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in src {};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadAnswer(int fd, std::chrono::milliseconds limit) {
  const auto deadline = SteadyClock::now() + limit;
  std::string text;
  for (size_t missing = Missing(text); missing > 0; missing = Missing(text)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, std::min(missing, sizeof buf), 0);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

std::string ReadUntilClosed(int fd, std::chrono::milliseconds limit) {
  const auto deadline = SteadyClock::now() + limit;
  std::string text;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

long ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace kmsfs::testing
