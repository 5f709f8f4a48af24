#include "fs/cli/args.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace kmsfs::cli {

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

const std::set<std::string>& ConnectionFlags() {
  // --token is not here: main() takes it out of argv before any command runs (argv_secrets.h).
  static const std::set<std::string> flags = {"--kms-endpoint", "--project-id",    "--auth-url", "--user",
                                              "--password-file", "--domain",       "--ca-file",  "--credentials",
                                              "--region"};
  return flags;
}

StatusOr<Args> Args::Parse(const std::vector<std::string>& tokens, std::set<std::string> value_flags,
                           const std::set<std::string>& switches) {
  Args args;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "--") {
      args.positional_.insert(args.positional_.end(), tokens.begin() + static_cast<long>(i) + 1, tokens.end());
      break;
    }
    if (t.size() < 2 || t[0] != '-') {
      args.positional_.push_back(t);
      continue;
    }
    std::string name = t;
    std::optional<std::string> inline_value;
    if (size_t eq = t.find('='); t.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = t.substr(0, eq);
      inline_value = t.substr(eq + 1);
    }
    if (switches.count(name)) {
      if (inline_value) return Status::InvalidArgument("flag " + name + " takes no value");
      args.values_.emplace(name, "");
      continue;
    }
    if (!value_flags.count(name)) return Status::InvalidArgument("unknown flag " + name);
    if (!inline_value) {
      if (i + 1 >= tokens.size()) return Status::InvalidArgument("flag " + name + " needs a value");
      inline_value = tokens[++i];
    }
    args.values_.emplace(name, *inline_value);
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& flag) const {
  auto range = values_.equal_range(flag);
  if (range.first == range.second) return std::nullopt;
  return std::prev(range.second)->second;  // the last one given wins
}

std::vector<std::string> Args::GetAll(const std::string& flag) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) {
    size_t start = 0;
    const std::string& v = it->second;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      if (comma > start) out.push_back(v.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

StatusOr<long long> Args::GetInt(const std::string& flag, long long fallback) const {
  auto v = Get(flag);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0 || n < 0) {
    return Status::InvalidArgument("flag " + flag + " needs a non-negative whole number, got '" + *v + "'");
  }
  return n;
}

StatusOr<Args> ParseKmsCommandArgs(const std::vector<std::string>& words, const std::set<std::string>& flags,
                                   const std::set<std::string>& switches) {
  std::set<std::string> all = ConnectionFlags();
  all.insert(flags.begin(), flags.end());
  auto args = Args::Parse(words, std::move(all), switches);
  if (!args.ok()) return Status::InvalidArgument(args.status().message() + " (see kmsfs --help)");
  // Files named by connection flags are read later, possibly by a mount
  // daemon that has changed to "/": pin relative names to this directory.
  for (const char* flag : {"--credentials", "--password-file", "--ca-file"}) {
    auto range = args->values_.equal_range(flag);
    for (auto it = range.first; it != range.second; ++it) it->second = AbsolutePath(it->second);
  }
  return args;
}

}  // namespace kmsfs::cli
