// KmsdProcess: a real `kmsd` child process for tests, on a free port.
//
// Start() writes a users file, runs BuildDir()/kmsd --listen 127.0.0.1:0 and
// returns once kmsd has printed "listening on HOST:PORT" (it reads the line;
// no sleeps, no polling). The data directory survives Restart(), so tests can
// check persistence; the destructor always stops the process and removes
// private directories.
//
// Thread-safety: one object per test thread; PostJson/SendHttp may be called
// from any thread.
#ifndef KMSFS_TESTS_TESTUTIL_KMSD_PROCESS_H_
#define KMSFS_TESTS_TESTUTIL_KMSD_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {

struct KmsdUser {
  std::string name, password, id, project_id, domain;
  std::string role{};          // users file "role"; empty: kmsd's default (kms_admin)
  std::string project_name{};  // users file "project_name"; empty: none
  std::vector<std::pair<std::string, std::string>> access_keys{};  // (AK, SK) pairs
};

// alice, bob and carol, each in a domain and project of their own.
std::vector<KmsdUser> DefaultTestUsers();

class KmsdProcess {
 public:
  struct Options {
    std::vector<KmsdUser> users = DefaultTestUsers();  // empty: kmsd's built-in admin user
    int latency_ms = 0;
    int token_ttl_sec = 86400;
    int import_token_ttl_sec = 86400;
    std::string data_dir;  // empty: a private TempDir
    std::string tls_cert;  // with tls_key: serve HTTPS (endpoint() is https://)
    std::string tls_key;
    std::vector<std::string> extra_args;  // appended to kmsd's command line
    // The users file lists Argon2id hashes of the passwords at libsodium's
    // minimum cost, so that logins in tests take milliseconds; false lists
    // the passwords themselves (kmsd then hashes them at full cost).
    bool cheap_password_hashes = true;
    // Keep reading kmsd's stdout and stderr after start-up (output()).
    bool capture_output = false;
  };

  // Starts kmsd; nullptr (after ADD_FAILURE with kmsd's output) on failure.
  static std::unique_ptr<KmsdProcess> Start(Options opts);
  ~KmsdProcess();  // SIGTERM, wait, SIGKILL after a few seconds
  KmsdProcess(const KmsdProcess&) = delete;
  KmsdProcess& operator=(const KmsdProcess&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:PORT" (https with TLS)
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const Options& options() const { return options_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // What kmsd printed on stdout up to and including the "listening on" line.
  const std::string& startup_output() const { return startup_output_; }
  // With Options::capture_output: everything kmsd printed on stdout and
  // stderr so far (complete once it has stopped).
  std::string output() const;

  void Kill();     // SIGKILL (crash simulation), then reap
  // SIGTERM and wait; returns the exit code (-1 if it died by a signal or
  // had to be killed after a few seconds).
  int Stop();
  // Like Stop(), with another signal (e.g. SIGINT).
  int StopWith(int signal);
  // Stops (if running) and starts again on the same data dir; endpoint() may change.
  bool Restart();
  // POST /v3/auth/tokens as `u` (scoped to its project); the X-Subject-Token.
  std::string Login(const KmsdUser& u);

 private:
  explicit KmsdProcess(Options opts);
  bool Spawn();
  void JoinReaders();

  Options options_;
  std::unique_ptr<TempDir> temp_;  // holds the users file (and the data dir when private)
  std::string data_dir_;
  std::string users_file_;
  std::string startup_output_;
  pid_t pid_ = -1;
  int port_ = 0;
  // Options::capture_output: a thread draining kmsd's output into output_.
  struct Capture;
  std::unique_ptr<Capture> capture_;
};

// Raw HTTP for wire-level tests. status 0 means no HTTP answer (connection
// failed); body then says why.
struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};
// POST `body` as application/json to endpoint+path, with X-Auth-Token when `token` is non-empty.
HttpReply PostJson(const std::string& endpoint, const std::string& path, const std::string& body,
                   const std::string& token);
// Any method, any headers (for wrong-method and token-introspection tests).
HttpReply SendHttp(const std::string& endpoint, const std::string& method, const std::string& path,
                   const std::string& body, const std::map<std::string, std::string>& headers);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_KMSD_PROCESS_H_
