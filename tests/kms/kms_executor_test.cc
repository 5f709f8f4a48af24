// KmsExecutor against an in-process fake KMS: the order calls start in, the
// room kept for interactive calls, raising and cancelling, retries waited
// out on timers, one login for many waiting calls, and shutdown.
#include "kms/kms_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/sdk_hmac_signer.h"
#include "kms/connection_config.h"
#include "kms/request_signer.h"
#include "tests/kms/fake_kms_server.h"

namespace kmsfs::kms {
namespace {

using std::chrono::milliseconds;
using testing::FakeKmsServer;
using testing::FakeReply;
using testing::FakeRequest;
using testing::LoginBody;

constexpr char kProject[] = "b168fe00ff56492495a7d22974df2d0b";
constexpr auto kPatience = std::chrono::seconds(20);

// What each call ended with, in the order they ended.
class Outcomes {
 public:
  KmsExecutor::Done Record(std::string tag) {
    return [this, tag](KmsOutcome o) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.emplace_back(tag, std::move(o));
      cv_.notify_all();
    };
  }
  bool AwaitCount(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return done_.size() >= n; });
  }
  std::vector<std::pair<std::string, KmsOutcome>> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, KmsOutcome>> out;
    out.swap(done_);
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, KmsOutcome>> done_;
};

class KmsExecutorTest : public ::testing::Test {
 protected:
  ConnectionConfig TokenConfig() {
    ConnectionConfig c;
    c.endpoint = server_.endpoint();
    c.project_id = kProject;
    c.token = SecretFromText("static-token");
    return c;
  }
  ConnectionConfig PasswordConfig() {
    ConnectionConfig c = TokenConfig();
    c.token = SecretBytes();
    c.auth_url = server_.endpoint() + "/v3";
    c.username = "alice";
    c.domain = "alice-domain";
    c.password = SecretFromText("pw");
    return c;
  }
  ConnectionConfig AccessKeyConfig() {
    ConnectionConfig c = TokenConfig();
    c.token = SecretBytes();
    c.access_key = "HPUAEXAMPLEACCESSKEY";
    c.secret_key = SecretFromText("example-secret-key");
    return c;
  }
  void Start(ConnectionConfig config, KmsExecutorOptions options, RetryPolicy retry = {}) {
    auth_ = std::make_unique<IamAuth>(config);
    if (config.uses_access_key()) signer_ = std::make_unique<RequestSigner>(config);
    auto e = KmsExecutor::New(TransportOptions{}, std::move(retry), auth_.get(), signer_.get(), std::move(options));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    executor_ = std::move(e).value();
  }
  // A call of `action` whose body names `tag` (the fake reads it back).
  KmsCall Call(const std::string& action, const std::string& tag, Priority priority) {
    KmsCall call;
    call.what = action + " " + tag;
    call.url = server_.endpoint() + "/v1.0/" + kProject + "/kms/" + action;
    const std::string body = "{\"tag\":\"" + tag + "\"}";
    call.body = SecureString(body.data(), body.size());
    call.priority = priority;
    return call;
  }
  // Serves `action`, recording the tags in arrival order; tags starting with
  // "hold" wait for server_.Release().
  void ServeInOrder(const std::string& action) {
    server_.On(action, [this](const FakeRequest& r) {
      const std::string tag = r.json.value("tag", "");
      {
        std::lock_guard<std::mutex> lock(order_mu_);
        order_.push_back(tag);
      }
      order_cv_.notify_all();
      if (tag.rfind("hold", 0) == 0) server_.WaitForRelease();
      return FakeReply::Json({{"tag", tag}});
    });
  }
  bool AwaitArrivals(size_t n) {
    std::unique_lock<std::mutex> lock(order_mu_);
    return order_cv_.wait_for(lock, kPatience, [&] { return order_.size() >= n; });
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(order_mu_);
    return order_;
  }
  // Waits until `n` calls wait in the executor (queued, backing off or for a token).
  bool AwaitWaiting(uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (executor_->stats().waiting < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  // Declared before the server: its handlers use them until its destructor
  // has joined every worker.
  std::mutex order_mu_;
  std::condition_variable order_cv_;
  std::vector<std::string> order_;
  Outcomes outcomes_;
  FakeKmsServer server_;
  std::unique_ptr<IamAuth> auth_;
  std::unique_ptr<RequestSigner> signer_;
  std::unique_ptr<KmsExecutor> executor_;  // destroyed before the server goes

  void TearDown() override {
    server_.Release();
    executor_.reset();
  }
};

TEST_F(KmsExecutorTest, InteractiveCallsStartBeforeRefillsAndRefillsBeforePrefetches) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 1});
  executor_->Submit(Call("x", "hold", Priority::kPrefetch), outcomes_.Record("hold"));
  ASSERT_TRUE(AwaitArrivals(1));
  executor_->Submit(Call("x", "prefetch", Priority::kPrefetch), outcomes_.Record("prefetch"));
  executor_->Submit(Call("x", "refill", Priority::kRefill), outcomes_.Record("refill"));
  executor_->Submit(Call("x", "interactive", Priority::kInteractive), outcomes_.Record("interactive"));
  ASSERT_TRUE(AwaitWaiting(3));
  server_.Release();
  ASSERT_TRUE(outcomes_.AwaitCount(4));
  EXPECT_EQ(order(), (std::vector<std::string>{"hold", "interactive", "refill", "prefetch"}));
  for (auto& [tag, o] : outcomes_.TakeAll()) {
    ASSERT_TRUE(o.response.ok()) << tag << ": " << o.response.status().ToString();
    EXPECT_EQ(o.response->status, 200) << tag;
  }
}

TEST_F(KmsExecutorTest, BackgroundCallsLeaveRoomForAnInteractiveOne) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 4, .max_background = 2, .max_prefetch = 2});
  for (int i = 0; i < 4; ++i) {
    executor_->Submit(Call("x", "hold-refill" + std::to_string(i), Priority::kRefill), outcomes_.Record("refill"));
  }
  ASSERT_TRUE(AwaitArrivals(2));
  ASSERT_TRUE(AwaitWaiting(2));
  EXPECT_EQ(executor_->stats().in_flight, 2u) << "background calls took more than their share";
  // The refills on the wire hang, yet a call somebody waits for goes through.
  KmsOutcome o = executor_->Run(Call("x", "open", Priority::kInteractive));
  ASSERT_TRUE(o.response.ok()) << o.response.status().ToString();
  EXPECT_EQ(o.response->status, 200);
  EXPECT_EQ(order().size(), 3u);
  server_.Release();
  ASSERT_TRUE(outcomes_.AwaitCount(4));
}

TEST_F(KmsExecutorTest, PrefetchesHaveACapOfTheirOwnWithinTheBackgroundShare) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 8, .max_background = 4, .max_prefetch = 1});
  for (int i = 0; i < 3; ++i) {
    executor_->Submit(Call("x", "hold-prefetch" + std::to_string(i), Priority::kPrefetch),
                      outcomes_.Record("prefetch"));
  }
  ASSERT_TRUE(AwaitArrivals(1));
  executor_->Submit(Call("x", "hold-refill", Priority::kRefill), outcomes_.Record("refill"));
  ASSERT_TRUE(AwaitArrivals(2));
  EXPECT_EQ(order()[1], "hold-refill") << "the refill waited behind prefetches";
  EXPECT_EQ(executor_->stats().in_flight, 2u);
  EXPECT_EQ(executor_->stats().waiting, 2u);
  server_.Release();
  ASSERT_TRUE(outcomes_.AwaitCount(4));
}

TEST_F(KmsExecutorTest, RaiseMovesAWaitingCallAhead) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 1});
  executor_->Submit(Call("x", "hold", Priority::kInteractive), outcomes_.Record("hold"));
  ASSERT_TRUE(AwaitArrivals(1));
  executor_->Submit(Call("x", "first", Priority::kPrefetch), outcomes_.Record("first"));
  CallHandle second = executor_->Submit(Call("x", "second", Priority::kPrefetch), outcomes_.Record("second"));
  ASSERT_TRUE(AwaitWaiting(2));
  second.Raise(Priority::kInteractive);
  // Raising goes through the loop; a call submitted after it lines up behind.
  executor_->Submit(Call("x", "third", Priority::kInteractive), outcomes_.Record("third"));
  ASSERT_TRUE(AwaitWaiting(3));
  server_.Release();
  ASSERT_TRUE(outcomes_.AwaitCount(4));
  EXPECT_EQ(order(), (std::vector<std::string>{"hold", "second", "third", "first"}));
}

TEST_F(KmsExecutorTest, CancelEndsAQueuedCallAndACallOnTheWire) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 1});
  CallHandle on_wire = executor_->Submit(Call("x", "hold", Priority::kInteractive), outcomes_.Record("hold"));
  ASSERT_TRUE(AwaitArrivals(1));
  CallHandle queued = executor_->Submit(Call("x", "queued", Priority::kRefill), outcomes_.Record("queued"));
  ASSERT_TRUE(AwaitWaiting(1));
  queued.Cancel();
  on_wire.Cancel();
  ASSERT_TRUE(outcomes_.AwaitCount(2));
  for (auto& [tag, o] : outcomes_.TakeAll()) {
    ASSERT_FALSE(o.response.ok()) << tag;
    EXPECT_EQ(o.response.status().code(), StatusCode::kUnavailable) << tag;
    EXPECT_NE(o.response.status().message().find("cancelled"), std::string::npos) << o.response.status().message();
  }
  EXPECT_EQ(order(), std::vector<std::string>{"hold"}) << "a cancelled call was sent";
  EXPECT_EQ(executor_->stats().in_flight, 0u);
  // Cancelling again, or after the end, changes nothing.
  queued.Cancel();
  KmsOutcome o = executor_->Run(Call("x", "after", Priority::kInteractive));
  EXPECT_TRUE(o.response.ok());
}

// A backoff is a timer: while a call waits to retry, its slot serves others.
TEST_F(KmsExecutorTest, ARetryWaitsOnATimerAndFreesItsSlotMeanwhile) {
  std::atomic<int> flaky{0};
  server_.On("x", [&](const FakeRequest& r) {
    const std::string tag = r.json.value("tag", "");
    {
      std::lock_guard<std::mutex> lock(order_mu_);
      order_.push_back(tag);
    }
    order_cv_.notify_all();
    if (tag == "flaky" && flaky++ == 0) {
      FakeReply busy = FakeReply::Error(503, "KMS.0104", "busy");
      busy.headers["Retry-After"] = "1";
      return busy;
    }
    return FakeReply::Json({{"tag", tag}});
  });
  RetryPolicy retry;
  retry.max_backoff = milliseconds(300);  // caps the Retry-After of 1 s
  Start(TokenConfig(), {.max_in_flight = 1}, retry);
  const auto start = std::chrono::steady_clock::now();
  executor_->Submit(Call("x", "flaky", Priority::kInteractive), outcomes_.Record("flaky"));
  ASSERT_TRUE(AwaitArrivals(1));
  KmsOutcome other = executor_->Run(Call("x", "other", Priority::kRefill));
  ASSERT_TRUE(other.response.ok());
  ASSERT_TRUE(outcomes_.AwaitCount(1));
  const auto took = std::chrono::steady_clock::now() - start;
  auto all = outcomes_.TakeAll();
  ASSERT_TRUE(all[0].second.response.ok());
  EXPECT_EQ(all[0].second.response->status, 200);
  EXPECT_EQ(all[0].second.attempts, 2);
  EXPECT_EQ(order(), (std::vector<std::string>{"flaky", "other", "flaky"}));
  EXPECT_GE(took, milliseconds(300));
  EXPECT_EQ(executor_->stats().retries, 1u);
}

// The signature of `r` as received checks out under `secret`; the date it
// names is returned ("" when it does not check out).
std::string VerifiedSdkDate(const FakeRequest& r, const SecretBytes& secret) {
  namespace sdk = crypto::sdk_hmac;
  sdk::Request request;
  request.method = r.method;
  request.path = r.path;
  request.headers = r.headers;
  request.body = r.body;
  const std::string* authorization = sdk::FindHeader(r.headers, "Authorization");
  const std::string* date = sdk::FindHeader(r.headers, sdk::kDateHeader);
  if (authorization == nullptr || date == nullptr) return "";
  StatusOr<sdk::Authorization> parsed = sdk::ParseAuthorization(*authorization);
  if (!parsed.ok()) return "";
  StatusOr<bool> matches = sdk::SignatureMatches(request, *parsed, secret);
  return matches.ok() && *matches ? *date : "";
}

TEST_F(KmsExecutorTest, EachAttemptOfASignedCallIsSignedAfreshWhenItIsSent) {
  std::atomic<int> answered{0};
  server_.On("x", [&](const FakeRequest&) {
    if (answered++ == 0) return FakeReply::Error(503, "KMS.0104", "busy");
    return FakeReply::Json({{"ok", true}});
  });
  // The wall clock moves a minute during the backoff.
  std::atomic<int64_t> now{1'700'000'000};
  RetryPolicy retry;
  retry.on_backoff = [&](milliseconds) { now += 60; };
  KmsExecutorOptions options;
  options.unix_seconds = [&] { return now.load(); };
  Start(AccessKeyConfig(), std::move(options), retry);
  KmsCall call = Call("x", "signed", Priority::kInteractive);
  call.auth = CallAuth::kSigned;
  KmsOutcome outcome = executor_->Run(std::move(call));
  ASSERT_TRUE(outcome.response.ok()) << outcome.response.status().ToString();
  EXPECT_EQ(outcome.response->status, 200);
  EXPECT_EQ(outcome.attempts, 2);
  const std::vector<FakeRequest> sent = server_.requests("x");
  ASSERT_EQ(sent.size(), 2u);
  const SecretBytes secret = SecretFromText("example-secret-key");
  EXPECT_EQ(VerifiedSdkDate(sent[0], secret), crypto::sdk_hmac::FormatSdkDate(1'700'000'000));
  EXPECT_EQ(VerifiedSdkDate(sent[1], secret), crypto::sdk_hmac::FormatSdkDate(1'700'000'060));
  for (const FakeRequest& r : sent) EXPECT_TRUE(r.auth_token.empty());
  // An access key needs no IAM login.
  EXPECT_EQ(server_.count("login"), 0);
}

TEST_F(KmsExecutorTest, ASignedCallWithoutAnAccessKeyEndsWithoutBeingSent) {
  server_.On("x", [](const FakeRequest&) { return FakeReply::Json({}); });
  Start(TokenConfig(), {});
  KmsCall call = Call("x", "unsigned", Priority::kInteractive);
  call.auth = CallAuth::kSigned;
  KmsOutcome outcome = executor_->Run(std::move(call));
  EXPECT_TRUE(outcome.auth_failed);
  EXPECT_EQ(outcome.response.status().code(), StatusCode::kInternal);
  EXPECT_EQ(server_.count("x"), 0);
}

TEST_F(KmsExecutorTest, ManyCallsWaitingForATokenShareOneLogin) {
  std::atomic<int> logins{0};
  server_.OnLogin([&](const FakeRequest&) {
    ++logins;
    server_.WaitForRelease();
    FakeReply r = FakeReply::Json(LoginBody("u-alice", "alice", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"), 201);
    r.headers["X-Subject-Token"] = "tok-" + std::to_string(logins.load());
    return r;
  });
  std::mutex seen_mu;
  std::vector<std::string> tokens;
  server_.On("x", [&](const FakeRequest& r) {
    std::lock_guard<std::mutex> lock(seen_mu);
    tokens.push_back(r.auth_token);
    return FakeReply::Json(nlohmann::json::object());
  });
  Start(PasswordConfig(), {});
  constexpr int kCalls = 6;  // fewer than the fake server has threads
  for (int i = 0; i < kCalls; ++i) {
    executor_->Submit(Call("x", std::to_string(i), i % 2 ? Priority::kRefill : Priority::kInteractive),
                      outcomes_.Record(std::to_string(i)));
  }
  ASSERT_TRUE(AwaitWaiting(kCalls));
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (logins.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(logins.load(), 1);
  EXPECT_EQ(executor_->stats().in_flight, 1u) << "only the login is on the wire";
  server_.Release();
  ASSERT_TRUE(outcomes_.AwaitCount(kCalls));
  for (auto& [tag, o] : outcomes_.TakeAll()) ASSERT_TRUE(o.response.ok()) << tag;
  EXPECT_EQ(logins.load(), 1);
  std::lock_guard<std::mutex> lock(seen_mu);
  ASSERT_EQ(tokens.size(), static_cast<size_t>(kCalls));
  for (const std::string& t : tokens) EXPECT_EQ(t, "tok-1");
}

TEST_F(KmsExecutorTest, AFailedLoginEndsEveryCallWaitingForIt) {
  server_.OnLogin([](const FakeRequest&) {
    return FakeReply::Json({{"error", {{"code", 401}, {"message", "The username or password is wrong."}}}}, 401);
  });
  server_.On("x", [](const FakeRequest&) { return FakeReply::Json(nlohmann::json::object()); });
  Start(PasswordConfig(), {});
  for (int i = 0; i < 5; ++i) executor_->Submit(Call("x", std::to_string(i), Priority::kInteractive), outcomes_.Record("c"));
  ASSERT_TRUE(outcomes_.AwaitCount(5));
  for (auto& [tag, o] : outcomes_.TakeAll()) {
    EXPECT_TRUE(o.auth_failed);
    ASSERT_FALSE(o.response.ok());
    EXPECT_EQ(o.response.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(o.response.status().message().find("IAM login as alice"), std::string::npos);
  }
  EXPECT_EQ(server_.count("x"), 0);
  EXPECT_LE(server_.count("login"), 5);
}

TEST_F(KmsExecutorTest, DestroyingTheExecutorEndsEveryCallNotDone) {
  ServeInOrder("x");
  Start(TokenConfig(), {.max_in_flight = 1});
  executor_->Submit(Call("x", "hold", Priority::kInteractive), outcomes_.Record("on the wire"));
  ASSERT_TRUE(AwaitArrivals(1));
  executor_->Submit(Call("x", "queued", Priority::kPrefetch), outcomes_.Record("queued"));
  KmsOutcome waited;
  std::thread waiter([&] { waited = executor_->Run(Call("x", "waiter", Priority::kRefill)); });
  ASSERT_TRUE(AwaitWaiting(2));
  executor_.reset();
  waiter.join();
  ASSERT_TRUE(outcomes_.AwaitCount(2));
  for (auto& [tag, o] : outcomes_.TakeAll()) {
    ASSERT_FALSE(o.response.ok()) << tag;
    EXPECT_NE(o.response.status().message().find("shutting down"), std::string::npos) << o.response.status().message();
  }
  ASSERT_FALSE(waited.response.ok());
  EXPECT_EQ(waited.response.status().code(), StatusCode::kUnavailable);
}

TEST_F(KmsExecutorTest, ABlockingCallFromTheExecutorsOwnThreadIsRefused) {
  ServeInOrder("x");
  Start(TokenConfig(), {});
  std::atomic<bool> refused{false};
  executor_->Submit(Call("x", "outer", Priority::kInteractive), [&](KmsOutcome) {
    KmsOutcome inner = executor_->Run(Call("x", "inner", Priority::kInteractive));
    refused = !inner.response.ok() && inner.response.status().code() == StatusCode::kInternal;
    outcomes_.Record("outer")(KmsOutcome{});
  });
  ASSERT_TRUE(outcomes_.AwaitCount(1));
  EXPECT_TRUE(refused.load());
}

TEST(TokenRejectionTest, OnlyTheCodesALoginCanCure) {
  EXPECT_TRUE(IsTokenRejection(401, ""));
  EXPECT_TRUE(IsTokenRejection(403, "KMS.0302"));
  EXPECT_TRUE(IsTokenRejection(403, "KMS.0303"));
  EXPECT_FALSE(IsTokenRejection(403, "KMS.0306"));
  EXPECT_FALSE(IsTokenRejection(403, "KMS.0301"));
  EXPECT_FALSE(IsTokenRejection(400, "KMS.0303"));
}

}  // namespace
}  // namespace kmsfs::kms
