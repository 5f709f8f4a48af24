// kmsd under abuse beyond malformed bodies: a thousand connections at once,
// clients that stall mid-request or send slowly, floods of header lines,
// too many connections from one address, and hostile strings in names. No
// crash, no 500, no change to stored data, bounded memory, and /health keeps
// answering.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/kms_wire.h"
#include "tests/server/raw_http.h"

namespace kmsfs::testing {
namespace {

int ConnectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int ListedKeys(const KmsWire& who) {
  KmsReply r = who.Call("list-keys", Json::object());
  EXPECT_TRUE(r.ok()) << r.raw;
  return r.body.value("total", -1);
}

class KmsdFloodTest : public KmsdTest {};

// A kmsd with short request deadlines and a low per-address connection limit.
class KmsdGateTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.extra_args = {"--request-timeout-ms", "1000", "--max-connections-per-peer", "8"};
    return o;
  }
};

constexpr auto kAnswerWait = std::chrono::seconds(10);

std::string StatusLine(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

// Sends header lines of `line_bytes` bytes on `fd` until kmsd answers or
// `max_bytes` went out; returns the answer (empty if none came).
std::string FloodHeaders(int fd, size_t line_bytes, size_t max_bytes) {
  if (!SendAll(fd, "GET /health HTTP/1.1\r\nHost: kmsd\r\n")) return "";
  std::string line = "X-Flood: " + std::string(line_bytes - 11, 'a') + "\r\n";
  std::string block;
  while (block.size() < 64 * 1024) block += line;
  for (size_t sent = 0; sent < max_bytes; sent += block.size()) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) break;  // kmsd has answered
    if (::send(fd, block.data(), block.size(), MSG_NOSIGNAL) <= 0) break;
  }
  return ReadAnswer(fd, kAnswerWait);
}

TEST_F(KmsdFloodTest, HeaderFloodIsCutOffWith431AndMemoryStaysBounded) {
  const long before_kb = ProcStatusKb(kmsd_->pid(), "VmRSS");
  ASSERT_GT(before_kb, 0);
  constexpr size_t kFlood = 256u << 20;
  // Many short header lines (the count limit), then a few long ones (the size limit).
  for (size_t line_bytes : {64u, 8000u}) {
    int fd = ConnectTo(kmsd_->port());
    ASSERT_GE(fd, 0);
    const std::string answer = FloodHeaders(fd, line_bytes, kFlood);
    ::close(fd);
    EXPECT_EQ(StatusLine(answer), "HTTP/1.1 431 Request Header Fields Too Large") << answer.substr(0, 300);
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  }
  const long peak_kb = ProcStatusKb(kmsd_->pid(), "VmHWM");
  EXPECT_LT(peak_kb - before_kb, 64 * 1024) << "kmsd grew from " << before_kb << " KiB to a peak of " << peak_kb;
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", "/health", "", {}).status, 200);
}

TEST_F(KmsdFloodTest, EndlessHeaderLineAndEndlessRequestLineAreRefusedEarly) {
  int fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /health HTTP/1.1\r\nX-Long: " + std::string(20000, 'b')));
  EXPECT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 431 Request Header Fields Too Large");
  ::close(fd);
  fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /" + std::string(20000, 'c')));
  EXPECT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 414 URI Too Long");
  ::close(fd);
}

TEST_F(KmsdFloodTest, HealthAnswersPromptlyWhile300SlowClientsAreConnected) {
  // Half stop in the middle of their headers, half in the middle of a body.
  std::vector<int> slow;
  const std::string partial_head = "GET /health HTTP/1.1\r\nHost: kmsd\r\nX-Slow: ";
  const std::string partial_body = "POST /v1.0/" + alice_.user().project_id +
                                   "/kms/gen-random HTTP/1.1\r\nHost: kmsd\r\nContent-Length: 100\r\n\r\n{\"random";
  for (int i = 0; i < 300; ++i) {
    int fd = ConnectTo(kmsd_->port());
    ASSERT_GE(fd, 0) << "connection " << i;
    ASSERT_TRUE(SendAll(fd, i % 2 ? partial_head : partial_body));
    slow.push_back(fd);
  }
  for (int round = 0; round < 3; ++round) {
    // A byte more from each, as slowloris does to stay under per-read timeouts.
    for (int fd : slow) SendAll(fd, "x");
    const auto start = std::chrono::steady_clock::now();
    int health = ConnectTo(kmsd_->port());
    ASSERT_GE(health, 0);
    ASSERT_TRUE(SendAll(health, "GET /health HTTP/1.1\r\nHost: kmsd\r\nConnection: close\r\n\r\n"));
    const std::string answer = ReadAnswer(health, std::chrono::seconds(2));
    ::close(health);
    EXPECT_EQ(StatusLine(answer), "HTTP/1.1 200 OK") << "round " << round;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
  EXPECT_EQ(alice_.Call("gen-random", {{"random_data_length", "512"}}).status, 200);
  for (int fd : slow) ::close(fd);
}

TEST_F(KmsdGateTest, RequestNotCompleteInTimeIsAnswered408EvenWhenTrickling) {
  int fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /health HTTP/1.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  std::string answer;
  // One byte every 100 ms: no single read waits long, the whole head does.
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      answer = ReadAnswer(fd, kAnswerWait);
      break;
    }
    if (!SendAll(fd, "y")) break;
  }
  ::close(fd);
  EXPECT_EQ(StatusLine(answer), "HTTP/1.1 408 Request Timeout") << answer;
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(4));
}

TEST_F(KmsdGateTest, BodyNotCompleteInTimeIsAnswered408) {
  int fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "POST /v1.0/" + alice_.user().project_id +
                              "/kms/gen-random HTTP/1.1\r\nHost: kmsd\r\nContent-Length: 50\r\n\r\n{"));
  EXPECT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 408 Request Timeout");
  ::close(fd);
}

TEST_F(KmsdGateTest, ConnectionsBeyondThePerAddressLimitAreAnswered429) {
  std::vector<int> held;
  for (int i = 0; i < 8; ++i) {
    int fd = ConnectFrom(kmsd_->port(), "127.0.0.1");
    ASSERT_GE(fd, 0);
    // Each has been served once, so kmsd surely counts it.
    ASSERT_TRUE(SendAll(fd, "GET /health HTTP/1.1\r\nHost: kmsd\r\n\r\n"));
    ASSERT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 200 OK");
    held.push_back(fd);
  }
  int extra = ConnectFrom(kmsd_->port(), "127.0.0.1");
  ASSERT_GE(extra, 0);
  const std::string refused = ReadAnswer(extra, kAnswerWait);
  EXPECT_EQ(StatusLine(refused), "HTTP/1.1 429 Too Many Requests") << refused;
  EXPECT_NE(refused.find("APIGW.0308"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After:"), std::string::npos) << refused;
  ::close(extra);
  // Another loopback address is the same client (any local user may bind
  // any of them), so it is refused too; other hosts count apart
  // (KmsdPeerBucketTest).
  int other = ConnectFrom(kmsd_->port(), "127.0.0.2");
  ASSERT_GE(other, 0);
  EXPECT_EQ(StatusLine(ReadAnswer(other, kAnswerWait)), "HTTP/1.1 429 Too Many Requests");
  ::close(other);
  // A closed connection makes room again.
  ::close(held.back());
  held.pop_back();
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!served && std::chrono::steady_clock::now() < deadline) {
    int again = ConnectFrom(kmsd_->port(), "127.0.0.1");
    ASSERT_GE(again, 0);
    SendAll(again, "GET /health HTTP/1.1\r\nHost: kmsd\r\n\r\n");
    served = StatusLine(ReadAnswer(again, kAnswerWait)) == "HTTP/1.1 200 OK";
    ::close(again);
  }
  EXPECT_TRUE(served);
  for (int fd : held) ::close(fd);
}

TEST_F(KmsdFloodTest, PipelinedRequestsAreAnsweredInOrder) {
  int fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  const std::string path = "/v1.0/" + alice_.user().project_id + "/kms/gen-random";
  const std::string body = R"({"random_data_length":"64"})";
  std::string two = "POST " + path + " HTTP/1.1\r\nHost: kmsd\r\nX-Auth-Token: " + alice_.token() +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body +
                    "GET /nowhere HTTP/1.1\r\nHost: kmsd\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, two));
  const std::string first = ReadAnswer(fd, kAnswerWait);
  const std::string second = ReadAnswer(fd, kAnswerWait);
  ::close(fd);
  EXPECT_EQ(StatusLine(first), "HTTP/1.1 200 OK") << first;
  EXPECT_NE(first.find("random_data"), std::string::npos);
  EXPECT_EQ(StatusLine(second), "HTTP/1.1 404 Not Found") << second;
}

TEST_F(KmsdFloodTest, ExpectContinueGetsExactlyOneInterimAnswer) {
  int fd = ConnectTo(kmsd_->port());
  ASSERT_GE(fd, 0);
  const std::string body = R"({"random_data_length":"64"})";
  ASSERT_TRUE(SendAll(fd, "POST /v1.0/" + alice_.user().project_id + "/kms/gen-random HTTP/1.1\r\nHost: kmsd\r\n" +
                              "X-Auth-Token: " + alice_.token() + "\r\nExpect: 100-continue\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 100 Continue");
  ASSERT_TRUE(SendAll(fd, body));
  const std::string answer = ReadAnswer(fd, kAnswerWait);
  ::close(fd);
  EXPECT_EQ(StatusLine(answer), "HTTP/1.1 200 OK") << answer;
}

TEST_F(KmsdFloodTest, RequestsThatCannotBeFramedAreRefusedWith400) {
  for (const std::string& bad : {
           std::string("GET /health HTTP/1.1\nHost: x\n\n"),                       // bare LF
           std::string("GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"),          // obsolete folding
           std::string("POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
           std::string("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
           std::string("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
           std::string("GET /health HTTP/2.0\r\n\r\n"),
       }) {
    int fd = ConnectTo(kmsd_->port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, bad));
    EXPECT_EQ(StatusLine(ReadAnswer(fd, kAnswerWait)), "HTTP/1.1 400 Bad Request") << bad;
    ::close(fd);
  }
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", "/health", "", {}).status, 200);
}

TEST_F(KmsdFloodTest, ThousandConnectionsAtOnceAreAllAnswered) {
  // The test itself needs ~1000 descriptors too.
  struct rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 1200) GTEST_SKIP() << "open-file limit too low for 1000 connections";

  constexpr int kConnections = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    int fd = ConnectTo(kmsd_->port());
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  // Every connection now asks at once.
  const std::string req = "GET /health HTTP/1.1\r\nHost: kmsd\r\nConnection: close\r\n\r\n";
  for (int fd : fds) ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::vector<std::string> replies(kConnections);
  std::vector<bool> done(kConnections, false);
  int open = kConnections;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> pfds;
    std::vector<int> index;
    for (int i = 0; i < kConnections; ++i) {
      if (!done[i]) {
        pfds.push_back({fds[i], POLLIN, 0});
        index.push_back(i);
      }
    }
    ::poll(pfds.data(), pfds.size(), 200);
    for (size_t k = 0; k < pfds.size(); ++k) {
      if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[1024];
      ssize_t n = ::recv(pfds[k].fd, buf, sizeof buf, 0);
      if (n > 0) {
        replies[index[k]].append(buf, static_cast<size_t>(n));
      } else {
        done[index[k]] = true;
        --open;
      }
    }
  }
  int ok = 0;
  for (const std::string& r : replies) ok += r.rfind("HTTP/1.1 200", 0) == 0;
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(ok, kConnections);
  EXPECT_EQ(alice_.Call("list-keys", Json::object()).status, 200);
}

TEST_F(KmsdFloodTest, ClientsThatStallMidRequestDoNotStopOthers) {
  const int before = ListedKeys(alice_);
  std::vector<int> stalled;
  const std::string partial = "POST /v1.0/" + alice_.user().project_id +
                              "/kms/create-key HTTP/1.1\r\nHost: kmsd\r\nContent-Type: application/json\r\n"
                              "X-Auth-Token: " + alice_.token() + "\r\nContent-Length: 200\r\n\r\n{\"key_alias\":";
  for (int i = 0; i < 20; ++i) {
    int fd = ConnectTo(kmsd_->port());
    ASSERT_GE(fd, 0);
    ASSERT_GT(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), 0);
    stalled.push_back(fd);
  }
  // Everyone else is still served while those wait for bodies that never come.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(alice_.Call("gen-random", {{"random_data_length", "512"}}).status, 200);
  for (int fd : stalled) ::close(fd);
  EXPECT_EQ(ListedKeys(alice_), before) << "a half-sent request must not create anything";
}

TEST_F(KmsdFloodTest, HostileStringsInNamesAreRejectedAndChangeNothing) {
  const std::string key = alice_.CreateKey(UniqueAlias());
  const int before = ListedKeys(alice_);
  const std::vector<std::string> hostile = {
      "'; DROP TABLE keys; --", "\" OR 1=1 --", "ключ", "鍵", "😀", "a b", "../../etc/passwd", "<script>x</script>",
      "%s%s%n", std::string("nul\0byte", 8), "tab\there", "line\nbreak", std::string(300, 'a'), ""};
  for (const std::string& s : hostile) {
    SCOPED_TRACE(s);
    KmsReply r = alice_.Call("create-key", {{"key_alias", s}});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_FALSE(r.code().empty()) << r.raw;
    if (!s.empty()) {  // an empty grant name means "no name", as the API's optional fields do
      r = alice_.Call("create-grant", {{"key_id", key}, {"grantee_principal", bob_.user().id},
                                       {"operations", {"decrypt-datakey"}}, {"name", s}});
      EXPECT_EQ(r.status, 400) << r.raw;
    }
    r = alice_.Call("create-grant", {{"key_id", key}, {"grantee_principal", s}, {"operations", {"decrypt-datakey"}}});
    EXPECT_EQ(r.status, 400) << r.raw;
  }
  // Bytes that are not UTF-8 at all (sent raw: a JSON library will not encode them).
  KmsReply raw = alice_.CallRaw("create-key", "{\"key_alias\":\"\xff\xfe\"}");
  EXPECT_EQ(raw.status, 400) << raw.raw;
  EXPECT_EQ(ListedKeys(alice_), before);
  KmsReply grants = alice_.Call("list-grants", {{"key_id", key}});
  ASSERT_TRUE(grants.ok()) << grants.raw;
  EXPECT_EQ(grants.body.value("total", -1), 0);
  // Free text where the API allows it (descriptions) is stored and returned byte for byte.
  const std::string description = "ключ 😀 '; DROP TABLE keys; -- <b>";
  KmsReply made = alice_.Call("create-key", {{"key_alias", UniqueAlias()}, {"key_description", description}});
  ASSERT_TRUE(made.ok()) << made.raw;
  const std::string id = made.body["key_info"]["key_id"];
  KmsReply described = alice_.Call("describe-key", {{"key_id", id}});
  ASSERT_TRUE(described.ok()) << described.raw;
  EXPECT_EQ(described.body["key_info"].value("key_description", ""), description);
}

}  // namespace
}  // namespace kmsfs::testing
