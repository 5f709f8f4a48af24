#include "base/cpu_affinity.h"

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <charconv>

#include "base/thread_name.h"

namespace kmsfs {
namespace {

// -1: none.
std::atomic<int> g_background_cpu{-1};

std::string Join(const std::vector<int>& cpus) {
  std::string s;
  for (int c : cpus) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}

}  // namespace

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

StatusOr<std::optional<int>> ParseCpuChoice(std::string_view flag, std::string_view value) {
  const std::vector<int> allowed = AllowedCpus();
  if (value == "none") return std::optional<int>();
  if (value == "last") {
    if (allowed.size() < 2) return std::optional<int>();
    return std::optional<int>(allowed.back());
  }
  int cpu = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), cpu);
  const bool number = ec == std::errc() && end == value.data() + value.size() && !value.empty();
  bool is_allowed = false;
  for (int c : allowed) is_allowed = is_allowed || c == cpu;
  if (!number || !is_allowed) {
    return Status::InvalidArgument(std::string(flag) + ": expected last, none or one of the CPUs this process may use (" +
                                   Join(allowed) + "), got '" + std::string(value.substr(0, 32)) + "'");
  }
  return std::optional<int>(cpu);
}

Status PinThisThreadTo(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return Status::InvalidArgument("no CPU " + std::to_string(cpu));
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    return Status::FromErrno(errno, "keep the thread on CPU " + std::to_string(cpu));
  }
  return Status::Ok();
}

void SetBackgroundCpu(std::optional<int> cpu) { g_background_cpu.store(cpu.value_or(-1)); }

std::optional<int> BackgroundCpu() {
  const int cpu = g_background_cpu.load();
  return cpu < 0 ? std::nullopt : std::optional<int>(cpu);
}

void BecomeBackgroundThread(const char* name) {
  NameThisThread(name);
  // A thread that cannot be pinned still does its work, only elsewhere.
  if (auto cpu = BackgroundCpu()) (void)PinThisThreadTo(*cpu);
}

}  // namespace kmsfs
