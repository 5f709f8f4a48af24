// CPU affinity for the daemons' background work.
//
// Why: the mount's background threads (DEK pool refills and their KMS calls,
// key prefetch, readahead, the tick) hand work to each other and to a local
// kmsd, and every hand-over wakes a thread. Left to the scheduler, those
// threads and kmsd's spread over all CPUs, and a wake-up that lands on an
// idle vCPU costs a hypervisor exit on a VM that halts idle vCPUs without
// polling. Kept on one CPU (the last one, where kmsd also runs by default),
// they hand over locally and leave the other CPUs to the program and the
// FUSE threads (docs/design/cpu-placement.md). The FUSE threads stay free:
// sequential reads need every CPU.
//
// Thread-safety: SetBackgroundCpu is called once at start-up, before any
// background thread starts; everything else is thread-safe.
#ifndef KMSFS_BASE_CPU_AFFINITY_H_
#define KMSFS_BASE_CPU_AFFINITY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kmsfs {

// The CPUs the calling thread may run on, ascending.
std::vector<int> AllowedCpus();

// A flag's CPU choice: "last" (the highest allowed CPU; none when only one
// CPU is allowed, as there is nothing to keep apart), "none", or the number
// of an allowed CPU. kInvalidArgument naming `flag` and the allowed CPUs
// otherwise.
StatusOr<std::optional<int>> ParseCpuChoice(std::string_view flag, std::string_view value);

// Keeps the calling thread, and the threads it starts afterwards, on `cpu`.
Status PinThisThreadTo(int cpu);

// Where BecomeBackgroundThread puts threads; none (the default) leaves them
// to the scheduler.
void SetBackgroundCpu(std::optional<int> cpu);
std::optional<int> BackgroundCpu();

// Names the calling thread (NameThisThread) and keeps it on the background
// CPU, if one is set. If that fails (the CPU went offline since start-up),
// the thread runs where the scheduler puts it.
void BecomeBackgroundThread(const char* name);

}  // namespace kmsfs

#endif  // KMSFS_BASE_CPU_AFFINITY_H_
