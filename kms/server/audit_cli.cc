#include "kms/server/audit_cli.h"

#include <sys/stat.h>

#include <cstdio>

#include "kms/server/audit_log.h"
#include "kms/server/data_dir.h"

namespace kmsfs::kms::server {
namespace {

constexpr int kExitBroken = 1;
constexpr int kExitUsage = 2;

int Usage(const std::string& why) {
  std::fprintf(stderr, "kmsd: %s (see kmsd --help)\n", why.c_str());
  return kExitUsage;
}

std::string Text(const Json& entry, const char* name) {
  auto it = entry.find(name);
  if (it == entry.end() || !it->is_string()) return "";
  const auto& s = it->get_ref<const Json::string_t&>();
  return std::string(s.data(), s.size());
}

}  // namespace

std::string AuditUsage() {
  return "       kmsd audit verify --data DIR\n"
         "       kmsd audit show --data DIR --key KEY_ID\n";
}

int RunAuditCommand(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "verify" && args[0] != "show")) {
    return Usage("audit needs a command: verify or show");
  }
  const bool show = args[0] == "show";
  std::string dir, key;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--data" || (show && a == "--key")) && i + 1 < args.size()) {
      (a == "--data" ? dir : key) = args[++i];
    } else {
      return Usage("audit " + args[0] + ": unexpected argument " + a);
    }
  }
  if (dir.empty()) return Usage("audit " + args[0] + " needs --data DIR");
  if (show && key.empty()) return Usage("audit show needs --key KEY_ID");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Usage("data directory " + dir + " does not exist");
  auto data = DataDir::Open(dir);  // the checks kmsd makes before trusting the directory
  if (!data.ok()) return Usage(data.status().message());

  const std::string path = data->File(AuditLog::kFileName);
  auto read = ReadAuditLog(path, [&](size_t, const Json& e) {
    if (!show || Text(e, "key_id") != key) return;
    std::printf("%s user=%s (%s) domain=%s action=%s result=%s\n", Text(e, "time").c_str(),
                Text(e, "user_name").c_str(), Text(e, "user_id").c_str(), Text(e, "domain_id").c_str(),
                Text(e, "action").c_str(), Text(e, "result").c_str());
  });
  std::fflush(stdout);
  if (!read.ok()) {
    std::fprintf(stderr, "kmsd: audit log %s is broken at %s\n", path.c_str(), read.status().message().c_str());
    return kExitBroken;
  }
  if (read->torn_tail) {
    std::fprintf(stderr,
                 "kmsd: audit log %s ends in a line kmsd never finished writing (it was stopped inside a write; "
                 "that call was not answered); kmsd cuts it off at its next start\n",
                 path.c_str());
  }
  if (!show) {
    std::printf("audit log %s: %llu entries, chain intact, head %s\n", path.c_str(),
                static_cast<unsigned long long>(read->entries), read->head.c_str());
  }
  return 0;
}

}  // namespace kmsfs::kms::server
