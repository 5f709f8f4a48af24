// The mount's own threads stay few whatever it does: idle, during a burst of
// creates against a KMS 20 ms away (with a hundred and more KMS calls in
// flight), and while it prefetches a listed directory's keys. KMS calls in
// flight are sockets on one executor thread, not threads.
//
// Counting: the daemon's own threads are its main thread and every thread
// named "kmsfs-..." (each background thread names itself); libfuse's workers
// inherit the program's name, which is the main thread's. A thread with any
// other name fails the test, so a thread that escaped naming cannot hide
// among libfuse's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

constexpr size_t kOwnThreadBudget = 16;
constexpr auto kPatience = std::chrono::seconds(60);

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

struct ThreadCensus {
  size_t own = 0;           // main thread and kmsfs-* threads
  size_t fuse_workers = 0;  // named after the program
  std::map<std::string, size_t> own_by_name;
  std::set<std::string> unknown;  // "tid:name" of threads that are neither
};

// Threads come and go while we look: one that is gone by the time its name
// is read is skipped.
ThreadCensus TakeCensus(pid_t pid) {
  ThreadCensus c;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  const std::string program = ReadLine(task + "/" + std::to_string(pid) + "/comm");
  std::error_code ec;
  for (const auto& t : stdfs::directory_iterator(task, ec)) {
    const std::string tid = t.path().filename().string();
    const std::string name = ReadLine(t.path().string() + "/comm");
    if (name.empty()) continue;
    if (tid == std::to_string(pid)) {
      ++c.own;
      ++c.own_by_name["(main) " + name];
    } else if (name.rfind("kmsfs-", 0) == 0 && name != program) {
      ++c.own;
      ++c.own_by_name[name];
    } else if (name == program) {
      ++c.fuse_workers;
    } else {
      c.unknown.insert(tid + ":" + name);
    }
  }
  return c;
}

std::string Describe(const ThreadCensus& c) {
  std::string out = "own " + std::to_string(c.own) + " {";
  for (const auto& [name, n] : c.own_by_name) out += " " + name + " x" + std::to_string(n);
  out += " }, libfuse workers " + std::to_string(c.fuse_workers);
  for (const std::string& u : c.unknown) out += ", unknown " + u;
  return out;
}

// Takes censuses of `pid` until stopped; keeps the one with the most own threads.
class CensusSampler {
 public:
  explicit CensusSampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~CensusSampler() { Stop(); }
  ThreadCensus Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    return worst_;
  }
  size_t samples() {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  void Run() {
    while (!stop_) {
      ThreadCensus c = TakeCensus(pid_);
      std::lock_guard<std::mutex> lock(mu_);
      ++samples_;
      if (c.own > worst_.own || (!c.unknown.empty() && worst_.unknown.empty())) worst_ = c;
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  ThreadCensus worst_;
  size_t samples_ = 0;
  std::thread thread_;
};

// Waits until the mount's status satisfies `ok`; the last status either way.
template <typename Pred>
nlohmann::json AwaitStatus(const MountedVolume& v, Pred ok) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  nlohmann::json s = v.Status();
  while (!ok(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    s = v.Status();
  }
  return s;
}

class ThreadBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    KmsdProcess::Options o;
    o.latency_ms = 20;
    kmsd_ = KmsdProcess::Start(o);
    ASSERT_NE(kmsd_, nullptr);
  }
  std::unique_ptr<KmsdProcess> kmsd_;
};

TEST_F(ThreadBudgetTest, IdleBurstOfCreatesAndPrefetchStayWithinSixteenOwnThreads) {
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  const pid_t pid = v->DaemonPid();
  ASSERT_GT(pid, 0);

  // Idle: the pool filled (256 wraps at 20 ms each) and nothing else to do.
  nlohmann::json s = AwaitStatus(*v, [](const nlohmann::json& j) { return j["pool"]["ready"].get<int>() >= 256; });
  ASSERT_GE(s["pool"]["ready"].get<int>(), 256) << s.dump();
  ThreadCensus idle = TakeCensus(pid);
  EXPECT_LE(idle.own, kOwnThreadBudget) << Describe(idle);
  EXPECT_TRUE(idle.unknown.empty()) << Describe(idle);

  // A burst of creates from many threads drains the pool: wraps go out by
  // the hundred, each a KMS call of at least 20 ms.
  constexpr int kWriters = 8;
  constexpr int kFilesEach = 300;
  ASSERT_EQ(mkdir(v->Path("burst").c_str(), 0755), 0);
  ThreadCensus burst;
  {
    CensusSampler sampler(pid);
    std::vector<std::thread> writers;
    std::atomic<int> failures{0};
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; i < kFilesEach; ++i) {
          const std::string path = v->Path("burst/f" + std::to_string(w) + "-" + std::to_string(i));
          const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
          if (fd < 0 || write(fd, "x", 1) != 1) ++failures;
          if (fd >= 0) close(fd);
        }
      });
    }
    for (std::thread& t : writers) t.join();
    EXPECT_EQ(failures.load(), 0);
    // Until the pool has refilled: the wraps in flight are part of the burst.
    AwaitStatus(*v, [](const nlohmann::json& j) { return j["pool"]["ready"].get<int>() >= 256; });
    burst = sampler.Stop();
    EXPECT_GT(sampler.samples(), 0u);
  }
  s = v->Status();
  EXPECT_LE(burst.own, kOwnThreadBudget) << Describe(burst);
  EXPECT_TRUE(burst.unknown.empty()) << Describe(burst);
  EXPECT_GE(s["kms"]["in_flight_max"].get<int>(), 64) << "the burst never had many KMS calls in flight: " << s.dump();
  EXPECT_EQ(s["kms"]["errors"], 0) << s.dump();

  // Prefetch: a cold mount lists the directory and opens one file; the
  // other files' keys are fetched in the background.
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount({"--tune", "pool-size=0", "--tune", "prefetch=64"}).exit_code, 0) << v->ReadLog();
  const pid_t cold = v->DaemonPid();
  ASSERT_GT(cold, 0);
  size_t listed = 0;
  for ([[maybe_unused]] const auto& e : stdfs::directory_iterator(v->Path("burst"))) ++listed;
  ASSERT_EQ(listed, static_cast<size_t>(kWriters * kFilesEach));
  ThreadCensus prefetch;
  {
    CensusSampler sampler(cold);
    EXPECT_EQ(ReadFile(v->Path("burst/f0-0")), "x");
    s = AwaitStatus(*v, [](const nlohmann::json& j) {
      return j["prefetch"]["pending"] == 0 && j["prefetch"]["in_flight"] == 0;
    });
    prefetch = sampler.Stop();
  }
  EXPECT_LE(prefetch.own, kOwnThreadBudget) << Describe(prefetch);
  EXPECT_TRUE(prefetch.unknown.empty()) << Describe(prefetch);
  EXPECT_GE(s["prefetch"]["loaded"].get<int>(), kWriters * kFilesEach / 2) << s.dump();
  EXPECT_GE(s["kms"]["in_flight_max"].get<int>(), 16) << s.dump();
}

}  // namespace
}  // namespace kmsfs::testing
