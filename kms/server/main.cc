// kmsd: the local KMS server. See flags.cc (KmsdUsage) and docs/KMSD.md.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fs/base/cpu_affinity.h"
#include "fs/base/logging.h"
#include "fs/base/secret_bytes.h"
#include "kms/server/bootstrap.h"
#include "kms/server/flags.h"
#include "kms/server/http_server.h"
#include "kms/server/identity.h"
#include "kms/server/root_key.h"
#include "kms/server/service.h"
#include "kms/server/store.h"
#include "kms/server/users_file.h"

namespace kmsfs::kms::server {
namespace {

constexpr int kExitUsage = 2;

int Fail(const std::string& message) {
  std::fprintf(stderr, "kmsd: %s\n", message.c_str());
  return kExitUsage;
}

Status MakeDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create data directory " + dir + ": " + ec.message());
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Unavailable("data directory " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::Unavailable("data directory " + dir + " is not writable");
  }
  return Status::Ok();
}

// Each client connection is a descriptor: lift the soft limit (often 1024)
// to the hard one so a burst of connections is queued, not refused.
void RaiseOpenFileLimit() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto flags = ParseKmsdFlags(args);
  if (!flags.ok()) return Fail(flags.status().message() + " (see kmsd --help)");
  if (flags->help) {
    std::fputs(KmsdUsage().c_str(), stdout);
    return 0;
  }

  // Before any thread starts, so that all of them inherit it (cpu_affinity.h).
  if (flags->cpu) {
    if (Status st = PinThisThreadTo(*flags->cpu); !st.ok()) return Fail(st.message());
  }
  // Files kmsd creates (database, WAL, tokens) are private to its user.
  ::umask(077);
  ::signal(SIGPIPE, SIG_IGN);
  HardenProcessAgainstCoreDumps();
  RaiseOpenFileLimit();
  // SIGTERM/SIGINT are taken by a dedicated thread; block them everywhere else.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string& data = flags->data_dir;
  if (Status st = MakeDataDir(data); !st.ok()) return Fail(st.message());
  auto keyring = RootKeyring::LoadOrCreate(data + "/root.key");
  if (!keyring.ok()) return Fail(keyring.status().message());
  auto store = Store::Open(data + "/kmsd.db");
  if (!store.ok()) return Fail(store.status().message());

  Identity identity(store->get(), WallClock::Real(), flags->token_ttl_sec);
  Service::Options service_options;
  service_options.import_token_ttl_sec = flags->import_token_ttl_sec;
  Service service(store->get(), keyring->get(), WallClock::Real(), service_options);

  std::optional<AdminUser> admin;
  if (!flags->users_file.empty()) {
    auto users = LoadUsersFile(flags->users_file);
    if (!users.ok()) return Fail(users.status().message());
    if (Status st = InstallFileUsers(store->get(), *users); !st.ok()) return Fail(st.ToString());
  } else {
    auto a = EnsureAdminUser(store->get(), &identity, data);
    if (!a.ok()) return Fail(a.status().ToString());
    admin = *std::move(a);
  }
  if (Status st = EnsureDefaultKeys(store->get(), &service); !st.ok()) return Fail(st.ToString());

  HttpServer::Options http;
  http.host = flags->listen_host;
  http.port = flags->listen_port;
  http.tls_cert = flags->tls_cert;
  http.tls_key = flags->tls_key;
  http.latency_ms = flags->latency_ms;
  auto server = HttpServer::New(http, &service, &identity);
  if (!server.ok()) return Fail(server.status().message());

  if (admin) {
    std::printf("admin user: name=admin id=%s domain=admin domain_id=%s\n", admin->user.id.c_str(),
                admin->user.domain_id.c_str());
    std::printf("admin password file: %s%s\n", admin->password_path.c_str(),
                admin->created ? "" : " (written when the user was created)");
    std::printf("admin token file: %s (valid %lld s)\n", admin->token_path.c_str(),
                static_cast<long long>(flags->token_ttl_sec));
    std::printf("project id: %s\n", admin->user.project_id.c_str());
  }
  const bool ipv6 = flags->listen_host.find(':') != std::string::npos;
  std::printf("listening on %s%s%s:%d\n", ipv6 ? "[" : "", flags->listen_host.c_str(), ipv6 ? "]" : "",
              (*server)->port());
  std::fflush(stdout);

  HttpServer* srv = server->get();
  std::atomic<bool> signalled{false};
  std::thread signal_thread([srv, &stop_signals, &signalled] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    signalled = true;
    // Idle keep-alive connections may hold the server for seconds; committed
    // state is durable in SQLite, so after a short grace period just exit.
    if (!srv->Stop(std::chrono::milliseconds(1500))) {
      KMSFS_LOG(kInfo) << "stopping with client connections still open";
      std::fflush(nullptr);
      ::_exit(0);
    }
  });
  Status run = (*server)->Run();
  // The thread only ends after setting `signalled`, so it is alive to be woken.
  if (!signalled) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!run.ok()) return Fail(run.message());
  return 0;
}

}  // namespace
}  // namespace kmsfs::kms::server

int main(int argc, char** argv) { return kmsfs::kms::server::Main(argc, argv); }
