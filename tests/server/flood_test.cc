// kmsd under abuse beyond malformed bodies: a thousand connections at once,
// clients that stall mid-request, and hostile strings in names. No crash, no
// 500, no change to stored data.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/server/kms_wire.h"

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
