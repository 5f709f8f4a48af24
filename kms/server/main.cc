// kmsd: the local KMS server. See flags.cc (KmsdUsage) and docs/KMSD.md.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/cpu_affinity.h"
#include "base/logging.h"
#include "base/secret_bytes.h"
#include "kms/server/access_keys.h"
#include "kms/server/audit_cli.h"
#include "kms/server/audit_log.h"
#include "kms/server/bootstrap.h"
#include "kms/server/data_dir.h"
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
  if (!args.empty() && args[0] == "audit") {
    ::umask(077);
    return RunAuditCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  auto flags = ParseKmsdFlags(args);
  if (!flags.ok()) return Fail(flags.status().message() + " (see kmsd --help)");
  if (flags->help) {
    std::fputs(KmsdUsage().c_str(), stdout);
    return 0;
  }
  if (flags->version) {
    std::printf("kmsd %s\n", KMSFS_VERSION);
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

  auto data = DataDir::Open(flags->data_dir);
  if (!data.ok()) return Fail(data.status().message());
  auto keyring = RootKeyring::LoadOrCreate(data->File("root.key"));
  if (!keyring.ok()) return Fail(keyring.status().message());
  auto store = Store::Open(data->File("kmsd.db"));
  if (!store.ok()) return Fail(store.status().message());
  auto audit_log = AuditLog::Open(data->fd(), data->File(AuditLog::kFileName));
  if (!audit_log.ok()) return Fail(audit_log.status().message());

  Identity::Options identity_options;
  identity_options.token_ttl_sec = flags->token_ttl_sec;
  Identity identity(store->get(), Clock::Real(), identity_options);
  Service::Options service_options;
  service_options.import_token_ttl_sec = flags->import_token_ttl_sec;
  service_options.realm = flags->region;
  Service service(store->get(), keyring->get(), Clock::Real(), service_options);
  AccessKeys access_keys(store->get(), keyring->get(), Clock::Real());

  std::optional<AdminUser> admin;
  if (!flags->users_file.empty()) {
    auto users = LoadUsersFile(flags->users_file);
    if (!users.ok()) return Fail(users.status().message());
    if (Status st = InstallFileUsers(store->get(), &identity, access_keys, *users); !st.ok()) {
      return Fail(st.ToString());
    }
  } else {
    auto a = EnsureAdminUser(store->get(), &identity, *data);
    if (!a.ok()) return Fail(a.status().ToString());
    admin = *std::move(a);
  }
  if (Status st = EnsureDefaultKeys(store->get(), &service); !st.ok()) return Fail(st.ToString());
  if (Status st = identity.MatchUnknownUserCost(); !st.ok()) return Fail(st.ToString());

  HttpServer::Options http;
  http.host = flags->listen_host;
  http.port = flags->listen_port;
  http.tls_cert = flags->tls_cert;
  http.tls_key = flags->tls_key;
  http.latency_ms = flags->latency_ms;
  http.request_timeout = std::chrono::milliseconds(flags->request_timeout_ms);
  http.max_connections_per_peer = static_cast<size_t>(flags->max_connections_per_peer);
  http.region = flags->region;
  http.audit_log = audit_log->get();
  auto server = HttpServer::New(http, &service, &identity, &access_keys);
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
    // Requests in flight are answered first (a --latency-ms sleep may hold
    // one); committed state is durable in SQLite, so after a short grace
    // period just exit.
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
