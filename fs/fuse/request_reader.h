// How the daemon's threads wait for the next FUSE request.
//
// A thread asleep in read(/dev/fuse) has to be woken for every request. On a
// virtual machine whose idle vCPUs halt (the common cloud setup: no guest halt
// polling), that wake-up costs tens of microseconds per round trip, more than
// most metadata requests take to serve, and an untar or an `rm -rf` pays it
// for every request in turn. So a thread that has just answered a request
// polls the device for a short while before it sleeps: a request that follows
// closely finds it awake. One thread polls at a time, so at most one core
// spins, and only for `spin` after the last request: an idle mount sleeps.
//
// Requests are read with plain read(2): libfuse's default splice of every
// request through a pipe costs extra system calls and buys nothing here, as
// each write is decrypted/encrypted from a memory buffer anyway.
#ifndef KMSFS_FS_FUSE_REQUEST_READER_H_
#define KMSFS_FS_FUSE_REQUEST_READER_H_

#include <chrono>

#include "fs/base/status.h"

struct fuse_session;

namespace kmsfs::fuse {

// Installs the reader on a mounted session before its loop starts. One
// session per process: the reader's settings are process-wide. spin 0 makes
// threads sleep at once.
Status ReadRequestsPolling(fuse_session* se, std::chrono::microseconds spin);

}  // namespace kmsfs::fuse

#endif  // KMSFS_FS_FUSE_REQUEST_READER_H_
