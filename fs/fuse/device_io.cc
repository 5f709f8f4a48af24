#include "fs/fuse/device_io.h"

// Before any libfuse header: the API version fuse_fs.h also selects.
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fs/fuse/xattr_names.h"

namespace kmsfs::fuse {
namespace {

// libfuse's custom I/O callbacks get the session's user data, which the
// high-level API owns, so the hooks' state is process-wide.
std::atomic<int64_t> g_spin_ns{0};
std::atomic<bool> g_someone_polls{false};
// Threads serving a request: between reading one and asking for the next.
std::atomic<int> g_serving{0};
thread_local bool t_serving = false;
// The INIT request's id once read, while its reply is still to be sent; 0 otherwise.
std::atomic<uint64_t> g_init_unique{0};
// libfuse serves each request on the thread that read it.
thread_local bool t_kill_suidgid = false;
// Whether the request this thread serves is one whose answer is likely to be
// followed at once by the next request (see WorthPollingAfter).
thread_local bool t_poll_after = true;

int64_t MonotonicNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// Returns once `fd` has a request queued, reports an error or hang-up (which
// the read that follows returns), another thread has started serving one, or
// `budget_ns` has passed.
void PollBriefly(int fd, int64_t budget_ns) {
  const int64_t deadline = MonotonicNs() + budget_ns;
  pollfd p{fd, POLLIN, 0};
  do {
    if (poll(&p, 1, 0) != 0 || g_serving.load(std::memory_order_relaxed) != 0) return;
  } while (MonotonicNs() < deadline);
}

// The kernel sends RELEASE and the FORGETs with no one waiting for their
// answer, so no request follows the answer at once. A READ's answer goes to
// a reader that uses the data before it asks again, or to readahead whose
// other READs are queued already. Polling after these measured slower:
// read-all of 5 000 small files 0.82-0.88 s against 0.74-0.87 s, with a
// third more daemon CPU, and 1 GiB sequential reads 1.0-1.2 against
// 1.3-1.4 GB/s.
bool WorthPollingAfter(uint32_t opcode) {
  switch (opcode) {
    case FUSE_READ:
    case FUSE_RELEASE:
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
      return false;
    default:
      return true;
  }
}

// The fixed-size argument after the header, if the request carries it whole.
template <typename T>
const T* Argument(const void* buf, size_t n) {
  if (n < sizeof(fuse_in_header) + sizeof(T)) return nullptr;
  return reinterpret_cast<const T*>(static_cast<const char*>(buf) + sizeof(fuse_in_header));
}

// Notes what the thread's next operation must know from the raw request.
void NoteRequest(const void* buf, size_t n) {
  t_kill_suidgid = false;
  if (n < sizeof(fuse_in_header)) return;
  const auto* in = static_cast<const fuse_in_header*>(buf);
  t_poll_after = WorthPollingAfter(in->opcode);
  switch (in->opcode) {
    case FUSE_INIT:
      if (const auto* init = Argument<fuse_init_in>(buf, n);
          init != nullptr && (init->flags & FUSE_HANDLE_KILLPRIV_V2)) {
        g_init_unique.store(in->unique);
      }
      break;
    case FUSE_WRITE:
      if (const auto* w = Argument<fuse_write_in>(buf, n)) t_kill_suidgid = (w->write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
      break;
    case FUSE_SETATTR:
      if (const auto* a = Argument<fuse_setattr_in>(buf, n)) t_kill_suidgid = (a->valid & FATTR_KILL_SUIDGID) != 0;
      break;
    case FUSE_OPEN:
      if (const auto* o = Argument<fuse_open_in>(buf, n)) t_kill_suidgid = (o->open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
      break;
    default:
      break;
  }
}

// Answers a GETXATTR of a name that is never found through the mount
// (xattr_names.h), such as the security.capability the kernel asks for before
// a file's first write: the answer does not depend on the file, so it needs
// neither libfuse's path lookup nor a thread of its own.
bool AnsweredWithoutTheLibrary(int fd, const void* buf, size_t n) {
  constexpr size_t kNameAt = sizeof(fuse_in_header) + sizeof(fuse_getxattr_in);
  const auto* in = static_cast<const fuse_in_header*>(buf);
  if (n <= kNameAt || in->opcode != FUSE_GETXATTR) return false;
  const char* name = static_cast<const char*>(buf) + kNameAt;
  if (std::memchr(name, '\0', n - kNameAt) == nullptr || !IsNeverFound(name)) return false;
  const fuse_out_header out{sizeof(fuse_out_header), -ENODATA, in->unique};
  // A failed write means the request was interrupted: no one waits for it.
  (void)!write(fd, &out, sizeof out);
  return true;
}

ssize_t ReadRequest(int fd, void* buf, size_t len, void* /*userdata*/) {
  if (t_serving) {
    t_serving = false;
    g_serving.fetch_sub(1, std::memory_order_relaxed);
  }
  const int64_t spin = g_spin_ns.load(std::memory_order_relaxed);
  for (;;) {
    bool expected = false;
    // Poll only while no other thread is serving a request: one that waits on
    // the disk or the KMS needs the core when its answer comes, and requests
    // that arrive meanwhile are not back-to-back with a reply. The other idle
    // threads sleep in read() below; if one of them takes the request this
    // thread saw, this read just sleeps until the next.
    if (spin > 0 && t_poll_after && g_serving.load(std::memory_order_relaxed) == 0 &&
        g_someone_polls.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      PollBriefly(fd, spin);
      g_someone_polls.store(false, std::memory_order_release);
    }
    const ssize_t n = read(fd, buf, len);
    if (n > 0 && AnsweredWithoutTheLibrary(fd, buf, static_cast<size_t>(n))) {
      t_poll_after = true;  // the write that asked goes on at once
      continue;
    }
    if (n > 0) {
      t_serving = true;
      g_serving.fetch_add(1, std::memory_order_relaxed);
      NoteRequest(buf, static_cast<size_t>(n));
    }
    return n;
  }
}

// The INIT reply with FUSE_HANDLE_KILLPRIV_V2 added, if `iov` is that reply.
bool SendInitReplyWithKillprivV2(int fd, const struct iovec* iov, int count, ssize_t* sent) {
  const uint64_t init = g_init_unique.load();
  if (init == 0 || count != 2 || iov[0].iov_len < sizeof(fuse_out_header)) return false;
  const auto* out = static_cast<const fuse_out_header*>(iov[0].iov_base);
  if (out->unique != init) return false;
  g_init_unique.store(0);
  constexpr size_t kFlagsEnd = offsetof(fuse_init_out, flags) + sizeof(fuse_init_out::flags);
  if (out->error != 0 || iov[1].iov_len < kFlagsEnd || iov[1].iov_len > sizeof(fuse_init_out)) return false;
  fuse_init_out reply{};
  std::memcpy(&reply, iov[1].iov_base, iov[1].iov_len);
  reply.flags |= FUSE_HANDLE_KILLPRIV_V2;
  struct iovec patched[2] = {iov[0], {&reply, iov[1].iov_len}};
  *sent = writev(fd, patched, 2);
  return true;
}

ssize_t WriteReply(int fd, struct iovec* iov, int count, void* /*userdata*/) {
  ssize_t sent = 0;
  if (SendInitReplyWithKillprivV2(fd, iov, count, &sent)) return sent;
  return writev(fd, iov, count);
}

}  // namespace

Status UseDeviceIo(fuse_session* se, const DeviceIoOptions& options) {
  if (options.spin.count() < 0) return Status::InvalidArgument("the polling time must not be negative");
  g_spin_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(options.spin).count());
  static const fuse_custom_io kIo = {WriteReply, ReadRequest, nullptr, nullptr};
  // Keeps the mounted device: the session already owns this descriptor.
  if (int rc = fuse_session_custom_io(se, &kIo, fuse_session_fd(se)); rc != 0) {
    return Status::Internal(std::string("cannot install the FUSE device hooks: ") + std::strerror(-rc));
  }
  return Status::Ok();
}

bool TakeKillSuidgid() {
  const bool kill = t_kill_suidgid;
  t_kill_suidgid = false;
  return kill;
}

}  // namespace kmsfs::fuse
