#include "tests/testutil/kmsd_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace kmsfs::testing {
namespace {

constexpr int kStartTimeoutMs = 30000;
constexpr auto kStopGrace = std::chrono::seconds(5);

// Waits for `pid` to exit, at most `limit`; returns the waitpid status or -1.
int WaitFor(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    // Waiting for the process to exit (not for readiness): poll its state.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// An Argon2id string for `password` at libsodium's minimum cost.
std::string CheapHash(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  if (sodium_init() < 0 || crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                                             crypto_pwhash_MEMLIMIT_MIN) != 0) {
    ADD_FAILURE() << "crypto_pwhash_str failed";
    return "";
  }
  return out;
}

std::string UsersJson(const std::vector<KmsdUser>& users, bool cheap_hashes) {
  nlohmann::json list = nlohmann::json::array();
  for (const KmsdUser& u : users) {
    nlohmann::json entry = {{"name", u.name}, {"id", u.id}, {"project_id", u.project_id}, {"domain", u.domain}};
    if (!u.role.empty()) entry["role"] = u.role;
    if (!u.project_name.empty()) entry["project_name"] = u.project_name;
    for (const auto& [ak, sk] : u.access_keys) entry["access_keys"].push_back({{"access", ak}, {"secret", sk}});
    if (cheap_hashes) {
      entry["password_hash"] = CheapHash(u.password);
    } else {
      entry["password"] = u.password;
    }
    list.push_back(entry);
  }
  return list.dump(2);
}

std::unique_ptr<httplib::Client> MakeClient(const std::string& endpoint) {
  auto cli = std::make_unique<httplib::Client>(endpoint);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(30, 0);
  cli->set_write_timeout(30, 0);
  cli->enable_server_certificate_verification(false);
  return cli;
}

HttpReply ToReply(const httplib::Result& res) {
  HttpReply reply;
  if (!res) {
    reply.status = 0;
    reply.body = "no HTTP answer: " + httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  reply.body = res->body;
  for (const auto& [k, v] : res->headers) reply.headers[k] = v;
  return reply;
}

}  // namespace

std::vector<KmsdUser> DefaultTestUsers() {
  return {
      {"alice", "alice-secret-pw", "0a11ce00000000000000000000000001", "0a11ce000000000000000000000000f1",
       "alice-domain"},
      {"bob", "bob-secret-pw", "00b0b000000000000000000000000002", "00b0b0000000000000000000000000f2",
       "bob-domain"},
      {"carol", "carol-secret-pw", "0ca40100000000000000000000000003", "0ca401000000000000000000000000f3",
       "carol-domain"},
  };
}

struct KmsdProcess::Capture {
  std::mutex mu;
  std::string text;  // guarded by mu
  std::vector<std::thread> readers;
};

KmsdProcess::KmsdProcess(Options opts) : options_(std::move(opts)) {}

std::string KmsdProcess::output() const {
  if (!capture_) return "";
  std::lock_guard<std::mutex> lock(capture_->mu);
  return capture_->text;
}

std::unique_ptr<KmsdProcess> KmsdProcess::Start(Options opts) {
  std::unique_ptr<KmsdProcess> p(new KmsdProcess(std::move(opts)));
  p->temp_ = std::make_unique<TempDir>();
  p->data_dir_ = p->options_.data_dir.empty() ? p->temp_->Join("data") : p->options_.data_dir;
  if (!p->options_.users.empty()) {
    p->users_file_ = p->temp_->Join("users.json");
    WriteFileOrDie(p->users_file_, UsersJson(p->options_.users, p->options_.cheap_password_hashes));
    // kmsd refuses a users file that others may read or write.
    if (::chmod(p->users_file_.c_str(), 0600) != 0) ADD_FAILURE() << "chmod " << p->users_file_;
  }
  if (!p->Spawn()) return nullptr;
  return p;
}

bool KmsdProcess::Spawn() {
  // A restart comes back on the same port, as a real service would, so
  // clients configured with the endpoint recover without reconfiguration.
  std::vector<std::string> args = {BuildDir() + "/kmsd", "--listen", "127.0.0.1:" + std::to_string(port_ > 0 ? port_ : 0),
                                   "--data", data_dir_};
  if (!users_file_.empty()) {
    args.push_back("--users");
    args.push_back(users_file_);
  }
  args.insert(args.end(), {"--latency-ms", std::to_string(options_.latency_ms), "--token-ttl",
                           std::to_string(options_.token_ttl_sec), "--import-token-ttl",
                           std::to_string(options_.import_token_ttl_sec)});
  if (!options_.tls_cert.empty()) {
    args.insert(args.end(), {"--tls-cert", options_.tls_cert, "--tls-key", options_.tls_key});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return false;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    if (options_.capture_output) ::dup2(fds[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  pid_ = pid;
  startup_output_.clear();

  // Read stdout until the "listening on" line (or EOF: kmsd exited).
  const std::string marker = "listening on ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  bool ready = false;
  while (!ready) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int pr = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    startup_output_.append(buf, static_cast<size_t>(n));
    size_t at = startup_output_.find(marker);
    if (at != std::string::npos && startup_output_.find('\n', at) != std::string::npos) ready = true;
  }
  if (options_.capture_output && ready) {
    if (!capture_) capture_ = std::make_unique<Capture>();
    {
      std::lock_guard<std::mutex> lock(capture_->mu);
      capture_->text += startup_output_;
    }
    // Drains the pipe until kmsd exits (EOF), so kmsd never blocks writing.
    capture_->readers.emplace_back([fd = fds[0], capture = capture_.get()] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard<std::mutex> lock(capture->mu);
        capture->text.append(buf, static_cast<size_t>(n));
      }
      ::close(fd);
    });
  } else {
    ::close(fds[0]);
  }
  if (!ready) {
    ADD_FAILURE() << "kmsd did not become ready; it printed:\n" << startup_output_;
    Kill();
    return false;
  }
  size_t at = startup_output_.find(marker);
  std::string line = startup_output_.substr(at + marker.size());
  line = line.substr(0, line.find('\n'));
  port_ = std::atoi(line.substr(line.rfind(':') + 1).c_str());
  if (port_ <= 0) {
    ADD_FAILURE() << "cannot parse kmsd's port from '" << line << "'";
    Kill();
    return false;
  }
  return true;
}

KmsdProcess::~KmsdProcess() {
  if (running()) Stop();
  JoinReaders();
}

std::string KmsdProcess::endpoint() const {
  return std::string(options_.tls_cert.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_);
}

void KmsdProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  JoinReaders();
}

void KmsdProcess::JoinReaders() {
  if (!capture_) return;
  // kmsd has exited, so its end of the pipe is closed: the readers finish.
  for (std::thread& t : capture_->readers) t.join();
  capture_->readers.clear();
}

int KmsdProcess::Stop() { return StopWith(SIGTERM); }

int KmsdProcess::StopWith(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int status = WaitFor(pid_, std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace));
  if (status == -1) {
    ADD_FAILURE() << "kmsd did not stop within 5 s of signal " << signal << "; killing it";
    Kill();
    return -1;
  }
  pid_ = -1;
  JoinReaders();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool KmsdProcess::Restart() {
  if (running()) Stop();
  return Spawn();
}

std::string KmsdProcess::Login(const KmsdUser& u) {
  nlohmann::json body = {
      {"auth",
       {{"identity",
         {{"methods", {"password"}},
          {"password", {{"user", {{"name", u.name}, {"password", u.password}, {"domain", {{"name", u.domain}}}}}}}}},
        {"scope", {{"project", {{"id", u.project_id}}}}}}}};
  HttpReply r = PostJson(endpoint(), "/v3/auth/tokens", body.dump(), "");
  auto it = r.headers.find("X-Subject-Token");
  if (r.status != 201 || it == r.headers.end()) {
    ADD_FAILURE() << "login as " << u.name << " failed: HTTP " << r.status << " " << r.body;
    return "";
  }
  return it->second;
}

HttpReply PostJson(const std::string& endpoint, const std::string& path, const std::string& body,
                   const std::string& token) {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["X-Auth-Token"] = token;
  return SendHttp(endpoint, "POST", path, body, headers);
}

HttpReply SendHttp(const std::string& endpoint, const std::string& method, const std::string& path,
                   const std::string& body, const std::map<std::string, std::string>& headers) {
  auto cli = MakeClient(endpoint);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  const char* type = "application/json";
  if (method == "POST") return ToReply(cli->Post(path, h, body, type));
  if (method == "PUT") return ToReply(cli->Put(path, h, body, type));
  if (method == "PATCH") return ToReply(cli->Patch(path, h, body, type));
  if (method == "DELETE") return ToReply(cli->Delete(path, h, body, type));
  if (method == "GET") return ToReply(cli->Get(path, h));
  HttpReply r;
  r.body = "unsupported method " + method;
  return r;
}

}  // namespace kmsfs::testing
