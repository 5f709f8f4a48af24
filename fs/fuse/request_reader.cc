#include "fs/fuse/request_reader.h"

// Before any libfuse header: the API version fuse_fs.h also selects.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <poll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace kmsfs::fuse {
namespace {

// libfuse's custom I/O callbacks get the session's user data, which the
// high-level API owns, so the reader's state is process-wide.
std::atomic<int64_t> g_spin_ns{0};
std::atomic<bool> g_someone_polls{false};

int64_t MonotonicNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Returns once `fd` has a request queued, reports an error or hang-up (which
// the read that follows returns), or `budget_ns` has passed.
void PollBriefly(int fd, int64_t budget_ns) {
  const int64_t deadline = MonotonicNs() + budget_ns;
  pollfd p{fd, POLLIN, 0};
  do {
    if (poll(&p, 1, 0) != 0) return;
  } while (MonotonicNs() < deadline);
}

ssize_t ReadRequest(int fd, void* buf, size_t len, void* /*userdata*/) {
  const int64_t spin = g_spin_ns.load(std::memory_order_relaxed);
  bool expected = false;
  // The other idle threads sleep in read() below. If another thread takes the
  // request this one saw, this read just sleeps until the next.
  if (spin > 0 && g_someone_polls.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    PollBriefly(fd, spin);
    g_someone_polls.store(false, std::memory_order_release);
  }
  return read(fd, buf, len);
}

ssize_t WriteReply(int fd, struct iovec* iov, int count, void* /*userdata*/) { return writev(fd, iov, count); }

}  // namespace

Status ReadRequestsPolling(fuse_session* se, std::chrono::microseconds spin) {
  if (spin.count() < 0) return Status::InvalidArgument("the polling time must not be negative");
  g_spin_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(spin).count(), std::memory_order_relaxed);
  static const fuse_custom_io kIo = {WriteReply, ReadRequest, nullptr, nullptr};
  // Keeps the mounted device: the session already owns this descriptor.
  if (int rc = fuse_session_custom_io(se, &kIo, fuse_session_fd(se)); rc != 0) {
    return Status::Internal(std::string("cannot install the request reader: ") + std::strerror(-rc));
  }
  return Status::Ok();
}

}  // namespace kmsfs::fuse
