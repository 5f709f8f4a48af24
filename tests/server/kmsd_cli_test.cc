// kmsd as a program: flags, start-up output, exit codes, signals, the root
// key and data directory, the built-in admin user, TLS.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>

#include "tests/server/kms_wire.h"
#include "tests/server/run_kmsd.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

int CountLines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Field value from kmsd's start-up lines, e.g. "project id: X" -> X.
std::string StartupField(const std::string& out, const std::string& pattern) {
  std::smatch m;
  std::regex re(pattern);
  return std::regex_search(out, m, re) ? m[1].str() : "";
}

TEST(KmsdCliTest, PrintsListeningLineWithTheRealPort) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  EXPECT_GT(kmsd->port(), 0);
  EXPECT_NE(kmsd->startup_output().find("listening on 127.0.0.1:" + std::to_string(kmsd->port()) + "\n"),
            std::string::npos);
  HttpReply health = SendHttp(kmsd->endpoint(), "GET", "/health", "", {});
  EXPECT_EQ(health.status, 200);
}

TEST(KmsdCliTest, HelpPrintsUsageAndExitsZero) {
  RunResult r = RunKmsd({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--listen", "--data", "--users", "--latency-ms", "--tls-cert", "--tls-key",
                           "--token-ttl", "--import-token-ttl"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST(KmsdCliTest, BadFlagsExitTwoWithOneStderrLine) {
  TempDir dir;
  const std::vector<std::vector<std::string>> cases = {
      {"--bogus"},
      {"--data", dir.path()},
      {"--listen", "127.0.0.1:0"},
      {"--listen", "nonsense", "--data", dir.path()},
      {"--listen", "127.0.0.1:0", "--data", dir.path(), "--latency-ms", "soon"},
      {"--listen", "127.0.0.1:0", "--data", dir.path(), "--tls-cert", "only.pem"},
  };
  for (const auto& args : cases) {
    RunResult r = RunKmsd(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_EQ(CountLines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("kmsd: ", 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST(KmsdCliTest, InvalidUsersFileExitsTwoNamingTheProblem) {
  TempDir dir;
  WriteFileOrDie(dir.Join("users.json"), R"([{"name":"x","password":"p","id":"bad-id","project_id":"p","domain":"d"}])");
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data"), "--users", dir.Join("users.json")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(CountLines(r.err), 1);
  EXPECT_NE(r.err.find("\"id\""), std::string::npos) << r.err;
  RunResult missing = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data"), "--users", dir.Join("nope")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope"), std::string::npos);
}

TEST(KmsdCliTest, PortInUseExitsTwo) {
  auto first = KmsdProcess::Start({});
  ASSERT_NE(first, nullptr);
  TempDir dir;
  RunResult r = RunKmsd({"--listen", "127.0.0.1:" + std::to_string(first->port()), "--data", dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
}

// kmsd holds its database's lock while it runs: a second kmsd on the same
// data directory gives up (after SQLite's 5 s busy wait) instead of sharing it.
TEST(KmsdCliTest, ASecondKmsdOnTheSameDataDirectoryExitsTwo) {
  auto first = KmsdProcess::Start({});
  ASSERT_NE(first, nullptr);
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", first->data_dir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("in use by another process"), std::string::npos) << r.err;
  const KmsdUser alice = DefaultTestUsers().front();
  KmsWire wire(first->endpoint(), alice, first->Login(alice));
  EXPECT_EQ(wire.Call("list-keys", Json::object()).status, 200) << "the first kmsd serves on";
}

TEST(KmsdCliTest, SigtermAndSigintStopWithExitZero) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  EXPECT_EQ(kmsd->Stop(), 0);
  ASSERT_TRUE(kmsd->Restart());
  EXPECT_EQ(kmsd->StopWith(SIGINT), 0);
}

TEST(KmsdCliTest, SigtermStopsPromptlyWithAnIdleKeepAliveClient) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  // An open, idle connection must not keep kmsd from exiting (Stop fails
  // the test if kmsd needs a SIGKILL).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(kmsd->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, req, sizeof(req) - 1), static_cast<ssize_t>(sizeof(req) - 1));
  char buf[512];
  ASSERT_GT(::read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(kmsd->Stop(), 0);
  ::close(fd);
}

TEST(KmsdCliTest, DataDirIsPrivateAndRootKeyIs0600) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  const std::string d = kmsd->data_dir();
  EXPECT_EQ(ModeOf(d + "/root.key"), 0600u);
  EXPECT_EQ(ModeOf(d + "/kmsd.db"), 0600u);
  struct stat st {};
  ASSERT_EQ(::stat((d + "/root.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 32);
}

TEST(KmsdCliTest, RefusesRootKeyReadableByOthers) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  ASSERT_EQ(kmsd->Stop(), 0);
  ASSERT_EQ(::chmod((kmsd->data_dir() + "/root.key").c_str(), 0640), 0);
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", kmsd->data_dir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("root.key has mode 0640"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(KmsdCliTest, RefusesADataDirectoryOthersMayWrite) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Join("data").c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.Join("data").c_str(), 0777), 0);
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("group or others may write it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 700"), std::string::npos) << r.err;
  EXPECT_EQ(::access(dir.Join("data/root.key").c_str(), F_OK), -1) << "nothing is created in it";
}

TEST(KmsdCliTest, RefusesASymbolicLinkPlantedInTheDataDirectory) {
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  ASSERT_EQ(kmsd->Stop(), 0);
  const std::string db = kmsd->data_dir() + "/kmsd.db";
  ASSERT_EQ(::rename(db.c_str(), (db + ".moved").c_str()), 0);
  ASSERT_EQ(::symlink((db + ".moved").c_str(), db.c_str()), 0);
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", kmsd->data_dir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("kmsd.db is a symbolic link"), std::string::npos) << r.err;
}

TEST(KmsdCliTest, RefusesAUsersFileOthersMayChangeOrRead) {
  TempDir dir;
  const std::string users = dir.Join("users.json");
  WriteFileOrDie(users, R"([{"name":"x","password":"pw","id":"x1","project_id":"p","domain":"d"}])");
  ASSERT_EQ(::chmod(users.c_str(), 0666), 0);
  RunResult writable = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data"), "--users", users});
  EXPECT_EQ(writable.exit_code, 2);
  EXPECT_NE(writable.err.find("may write it and so add users"), std::string::npos) << writable.err;
  ASSERT_EQ(::chmod(users.c_str(), 0644), 0);
  RunResult readable = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data"), "--users", users});
  EXPECT_EQ(readable.exit_code, 2);
  EXPECT_NE(readable.err.find("plain passwords or secret keys others may read"), std::string::npos) << readable.err;
}

TEST(KmsdCliTest, VersionPrintsTheVersion) {
  RunResult r = RunKmsd({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("kmsd [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
}

TEST(KmsdCliTest, RefusesRootKeyOfWrongSize) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Join("data").c_str(), 0700), 0);
  WriteFileOrDie(dir.Join("data/root.key"), std::string(31, 'k'));
  ASSERT_EQ(::chmod(dir.Join("data/root.key").c_str(), 0600), 0);
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.Join("data")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must be exactly 32"), std::string::npos) << r.err;
}

TEST(KmsdCliTest, WithoutUsersFileCreatesAdminWithTokenFile) {
  KmsdProcess::Options opts;
  opts.users.clear();
  auto kmsd = KmsdProcess::Start(opts);
  ASSERT_NE(kmsd, nullptr);
  const std::string& out = kmsd->startup_output();
  const std::string project = StartupField(out, "project id: ([0-9a-f]{32})");
  const std::string admin_id = StartupField(out, "name=admin id=([0-9a-f]{32})");
  ASSERT_FALSE(project.empty()) << out;
  ASSERT_FALSE(admin_id.empty()) << out;
  EXPECT_NE(out.find(kmsd->data_dir() + "/admin.token"), std::string::npos);
  EXPECT_EQ(ModeOf(kmsd->data_dir() + "/admin.token"), 0600u);
  EXPECT_EQ(ModeOf(kmsd->data_dir() + "/admin.password"), 0600u);

  const std::string token = ReadFileOrDie(kmsd->data_dir() + "/admin.token");
  KmsdUser admin{"admin", ReadFileOrDie(kmsd->data_dir() + "/admin.password"), admin_id, project, "admin"};
  KmsWire wire(kmsd->endpoint(), admin, token);
  KmsReply list = wire.Call("list-keys", Json::object());
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["total"], 1);  // the domain's default key
  EXPECT_EQ(list.body["key_details"][0]["key_alias"], "kmsfs/default");
  EXPECT_FALSE(kmsd->Login(admin).empty());  // the password file works too
}

TEST(KmsdCliTest, AdminUserIsReusedAndItsTokenRenewedOnRestart) {
  KmsdProcess::Options opts;
  opts.users.clear();
  auto kmsd = KmsdProcess::Start(opts);
  ASSERT_NE(kmsd, nullptr);
  const std::string project = StartupField(kmsd->startup_output(), "project id: ([0-9a-f]{32})");
  const std::string token1 = ReadFileOrDie(kmsd->data_dir() + "/admin.token");
  const std::string password = ReadFileOrDie(kmsd->data_dir() + "/admin.password");
  ASSERT_TRUE(kmsd->Restart());
  EXPECT_EQ(StartupField(kmsd->startup_output(), "project id: ([0-9a-f]{32})"), project);
  const std::string token2 = ReadFileOrDie(kmsd->data_dir() + "/admin.token");
  EXPECT_NE(token1, token2);
  EXPECT_EQ(ReadFileOrDie(kmsd->data_dir() + "/admin.password"), password);
  KmsdUser admin{"admin", password, "", project, "admin"};
  for (const std::string& t : {token1, token2}) {
    KmsReply r = KmsWire(kmsd->endpoint(), admin, t).Call("list-keys", Json::object());
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 1);  // still exactly one default key
  }
}

TEST(KmsdCliTest, UsersFileDisablesTheBuiltinAdmin) {
  TempDir data;
  KmsdProcess::Options opts;
  opts.users.clear();
  opts.data_dir = data.Join("d");
  auto admin_mode = KmsdProcess::Start(opts);
  ASSERT_NE(admin_mode, nullptr);
  const std::string token = ReadFileOrDie(opts.data_dir + "/admin.token");
  const std::string project = StartupField(admin_mode->startup_output(), "project id: ([0-9a-f]{32})");
  ASSERT_EQ(admin_mode->Stop(), 0);
  admin_mode.reset();

  KmsdProcess::Options with_users;
  with_users.data_dir = opts.data_dir;
  auto kmsd = KmsdProcess::Start(with_users);
  ASSERT_NE(kmsd, nullptr);
  EXPECT_EQ(kmsd->startup_output().find("admin"), std::string::npos);
  KmsdUser admin{"admin", "", "", project, "admin"};
  EXPECT_KMS_ERROR(KmsWire(kmsd->endpoint(), admin, token).Call("list-keys", Json::object()), 403, "KMS.0302");
}

// A self-signed certificate for 127.0.0.1, written as PEM files.
void WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

TEST(KmsdCliTest, ServesHttpsWithTlsFlags) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(WriteSelfSignedCert(dir.Join("cert.pem"), dir.Join("key.pem")));
  KmsdProcess::Options opts;
  opts.tls_cert = dir.Join("cert.pem");
  opts.tls_key = dir.Join("key.pem");
  auto kmsd = KmsdProcess::Start(opts);
  ASSERT_NE(kmsd, nullptr);
  ASSERT_EQ(kmsd->endpoint().rfind("https://", 0), 0u);
  const KmsdUser alice = DefaultTestUsers()[0];
  KmsWire wire(kmsd->endpoint(), alice, kmsd->Login(alice));
  EXPECT_FALSE(wire.CreateKey("over-tls").empty());
  // Plain HTTP to the TLS port gets no HTTP answer.
  HttpReply plain = SendHttp("http://127.0.0.1:" + std::to_string(kmsd->port()), "GET", "/health", "", {});
  EXPECT_NE(plain.status, 200);
}

TEST(KmsdCliTest, UnreadableTlsFilesExitTwo) {
  TempDir dir;
  RunResult r = RunKmsd({"--listen", "127.0.0.1:0", "--data", dir.path(), "--tls-cert", dir.Join("no.pem"),
                         "--tls-key", dir.Join("no.key")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
}

TEST(KmsdCliTest, LatencyFlagKeepsAnswersCorrect) {
  KmsdProcess::Options opts;
  opts.latency_ms = 20;
  auto kmsd = KmsdProcess::Start(opts);
  ASSERT_NE(kmsd, nullptr);
  const KmsdUser alice = DefaultTestUsers()[0];
  KmsWire wire(kmsd->endpoint(), alice, kmsd->Login(alice));
  std::string key = wire.CreateKey("slow");
  std::string ct = wire.EncryptDek(key, Bytes(64, 1));
  KmsReply r = wire.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
  EXPECT_EQ(r.status, 200) << r.raw;
}

}  // namespace
}  // namespace kmsfs::testing
