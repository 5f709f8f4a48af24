// How the daemon talks to /dev/fuse: libfuse's custom I/O hooks, for two
// things its defaults cost on every request.
//
// Waiting. A thread asleep in read(/dev/fuse) has to be woken for every
// request. On a virtual machine whose idle vCPUs halt (the common cloud setup:
// no guest halt polling), that wake-up costs tens of microseconds per round
// trip, more than most metadata requests take to serve, and an untar or an
// `rm -rf` pays it for every request in turn. So a thread that has just
// answered a request polls the device for a short while before it sleeps: a
// request that follows closely finds it awake. One thread polls at a time,
// only while no other thread serves a request (one waiting on the disk or the
// KMS needs the core back when its answer comes), not after answering a
// READ, RELEASE or FORGET (no request follows those closely), and only for
// `spin` after its reply: an idle mount sleeps. Requests are read with plain
// read(2): libfuse's default splice through a pipe costs extra system calls
// and buys nothing here, as every write is encrypted from a memory buffer
// anyway.
//
// Privilege killing. libfuse 3.14 cannot ask for FUSE_HANDLE_KILLPRIV_V2, so
// the kernel asks the daemon for the file's security.capability before every
// write(2) (about a third of an untar's requests). The reply to the kernel's
// INIT gets that flag added when the kernel offers it. The kernel then asks
// only before a file's first write and at chown, and leaves clearing
// set-user-ID/set-group-ID bits on a write, truncate or O_TRUNC open by an
// unprivileged caller to the filesystem, with a flag in the request:
// TakeKillSuidgid() tells the operation serving it.
// (security.capability is never visible through the mount, and the backing
// filesystem drops it on the daemon's own writes.)
//
// Attributes never found. That question about security.capability, and
// `ls -l`'s about security.selinux, have the same answer for every file
// (xattr_names.h), so the read hook answers them itself, as it reads them:
// no path lookup in the library, no thread handoff.
#ifndef KMSFS_FS_FUSE_DEVICE_IO_H_
#define KMSFS_FS_FUSE_DEVICE_IO_H_

#include <chrono>

#include "fs/base/status.h"

struct fuse_session;

namespace kmsfs::fuse {

struct DeviceIoOptions {
  // How long a thread that answered a request polls for the next one; 0 =
  // sleep at once.
  std::chrono::microseconds spin{20};
};

// Installs the hooks on a mounted session before its loop starts. One session
// per process: the settings are process-wide.
Status UseDeviceIo(fuse_session* se, const DeviceIoOptions& options);

// Whether the request this thread is serving asks the filesystem to clear the
// file's set-user-ID/set-group-ID bits (see above). Reading clears it; every
// request read sets it anew.
bool TakeKillSuidgid();

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_DEVICE_IO_H_
