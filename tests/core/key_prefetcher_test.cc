// KeyPrefetcher alone, with a warm function the test controls: concurrency,
// bounds, shutdown. tests/core/hints_test.cc drives it through a volume.
#include "fs/core/key_prefetcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "fs/core/volume.h"
#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;
using kmsfs::testing::TempDir;

using kmsfs::testing::Gate;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kWait;

// Runs closures on a few threads of its own, as the KMS executor answers
// asynchronous calls from elsewhere: a warm function hands its body here, so
// several can be in flight at once without blocking the work queue.
class AsyncRunner {
 public:
  explicit AsyncRunner(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~AsyncRunner() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      std::function<void()> f = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      f();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// --- KeyPrefetcher alone, with a warm function the test controls.

class KeyPrefetcherTest : public ::testing::Test {
 protected:
  // d/<name> with a valid header (no KMS involved).
  void MakeHeaderFiles(const std::vector<std::string>& names) {
    mkdir(dir_.Join("d").c_str(), 0755);
    for (const std::string& name : names) {
      UniqueFd fd(open(dir_.Join("d/" + name).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid());
      format::FileHeader h;
      h.key_id = kKeyId;
      h.wrapped_dek = "00ff";
      h.file_id[0] = static_cast<uint8_t>(name.size());
      ASSERT_TRUE(WriteFileHeader(fd.get(), h, false).ok());
    }
  }
  UniqueFd Dir() { return UniqueFd(open(dir_.Join("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); }

  KeyPrefetcher::WarmFn GatedWarm() {
    return [this](const format::FileHeader&, KeyPrefetcher::WarmDone done) {
      warm_calls_.fetch_add(1);
      async_.Post([this, done = std::move(done)] {
        gate_.Pass();
        done(KeyPrefetcher::Outcome::kLoaded);
      });
    };
  }

  TempDir dir_;
  Gate gate_;
  std::atomic<int> warm_calls_{0};
  // Declared after the gate (whose waiters it runs) and before the queue.
  AsyncRunner async_{8};
  WorkQueue queue_{{.threads = 2}};
};

std::vector<std::string> Numbered(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("n" + std::to_string(i));
  return out;
}

TEST_F(KeyPrefetcherTest, AtMostConcurrencyWarmCallsRunAtOnce) {
  MakeHeaderFiles(Numbered(20));
  KeyPrefetcher p({.concurrency = 3, .max_queued = 100}, &queue_, GatedWarm());
  gate_.Close();
  p.Prefetch(Dir(), Numbered(20));
  ASSERT_TRUE(gate_.AwaitInside(3));
  KeyPrefetchStats s = p.stats();
  EXPECT_EQ(s.in_flight, 3u);
  EXPECT_EQ(s.pending, 17u);
  gate_.Open();
  ASSERT_TRUE(p.WaitIdle(kWait));
  EXPECT_EQ(gate_.max_inside(), 3);
  EXPECT_EQ(p.stats().loaded, 20u);
  EXPECT_EQ(p.stats().pending, 0u);
}

// With an interval, a KMS that answers at once gets one prefetch call at a
// time, and one that takes 20 ms gets the full concurrency. The test answers
// the calls itself, in rounds, and latency is read off a fake clock it moves,
// so the machine's load cannot change what the prefetcher measures: each
// round waits until every call the prefetcher started has reached the KMS,
// then moves the clock by the latency and answers them all.
TEST_F(KeyPrefetcherTest, WithAnIntervalConcurrencyFollowsTheKmsLatency) {
  MakeHeaderFiles(Numbered(30));
  for (const milliseconds latency : {milliseconds(0), milliseconds(20)}) {
    SCOPED_TRACE(std::to_string(latency.count()) + " ms");
    FakeClock clock;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<KeyPrefetcher::WarmDone> calls;  // at the KMS, not answered yet
    uint64_t max_inside = 0;
    KeyPrefetcher p({.concurrency = 4, .max_queued = 100, .interval = milliseconds(5), .clock = &clock}, &queue_,
                    [&](const format::FileHeader&, KeyPrefetcher::WarmDone done) {
                      std::lock_guard<std::mutex> lock(mu);
                      calls.push_back(std::move(done));
                      max_inside = std::max<uint64_t>(max_inside, calls.size());
                      cv.notify_all();
                    });
    p.Prefetch(Dir(), Numbered(30));
    while (p.stats().loaded < 30) {
      std::vector<KeyPrefetcher::WarmDone> round;
      {
        std::unique_lock<std::mutex> lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, kWait, [&] { return !calls.empty() && calls.size() == p.stats().in_flight; }))
            << calls.size() << " calls at the KMS, " << p.stats().in_flight << " in flight";
        round.swap(calls);
      }
      clock.Advance(latency);
      for (auto& done : round) done(KeyPrefetcher::Outcome::kLoaded);
    }
    ASSERT_TRUE(p.WaitIdle(kWait));
    EXPECT_EQ(p.stats().loaded, 30u);
    EXPECT_EQ(max_inside, latency.count() == 0 ? 1u : 4u);
  }
}

TEST_F(KeyPrefetcherTest, NamesBeyondTheQueueBoundAreDroppedAndCounted) {
  MakeHeaderFiles(Numbered(10));
  KeyPrefetcher p({.concurrency = 1, .max_queued = 4}, &queue_, GatedWarm());
  gate_.Close();
  p.Prefetch(Dir(), Numbered(10));
  KeyPrefetchStats s = p.stats();
  EXPECT_EQ(s.queued, 4u);
  EXPECT_EQ(s.dropped, 6u);
  gate_.Open();
  ASSERT_TRUE(p.WaitIdle(kWait));
  EXPECT_EQ(p.stats().loaded, 4u);
}

TEST_F(KeyPrefetcherTest, DestructorDropsTheQueueAndWaitsOnlyForTheCallInFlight) {
  MakeHeaderFiles({"first"});
  auto p = std::make_unique<KeyPrefetcher>(KeyPrefetcherOptions{.concurrency = 1, .max_queued = 100}, &queue_,
                                           GatedWarm());
  gate_.Close();
  p->Prefetch(Dir(), {"first"});
  ASSERT_TRUE(gate_.AwaitInside(1));
  // A second batch stays queued behind the stalled call. Its "directory" is
  // a pipe's read end, so the moment the queue drops it shows at the write end.
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd write_end(pipe_fds[1]);
  p->Prefetch(UniqueFd(pipe_fds[0]), Numbered(50));
  EXPECT_EQ(p->stats().pending, 50u);

  std::thread destroyer([&] { p.reset(); });
  pollfd pfd{write_end.get(), 0, 0};
  ASSERT_EQ(poll(&pfd, 1, static_cast<int>(kWait.count())), 1);
  EXPECT_TRUE(pfd.revents & POLLERR) << "the queued batch was not dropped";
  gate_.Open();  // now the call in flight may return
  destroyer.join();
  EXPECT_EQ(warm_calls_.load(), 1);
}

TEST_F(KeyPrefetcherTest, ZeroConcurrencyQueuesNothing) {
  MakeHeaderFiles({"a"});
  KeyPrefetcher p({.concurrency = 0, .max_queued = 100}, &queue_, GatedWarm());
  EXPECT_FALSE(p.enabled());
  p.Prefetch(Dir(), {"a"});
  EXPECT_TRUE(p.WaitIdle(milliseconds(0)));
  EXPECT_EQ(p.stats().queued, 0u);
  EXPECT_EQ(warm_calls_.load(), 0);
}

}  // namespace
}  // namespace kmsfs::core
