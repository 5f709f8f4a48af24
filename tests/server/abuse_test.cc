// Hostile and heavy input: oversized bodies, garbage of every shape for
// every action, concurrency. kmsd must answer each with a JSON 4xx (never
// 500, never a dropped connection) and keep running.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

const std::vector<std::string> kActions = {
    "create-key", "describe-key", "list-keys", "enable-key", "disable-key", "schedule-key-deletion",
    "cancel-key-deletion", "enable-key-rotation", "disable-key-rotation", "get-key-rotation-status", "gen-random",
    "create-datakey", "create-datakey-without-plaintext", "encrypt-datakey", "decrypt-datakey", "encrypt-data",
    "decrypt-data", "create-grant", "list-grants", "revoke-grant", "retire-grant", "list-retirable-grants",
    "get-parameters-for-import", "import-key-material", "delete-imported-key-material",
    "update-key-alias", "update-key-description", "update-key-rotation-interval", "rotate-on-demand"};

const std::vector<std::string> kFields = {
    "key_id", "key_alias", "key_spec", "key_usage", "key_description", "origin", "realm", "limit", "marker",
    "key_state", "pending_days", "random_data_length", "datakey_length", "encryption_context", "plain_text",
    "datakey_plain_length", "cipher_text", "datakey_cipher_length", "encryption_algorithm", "grantee_principal",
    "operations", "name", "retiring_principal", "grantee_principal_type", "grant_id", "wrapping_algorithm",
    "import_token", "encrypted_key_material", "expiration_time", "sequence", "rotation_interval"};

class KmsdAbuseTest : public KmsdTest {
 protected:
  void ExpectAlive() {
    ASSERT_TRUE(kmsd_->running());
    EXPECT_EQ(::kill(kmsd_->pid(), 0), 0);
    EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", "/health", "", {}).status, 200);
  }
};

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// A raw HTTP/1.1 exchange over a socket (for bodies httplib's client will not send).
std::string RawExchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  struct timeval tv = {10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.find("\r\n\r\n") != std::string::npos && reply.find("}}") != std::string::npos) break;
  }
  ::close(fd);
  return reply;
}

TEST_F(KmsdAbuseTest, TenMegabyteBodyIsRejectedWith0203) {
  std::string body = "{\"key_alias\":\"" + std::string(10 * 1024 * 1024, 'a') + "\"}";
  KmsReply r = alice_.CallRaw("create-key", body);
  EXPECT_KMS_ERROR(r, 400, "KMS.0203");
  ExpectAlive();
}

TEST_F(KmsdAbuseTest, BodyLimitIsOneMebibyte) {
  // Just under the limit: a valid request padded with an ignored field.
  std::string pad(1024 * 1024 - 100, 'p');
  std::string under = R"({"pad":")" + pad + R"(","limit":"1"})";
  ASSERT_LE(under.size(), 1024u * 1024u);
  EXPECT_EQ(alice_.CallRaw("list-keys", under).status, 200);
  std::string over = R"({"pad":")" + std::string(1024 * 1024, 'p') + R"("})";
  EXPECT_KMS_ERROR(alice_.CallRaw("list-keys", over), 400, "KMS.0203");
  // The token is checked before the size, as in the validation order.
  KmsWire none(kmsd_->endpoint(), users_[0], "");
  EXPECT_KMS_ERROR(none.CallRaw("list-keys", over), 403, "KMS.0301");
}

TEST_F(KmsdAbuseTest, ChunkedBodyOverTheLimitIsRejectedWith0203) {
  std::string path = "/v1.0/" + users_[0].project_id + "/kms/list-keys";
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Auth-Token: " +
                    alice_.token() + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  std::string chunk(64 * 1024, 'x');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  for (int i = 0; i < 20; ++i) req += std::string(size_line) + chunk + "\r\n";
  req += "0\r\n\r\n";
  std::string reply = RawExchange(kmsd_->port(), req);
  EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply.substr(0, 200);
  EXPECT_NE(reply.find("KMS.0203"), std::string::npos) << reply.substr(0, 400);
  ExpectAlive();
}

TEST_F(KmsdAbuseTest, SmallChunkedBodyIsAccepted) {
  std::string path = "/v1.0/" + users_[0].project_id + "/kms/gen-random";
  std::string body = R"({"random_data_length":"512"})";
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", body.size());
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + alice_.token() +
                    "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + size_line + body + "\r\n0\r\n\r\n";
  std::string reply = RawExchange(kmsd_->port(), req);
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply.substr(0, 300);
}

TEST_F(KmsdAbuseTest, MalformedHttpGetsJsonErrors) {
  for (const std::string& req : {std::string("GARBAGE\r\n\r\n"), std::string("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
                                 std::string("POST /v1.0/p/kms/create-key HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                                             "Connection: close\r\n\r\n")}) {
    std::string reply = RawExchange(kmsd_->port(), req);
    EXPECT_EQ(reply.find(" 500 "), std::string::npos) << reply;
  }
  ExpectAlive();
}

// A request refused while it arrives, together with the client's end of
// stream, closes the connection deep inside the read path; the server must
// not touch that connection afterwards (it once did: a use after free that
// AddressSanitizer caught).
TEST_F(KmsdAbuseTest, ARequestRefusedAsTheClientHangsUpNeverHurtsTheServer) {
  const std::string bad = "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
  for (int i = 0; i < 200; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(kmsd_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
    struct timeval tv = {10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ASSERT_EQ(::send(fd, bad.data(), bad.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bad.size()));
    ::shutdown(fd, SHUT_WR);
    char buf[4096];
    while (::recv(fd, buf, sizeof(buf), 0) > 0) {
    }
    ::close(fd);
  }
  ExpectAlive();
}

// Values of every JSON type and some nasty strings.
std::vector<Json> ValuePool(const std::string& key_id, const std::string& ext_key) {
  return {nullptr, true, false, 0, -1, 1.5, 1e308, 18446744073709551615ULL, -9223372036854775807LL,
          Json::array(), Json::array({"a", 1}), Json::array({"describe-key"}), Json::object(),
          Json::object({{"a", "b"}}), Json::object({{"a", Json::object({{"b", 1}})}}), "", " ", "\t\n",
          std::string(20000, 'A'), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91", std::string("nul\0byte", 8), "-1", "0",
          "512", "64", "7", "99999999999999999999", "1e3", "alias/", "alias/kmsfs/default", "kms:a:b:alias:c",
          "kms:::alias:", key_id, ext_key, std::string(64, 'f'), std::string(376, 'F'), std::string(400, '='),
          "RSAES_OAEP_SHA_256", "AES_256", "ENCRYPT_DECRYPT", "user", "domain", "919c82d4-8046-4722-9094-35c3c6524cff"};
}

TEST_F(KmsdAbuseTest, GarbageForEveryActionNeverYields500) {
  const std::string key = alice_.CreateKey("fuzz-target");
  const std::string ext = alice_.CreateKey("fuzz-external", "external");
  const std::vector<Json> pool = ValuePool(key, ext);
  std::vector<std::string> raw_bodies = {
      "", " ", "null", "true", "0", "-1e999", "[]", "[{}]", "{", "}", "{}", "{\"a\":}", "\"x\"", "{\"key_id\":null}",
      "{\"key_id\":\"\xff\xfe\"}", "{\"key_id\":\"\\ud800\"}", "{\"key_id\":1e999}", std::string(3, '\0'),
      "{\"key_id\":\"a\",\"key_id\":\"b\"}", "{\"encryption_context\":{\"a\":\"b\",\"a\":1}}",
      std::string(20000, '[') + std::string(20000, ']'), "{\"a\":" + std::string(20000, '[') + std::string(20000, ']') + "}"};
  std::string deep_obj;
  for (int i = 0; i < 5000; ++i) deep_obj += "{\"a\":";
  deep_obj += "1" + std::string(5000, '}');
  raw_bodies.push_back(deep_obj);

  std::mt19937 rng(20240611);
  httplib::Client cli(kmsd_->endpoint());
  cli.set_read_timeout(30, 0);
  httplib::Headers headers = {{"X-Auth-Token", alice_.token()}};
  int requests = 0;
  auto send = [&](const std::string& action, const std::string& body) {
    auto res = cli.Post("/v1.0/" + users_[0].project_id + "/kms/" + action, headers, body, "application/json");
    ++requests;
    ASSERT_TRUE(res) << action << ": no answer to " << body.substr(0, 200);
    EXPECT_GE(res->status, 200) << action;
    EXPECT_LT(res->status, 500) << action << " " << body.substr(0, 200) << " -> " << res->body;
    Json j = Json::parse(res->body, nullptr, false);
    EXPECT_TRUE(j.is_object()) << action << " -> " << res->body.substr(0, 200);
    if (res->status != 200) {
      EXPECT_TRUE(j.contains("error")) << res->body;
    }
  };

  for (const std::string& action : kActions) {
    for (const std::string& body : raw_bodies) ASSERT_NO_FATAL_FAILURE(send(action, body));
    // Every field with every kind of value.
    for (const std::string& field : kFields) {
      for (const Json& v : pool) {
        if (rng() % 3 != 0) continue;  // a third of the cross product per action keeps the run short
        ASSERT_NO_FATAL_FAILURE(send(action, Json({{field, v}, {"key_id", key}}).dump()));
      }
    }
    // Random mixtures of fields and values.
    for (int i = 0; i < 40; ++i) {
      Json body = Json::object();
      int n = 1 + static_cast<int>(rng() % 6);
      for (int f = 0; f < n; ++f) body[kFields[rng() % kFields.size()]] = pool[rng() % pool.size()];
      ASSERT_NO_FATAL_FAILURE(send(action, body.dump(-1, ' ', false, Json::error_handler_t::replace)));
    }
    // Random bytes.
    for (int i = 0; i < 5; ++i) {
      std::string bytes(rng() % 512, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      ASSERT_NO_FATAL_FAILURE(send(action, bytes));
    }
  }
  EXPECT_GT(requests, 2000);
  ExpectAlive();
  // It still does its job afterwards (the garbage may have disabled or scheduled the key).
  alice_.Call("cancel-key-deletion", {{"key_id", key}});
  alice_.Call("enable-key", {{"key_id", key}});
  std::string ct = alice_.EncryptDek(key, Bytes(64, 1));
  EXPECT_EQ(alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}})
                .status,
            200);
}

// {"key_id":"x","<field>": [[[...]]]} nested `depth` deep, about 2 bytes a level.
std::string DeeplyNested(const std::string& field, size_t depth, char open = '[', char close = ']') {
  return "{\"key_id\":\"x\",\"" + field + "\":{\"a\":" + std::string(depth, open) + std::string(depth, close) + "}}";
}

TEST_F(KmsdAbuseTest, DeeplyNestedEncryptionContextWithoutATokenNeverCrashes) {
  const std::string path = "/v1.0/" + users_[0].project_id + "/kms/decrypt-datakey";
  const std::string body = DeeplyNested("encryption_context", 100000);
  ASSERT_LT(body.size(), 1024u * 1024u) << "under the body limit: the server parses it";
  const std::string log_path = kmsd_->data_dir() + "/audit.log";
  const size_t lines_before = CountLines(log_path);
  HttpReply r = SendHttp(kmsd_->endpoint(), "POST", path, body, {{"Content-Type", "application/json"}});
  EXPECT_GE(r.status, 400) << r.body;
  EXPECT_LT(r.status, 500) << r.body;
  EXPECT_TRUE(Json::parse(r.body, nullptr, false).contains("error")) << r.body;
  // The same from a caller with a token: refused as invalid JSON.
  KmsReply authed = alice_.CallRaw("decrypt-datakey", body);
  EXPECT_KMS_ERROR(authed, 400, "KMS.0202");
  ExpectAlive();
  EXPECT_EQ(CountLines(log_path), lines_before + 2) << "each call still leaves its line";
}

TEST_F(KmsdAbuseTest, DeepNestingInAnyFieldIsRefusedAsInvalidJson) {
  const std::string key = alice_.CreateKey("deep-target");
  for (const std::string& field : kFields) {
    for (const auto& [open, close] : {std::pair{'[', ']'}, std::pair{'{', '}'}}) {
      std::string body = DeeplyNested(field, 50000, open, close);
      if (open == '{') {  // objects need members: {"a":{"a":...1}}
        body = "{\"key_id\":\"" + key + "\",\"" + field + "\":";
        for (int i = 0; i < 50000; ++i) body += "{\"a\":";
        body += "1" + std::string(50000, '}') + "}";
      }
      const KmsReply r = alice_.CallRaw("encrypt-datakey", body);
      EXPECT_EQ(r.status, 400) << field << " " << open << " " << r.raw;
      EXPECT_EQ(r.code(), "KMS.0202") << field << " " << open;
    }
  }
  ExpectAlive();
}

TEST_F(KmsdAbuseTest, ConcurrentClientsGetConsistentAnswers) {
  const std::string key = alice_.CreateKey("busy");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client cli(kmsd_->endpoint());
      httplib::Headers h = {{"X-Auth-Token", alice_.token()}};
      const std::string base = "/v1.0/" + users_[0].project_id + "/kms/";
      for (int i = 0; i < 25; ++i) {
        std::vector<uint8_t> dek = Bytes(64, static_cast<uint8_t>(t * 31 + i));
        Json enc = {{"key_id", key}, {"plain_text", DekPlainText(dek)}, {"datakey_plain_length", "64"}};
        auto e = cli.Post(base + "encrypt-datakey", h, enc.dump(), "application/json");
        if (!e || e->status != 200) {
          ++failures;
          continue;
        }
        Json dec = {{"key_id", key}, {"cipher_text", Json::parse(e->body)["cipher_text"]}, {"datakey_cipher_length", "64"}};
        auto d = cli.Post(base + "decrypt-datakey", h, dec.dump(), "application/json");
        if (!d || d->status != 200 || Json::parse(d->body)["data_key"] != DekPlainText(dek).substr(0, 128)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// A Range header must never make kmsd send bytes beyond an answer (that
// would be heap memory: other users' tokens) or crash it. No KMS answer is
// served in parts: every range, inside, across or far beyond the answer, one
// or several, gets the whole answer.
TEST_F(KmsdAbuseTest, RangeHeadersNeverSendBytesBeyondTheAnswer) {
  const std::string plain = RawExchange(kmsd_->port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t head_end = plain.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << plain;
  const std::string body = plain.substr(head_end + 4);
  ASSERT_EQ(body, "{\"status\":\"ok\"}");
  for (const std::string range : {"bytes=0-300", "bytes=0-999999999", "bytes=10-20", "bytes=100-200", "bytes=-5",
                                  "bytes=5-", "bytes=0-1,3-300", "bytes=999999999-", "bytes=18446744073709551615-"}) {
    SCOPED_TRACE(range);
    std::string reply;
    // Read until the server closes: every byte it sends is counted.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(kmsd_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    struct timeval tv = {10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const std::string request = "GET /health HTTP/1.1\r\nHost: x\r\nRange: " + range + "\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
    ::close(fd);
    // Ranges are ignored: the whole answer, as without the header; a range
    // httplib cannot even parse is a bad request.
    const size_t end = reply.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << reply;
    if (reply.rfind("HTTP/1.1 400", 0) == 0) {
      EXPECT_EQ(Json::parse(reply.substr(end + 4))["error"]["error_code"], "KMS.0202") << reply;
    } else {
      EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
      EXPECT_EQ(reply.substr(end + 4), body);
    }
    ExpectAlive();
  }
}

}  // namespace
}  // namespace kmsfs::testing
