// Raw sockets for kmsd tests that must send what an HTTP library will not:
// partial, slow, oversized or pipelined requests, from chosen source
// addresses, and read exactly what comes back.
#ifndef KMSFS_TESTS_SERVER_RAW_HTTP_H_
#define KMSFS_TESTS_SERVER_RAW_HTTP_H_

#include <sys/types.h>

#include <chrono>
#include <string>

namespace kmsfs::testing {

// A TCP connection to 127.0.0.1:`port` from `source_ip` (any 127.x.y.z
// address is this machine); -1 on failure. Closed by the caller.
int ConnectFrom(int port, const std::string& source_ip = "127.0.0.1");
// Sends all of `data` (blocking); false if the connection failed.
bool SendAll(int fd, const std::string& data);
// Reads one HTTP answer (head, then Content-Length bytes of body) within
// `limit`; what arrived when the answer is complete, the peer closed or the
// time is up. Interim 1xx answers are returned on their own.
std::string ReadAnswer(int fd, std::chrono::milliseconds limit);
// Reads until the peer closes or `limit` passes; returns what arrived.
std::string ReadUntilClosed(int fd, std::chrono::milliseconds limit);
// A field of /proc/PID/status in KiB (VmRSS, VmHWM); -1 if unreadable.
long ProcStatusKb(pid_t pid, const std::string& field);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_SERVER_RAW_HTTP_H_
