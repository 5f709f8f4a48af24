#include "fs/cli/mount_options.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "fs/base/cpu_affinity.h"

namespace kmsfs::cli {
namespace {

enum class Kind { kSwitch, kInteger, kText, kFuseOptions, kCpu };

// One option: `name` is the flag ("--cache-ttl") or, for a knob behind
// --tune, its key ("pool-size").
struct Spec {
  const char* name;
  bool tune;
  Kind kind;
  const char* value;  // what the value is, for --help ("SEC")
  const char* shown_default;
  long long def;
  long long max;
  long long MountOptions::*field;        // kInteger
  std::string MountOptions::*text_field;  // kText
  const char* help;  // one paragraph: what it does and why the default
};

// The single definition of every mount option.
constexpr Spec kSpecs[] = {
    {"-f", false, Kind::kSwitch, "", "off", 0, 0, nullptr, nullptr,
     "serve in the foreground, logging to stderr (otherwise the command returns once the mount answers)"},
    {"-o", false, Kind::kFuseOptions, "OPTS", "", 0, 0, nullptr, nullptr,
     "FUSE mount options: ro, rw, allow_other, default_permissions, ... `allow_other` always comes with "
     "`default_permissions`, so local users get the permissions the files show"},
    {"--cache-ttl", false, Kind::kInteger, "SEC", "300", 300, 31536000, &MountOptions::cache_ttl, nullptr,
     "plaintext DEKs stay in locked memory at most this long after last use; `0` turns the cache off. This is "
     "also the bound on how long a revoked user keeps reading files that are not open"},
    {"--cache-max", false, Kind::kInteger, "N", "16384", 16384, 1048576, &MountOptions::cache_max, nullptr,
     "most DEKs cached at once (LRU beyond that); 64 bytes of locked memory each"},
    {"--shared-storage", false, Kind::kSwitch, "", "off", 0, 0, nullptr, nullptr,
     "attribute, entry and writeback caching off, so another client's changes on shared storage show at once "
     "(costs a round trip per lookup and per write)"},
    {"--log-file", false, Kind::kText, "FILE", "syslog", 0, 0, nullptr, &MountOptions::log_file,
     "where the daemon logs once detached (with `-f`: stderr)"},
    {"--accept-key", false, Kind::kText, "KEY_ID", "", 0, 0, nullptr, &MountOptions::accept_key,
     "the volume was moved to this key on purpose (`kmsfs rewrap` on another machine): replace the key this "
     "user pinned for the backing directory. Without it a volume whose `.kmsfs.json` names another key than the "
     "pinned one is refused"},
    {"pool-size", true, Kind::kInteger, "N", "256", 256, 65536, &MountOptions::pool_size, nullptr,
     "DEKs wrapped ahead of time so creating a file does not wait for the KMS; they age out with "
     "`--cache-ttl` and are replaced, so an idle mount makes about N KMS calls per TTL"},
    {"prefetch", true, Kind::kInteger, "N", "4", 4, 64, &MountOptions::prefetch, nullptr,
     "the first open of a file of a directory listed in the last 30 s also fetches the keys of the other files "
     "listed, with at most N KMS calls in flight; `0` turns it off"},
    {"readahead", true, Kind::kInteger, "N", "32", 32, 1024, &MountOptions::readahead, nullptr,
     "while a listed directory's files are opened for reading in listing order, the first 128 KiB of up to N "
     "files ahead are read from the backing disk in the background; `0` turns it off"},
    {"background-cpu", true, Kind::kCpu, "CPU", "none", 0, 0, nullptr, nullptr,
     "the CPU the daemon's background threads run on: `last` (the highest this process may use), a number, or "
     "`none` (anywhere)"},
};

// Flags of earlier releases, now tuning knobs or gone.
constexpr std::string_view kRetiredFlags[] = {"--pool-size",   "--prefetch", "--readahead", "--background-cpu",
                                              "--unlink-queue", "--ready-files", "--spin-us"};

const Spec* FindTune(std::string_view key) {
  for (const Spec& s : kSpecs) {
    if (s.tune && key == s.name) return &s;
  }
  return nullptr;
}

StatusOr<long long> ParseBounded(std::string_view what, const std::string& text, long long max) {
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || n < 0 || n > max) {
    return Status::InvalidArgument(std::string(what) + " needs a whole number from 0 to " + std::to_string(max) +
                                   ", got '" + text + "'");
  }
  return n;
}

std::string TuneKeys() {
  std::string keys;
  for (const Spec& s : kSpecs) {
    if (!s.tune) continue;
    if (!keys.empty()) keys += ", ";
    keys += s.name;
  }
  return keys;
}

}  // namespace

std::vector<std::string> MountValueFlags() {
  std::vector<std::string> flags = {"--tune"};
  for (const Spec& s : kSpecs) {
    if (!s.tune && s.kind != Kind::kSwitch) flags.emplace_back(s.name);
  }
  for (std::string_view retired : kRetiredFlags) flags.emplace_back(retired);
  return flags;
}

std::vector<std::string> MountSwitches() {
  std::vector<std::string> flags = {"--foreground"};
  for (const Spec& s : kSpecs) {
    if (!s.tune && s.kind == Kind::kSwitch) flags.emplace_back(s.name);
  }
  return flags;
}

StatusOr<MountOptions> ParseMountOptions(const Args& args) {
  for (std::string_view retired : kRetiredFlags) {
    if (args.Has(std::string(retired))) {
      const std::string key(retired.substr(2));
      return Status::InvalidArgument("flag " + std::string(retired) + " is gone: " +
                                     (FindTune(key) ? "use --tune " + key + "=VALUE"
                                                    : std::string("the daemon no longer has that feature")));
    }
  }
  MountOptions o;
  for (const Spec& s : kSpecs) {
    if (s.field != nullptr) o.*s.field = s.def;
  }
  o.foreground = args.Has("-f") || args.Has("--foreground");
  o.shared_storage = args.Has("--shared-storage");
  for (const Spec& s : kSpecs) {
    if (s.text_field != nullptr) o.*s.text_field = args.Get(s.name).value_or("");
  }
  for (const std::string& opt : args.GetAll("-o")) {
    if (opt == "ro") o.explicit_ro = true;
    if (opt == "rw") {
      o.explicit_rw = true;
      continue;
    }
    o.fuse_opts.push_back(opt);
  }
  if (o.explicit_ro && o.explicit_rw) return Status::InvalidArgument("-o ro and -o rw contradict each other");
  for (const Spec& s : kSpecs) {
    if (s.tune || s.kind != Kind::kInteger) continue;
    if (auto text = args.Get(s.name)) {
      KMSFS_ASSIGN_OR_RETURN(o.*s.field, ParseBounded(std::string("flag ") + s.name, *text, s.max));
    }
  }
  for (const std::string& tune : args.GetAll("--tune")) {
    const size_t eq = tune.find('=');
    const Spec* spec = eq == std::string::npos ? nullptr : FindTune(std::string_view(tune).substr(0, eq));
    if (spec == nullptr) {
      return Status::InvalidArgument("--tune wants KEY=VALUE with KEY one of " + TuneKeys() + ", got '" + tune + "'");
    }
    const std::string value = tune.substr(eq + 1);
    const std::string what = "--tune " + std::string(spec->name);
    if (spec->kind == Kind::kCpu) {
      KMSFS_ASSIGN_OR_RETURN(o.background_cpu, ParseCpuChoice(what, value));
    } else {
      KMSFS_ASSIGN_OR_RETURN(o.*spec->field, ParseBounded(what, value, spec->max));
    }
  }
  return o;
}

std::string MountOptionsHelp() {
  std::string out = "Mount options (defaults in brackets):\n";
  auto add = [&](const Spec& s, const std::string& label) {
    std::string line = "  " + label;
    line.resize(std::max<size_t>(line.size() + 1, 26), ' ');
    line += (s.shown_default[0] ? "[" + std::string(s.shown_default) + "] " : "") + std::string(s.help);
    // Wrapped at 100 columns, continuation lines indented under the text.
    std::string wrapped;
    while (line.size() > 100) {
      size_t cut = line.rfind(' ', 100);
      if (cut == std::string::npos || cut <= 26) cut = 100;
      wrapped += line.substr(0, cut) + "\n";
      line = std::string(26, ' ') + line.substr(cut + 1);
    }
    out += wrapped + line + "\n";
  };
  for (const Spec& s : kSpecs) {
    if (!s.tune) add(s, std::string(s.name) + (s.value[0] ? " " + std::string(s.value) : ""));
  }
  out += "  --tune KEY=VALUE        tuning for benchmarks (repeatable); keys:\n";
  for (const Spec& s : kSpecs) {
    if (s.tune) add(s, "    " + std::string(s.name) + "=" + s.value);
  }
  return out;
}

std::string MountOptionsMarkdown() {
  std::string out = "| option | default | what it does |\n|---|---|---|\n";
  for (const Spec& s : kSpecs) {
    std::string label = s.tune ? "--tune " + std::string(s.name) + "=" + s.value
                               : std::string(s.name) + (s.value[0] ? " " + std::string(s.value) : "");
    out += "| `" + label + "` | " + s.shown_default + " | " + s.help + " |\n";
  }
  return out;
}

}  // namespace kmsfs::cli
