#include "fs/cli/mount_options.h"

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "base/cpu_affinity.h"

namespace kmsfs::cli {
namespace {

enum class Kind { kSwitch, kInteger, kText, kFuseOptions, kCpu };

// One option: `name` is the flag ("--cache-ttl") or, for a knob behind
// --tune, its key ("pool-size"); `o_name` its name in `-o` when kmsfs runs as
// mount.fuse3's helper (mount -t fuse.kmsfs, fstab), or null when it has none.
struct Spec {
  const char* name;
  const char* o_name;
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
    {"-f", nullptr, false, Kind::kSwitch, "", "off", 0, 0, nullptr, nullptr,
     "serve in the foreground, logging to stderr (otherwise the command returns once the mount answers)"},
    {"-o", nullptr, false, Kind::kFuseOptions, "OPTS", "", 0, 0, nullptr, nullptr,
     "FUSE mount options: ro, rw, allow_other, default_permissions, ... `allow_other` always comes with "
     "`default_permissions`, so local users get the permissions the files show"},
    {"--cache-ttl", "cache-ttl", false, Kind::kInteger, "SEC", "300", 300, 31536000, &MountOptions::cache_ttl, nullptr,
     "plaintext DEKs stay in locked memory at most this long after last use; `0` turns the cache off. This is "
     "also the bound on how long a revoked user keeps reading files that are not open"},
    {"--cache-max", "cache-max", false, Kind::kInteger, "N", "16384", 16384, 1048576, &MountOptions::cache_max, nullptr,
     "most DEKs cached at once (LRU beyond that); 64 bytes of locked memory each"},
    {"--shared-storage", "shared-storage", false, Kind::kSwitch, "", "off", 0, 0, nullptr, nullptr,
     "attribute, entry and writeback caching off, so another client's changes on shared storage show at once "
     "(costs a round trip per lookup and per write)"},
    {"--log-file", "log-file", false, Kind::kText, "FILE", "syslog", 0, 0, nullptr, &MountOptions::log_file,
     "where the daemon logs once detached (with `-f`: stderr)"},
    {"--accept-key", "accept-key", false, Kind::kText, "KEY_ID", "", 0, 0, nullptr, &MountOptions::accept_key,
     "the volume was moved to this key on purpose (`kmsfs rewrap` on another machine): replace the key this "
     "user pinned for the backing directory. Without it a volume whose `.kmsfs.json` names another key than the "
     "pinned one is refused"},
    {"pool-size", "tune.pool-size", true, Kind::kInteger, "N", "256", 256, 65536, &MountOptions::pool_size, nullptr,
     "DEKs wrapped ahead of time so creating a file does not wait for the KMS; they age out with "
     "`--cache-ttl` and are replaced, so an idle mount makes about N KMS calls per TTL"},
    {"prefetch", "tune.prefetch", true, Kind::kInteger, "N", "4", 4, 64, &MountOptions::prefetch, nullptr,
     "the first open of a file of a directory listed in the last 30 s also fetches the keys of the other files "
     "listed, with at most N KMS calls in flight; `0` turns it off"},
    {"readahead", "tune.readahead", true, Kind::kInteger, "N", "32", 32, 1024, &MountOptions::readahead, nullptr,
     "while a listed directory's files are opened for reading in listing order, the first 128 KiB of up to N "
     "files ahead are read from the backing disk in the background; `0` turns it off"},
    {"background-cpu", "tune.background-cpu", true, Kind::kCpu, "CPU", "none", 0, 0, nullptr, nullptr,
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
  std::string out = "| option | in `-o` (fstab) | default | what it does |\n|---|---|---|---|\n";
  for (const Spec& s : kSpecs) {
    std::string label = s.tune ? "--tune " + std::string(s.name) + "=" + s.value
                               : std::string(s.name) + (s.value[0] ? " " + std::string(s.value) : "");
    std::string o_label;
    if (s.o_name != nullptr) o_label = "`" + std::string(s.o_name) + (s.kind == Kind::kSwitch ? "" : "=" + std::string(s.value)) + "`";
    out += "| `" + label + "` | " + o_label + " | " + s.shown_default + " | " + s.help + " |\n";
  }
  return out;
}

namespace {

// What mount(8) and mount.fuse3 put into -o for their own use, which is not
// the mount's business: mount(8) already acted on them (nofail, _netdev,
// noauto, user...), or mount.fuse3 adds them unasked (dev, suid: a kmsfs
// mount stays nodev,nosuid), or they are mount(8)'s default (rw: a volume
// the user may only read then mounts read-only instead of being refused).
bool IsMountCommandOption(std::string_view opt) {
  for (std::string_view o : {"_netdev", "nofail", "auto", "noauto", "user", "nouser", "users", "owner", "group",
                             "defaults", "dev", "suid", "rw"}) {
    if (opt == o) return true;
  }
  return opt.starts_with("x-") || opt.starts_with("comment=");
}

}  // namespace

bool IsMountHelperCall(const std::vector<std::string>& words) {
  return words.size() >= 2 && words[0].find('/') != std::string::npos && !words[0].starts_with("-");
}

StatusOr<std::vector<std::string>> MountHelperWords(const std::vector<std::string>& words) {
  if (!IsMountHelperCall(words)) {
    return Status::InvalidArgument("a mount helper call is BACKING_DIR MOUNTPOINT [-o OPTIONS]");
  }
  std::vector<std::string> out = {words[0], words[1]};
  std::vector<std::string> opts;
  for (size_t i = 2; i < words.size(); ++i) {
    if (words[i] == "-o" && i + 1 < words.size()) {
      opts.push_back(words[++i]);
    } else if (words[i].starts_with("-o") && words[i].size() > 2) {
      opts.push_back(words[i].substr(2));
    } else if (words[i] == "-n" || words[i] == "-s" || words[i] == "-v") {
      continue;  // mount(8)'s no-mtab, sloppy and verbose: nothing to do here
    } else {
      return Status::InvalidArgument("mount helper call: unexpected argument '" + words[i] +
                                     "' (expected BACKING_DIR MOUNTPOINT -o OPTIONS)");
    }
  }
  for (const std::string& list : opts) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      const std::string opt = list.substr(start, comma - start);
      start = comma + 1;
      if (opt.empty() || IsMountCommandOption(opt)) continue;
      const size_t eq = opt.find('=');
      const std::string key = opt.substr(0, eq);
      const std::optional<std::string> value =
          eq == std::string::npos ? std::nullopt : std::optional<std::string>(opt.substr(eq + 1));
      if (key == "credentials") {
        if (!value || value->empty()) return Status::InvalidArgument("-o credentials needs a file: credentials=FILE");
        out.insert(out.end(), {"--credentials", *value});
        continue;
      }
      const Spec* spec = nullptr;
      for (const Spec& s : kSpecs) {
        if (s.o_name != nullptr && key == s.o_name) spec = &s;
      }
      if (spec == nullptr) {
        out.insert(out.end(), {"-o", opt});  // FUSE's own (ro, allow_other, noatime, ...)
        continue;
      }
      if (spec->kind == Kind::kSwitch) {
        if (value) return Status::InvalidArgument("-o " + key + " takes no value");
        out.emplace_back(spec->name);
        continue;
      }
      if (!value || value->empty()) {
        return Status::InvalidArgument("-o " + key + " needs a value: " + key + "=" + spec->value);
      }
      if (spec->tune) {
        out.insert(out.end(), {"--tune", std::string(spec->name) + "=" + *value});
      } else {
        out.insert(out.end(), {spec->name, *value});
      }
    }
  }
  return out;
}

}  // namespace kmsfs::cli
