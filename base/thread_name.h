// NameThisThread: gives the calling thread a name that top -H, ps -L, perf
// and /proc/<pid>/task/<tid>/comm show, so the daemon's background threads
// (DEK pool, files made ahead, deferred unlinks, ...) can be told apart when
// profiling. Linux keeps 15 characters; longer names are cut.
#ifndef KMSFS_BASE_THREAD_NAME_H_
#define KMSFS_BASE_THREAD_NAME_H_

namespace kmsfs {

void NameThisThread(const char* name);

}  // namespace kmsfs

#endif  // KMSFS_BASE_THREAD_NAME_H_
