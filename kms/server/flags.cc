#include "kms/server/flags.h"

#include "base/cpu_affinity.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr int64_t kMaxTtlSec = 10LL * 365 * 86400;

Status Bad(const std::string& msg) { return Status::InvalidArgument(msg); }

StatusOr<int64_t> ParseRange(const std::string& flag, const std::string& value, int64_t lo, int64_t hi) {
  auto v = ParseDecimal(value);
  if (!v || *v < lo || *v > hi) {
    return Bad(flag + ": expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
               ", got '" + value + "'");
  }
  return *v;
}

Status ParseListen(const std::string& value, KmsdFlags* f) {
  std::string host;
  std::string port;
  if (!value.empty() && value[0] == '[') {
    size_t close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return Bad("--listen: expected HOST:PORT (IPv6 as [ADDR]:PORT), got '" + value + "'");
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    size_t colon = value.rfind(':');
    if (colon == std::string::npos || value.find(':') != colon) {
      return Bad("--listen: expected HOST:PORT, e.g. 127.0.0.1:8765, got '" + value + "'");
    }
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (host.empty()) return Bad("--listen: missing host in '" + value + "' (use 127.0.0.1:PORT)");
  KMSFS_ASSIGN_OR_RETURN(int64_t p, ParseRange("--listen port", port, 0, 65535));
  f->listen_host = host;
  f->listen_port = static_cast<int>(p);
  return Status::Ok();
}

}  // namespace

std::string KmsdUsage() {
  return R"(Usage: kmsd --listen HOST:PORT --data DIR [options]

kmsd is a local KMS server speaking the Huawei Cloud / Open Telekom Cloud KMS
v1.0 API (POST /v1.0/{project_id}/kms/<action>) and the IAM token endpoint
(POST /v3/auth/tokens), with its state in DIR.

Required:
  --listen HOST:PORT        address to serve on; port 0 picks a free port.
                            Prints "listening on HOST:PORT" once ready.
  --data DIR                state directory (created if missing): kmsd.db,
                            root.key (0600), admin.token, admin.password

Options:
  --users FILE              JSON list of users that may log in:
                            [{"name","password","id","project_id","domain"}]
                            (optional "domain_id"). Without it kmsd creates
                            one user "admin" and writes DIR/admin.token.
  --latency-ms N            sleep N ms in every KMS action (default 0)
  --tls-cert FILE           serve HTTPS with this PEM certificate ...
  --tls-key FILE            ... and this PEM private key (both or neither)
  --token-ttl SEC           lifetime of IAM tokens (default 86400)
  --import-token-ttl SEC    lifetime of import tokens from
                            get-parameters-for-import (default 86400)
  --cpu last|none|N         the CPU all kmsd threads run on (default last:
                            the highest this process may use, where kmsfs
                            mounts keep their background threads, so a
                            mount's KMS calls stay on one CPU); none: any
  --request-timeout-ms N    a request must arrive whole within N ms of its
                            first byte, else 408 (default 10000)
  --max-connections-per-peer N
                            open connections from one address; more are
                            answered 429 (default 1024)
  --region NAME             the region kmsd stands for: the realm of new keys
                            and the region of the endpoints in tokens'
                            service catalogs (default local), e.g. eu-de
  --version                 print the version
  -h, --help                print this help

SIGTERM or SIGINT stops kmsd cleanly (exit 0). Exit 2: bad flags or an
unusable data directory, users file, root key or listen address.

Every KMS call is recorded in DIR/audit.log (JSON lines, hash-chained):
  kmsd audit verify --data DIR
                            check the chain: exit 0 intact, 1 broken (the
                            first broken line is named), 2 bad arguments
  kmsd audit show --data DIR --key KEY_ID
                            who used the key: time, user, action, result
)";
}

StatusOr<KmsdFlags> ParseKmsdFlags(const std::vector<std::string>& args) {
  KmsdFlags f;
  bool have_listen = false;
  std::string cpu = "last";
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      f.help = true;
      return f;
    }
    if (arg == "--version") {
      f.version = true;
      return f;
    }
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    static const char* const kValued[] = {"--listen",   "--data",    "--users",     "--latency-ms",
                                          "--tls-cert", "--tls-key", "--token-ttl", "--import-token-ttl",
                                          "--cpu",    "--request-timeout-ms", "--max-connections-per-peer", "--region"};
    bool known = false;
    for (const char* k : kValued) known = known || arg == k;
    if (!known) return Bad("unknown argument '" + args[i] + "'");
    if (!has_inline_value) {
      if (i + 1 >= args.size()) return Bad(arg + " needs a value");
      value = args[++i];
    }
    if (arg == "--listen") {
      KMSFS_RETURN_IF_ERROR(ParseListen(value, &f));
      have_listen = true;
    } else if (arg == "--data") {
      if (value.empty()) return Bad("--data needs a directory");
      f.data_dir = value;
    } else if (arg == "--users") {
      if (value.empty()) return Bad("--users needs a file");
      f.users_file = value;
    } else if (arg == "--latency-ms") {
      KMSFS_ASSIGN_OR_RETURN(int64_t v, ParseRange(arg, value, 0, 600000));
      f.latency_ms = static_cast<int>(v);
    } else if (arg == "--tls-cert") {
      f.tls_cert = value;
    } else if (arg == "--tls-key") {
      f.tls_key = value;
    } else if (arg == "--token-ttl") {
      KMSFS_ASSIGN_OR_RETURN(f.token_ttl_sec, ParseRange(arg, value, 1, kMaxTtlSec));
    } else if (arg == "--import-token-ttl") {
      KMSFS_ASSIGN_OR_RETURN(f.import_token_ttl_sec, ParseRange(arg, value, 1, kMaxTtlSec));
    } else if (arg == "--cpu") {
      cpu = value;
    } else if (arg == "--request-timeout-ms") {
      KMSFS_ASSIGN_OR_RETURN(int64_t v, ParseRange(arg, value, 100, 600000));
      f.request_timeout_ms = static_cast<int>(v);
    } else if (arg == "--region") {
      if (!IsSimpleName(value)) return Bad("--region: expected a name of letters, digits, '-' and '_', e.g. eu-de");
      f.region = value;
    } else if (arg == "--max-connections-per-peer") {
      KMSFS_ASSIGN_OR_RETURN(int64_t v, ParseRange(arg, value, 1, 1000000));
      f.max_connections_per_peer = static_cast<int>(v);
    }
  }
  if (!have_listen) return Bad("--listen HOST:PORT is required");
  if (f.data_dir.empty()) return Bad("--data DIR is required");
  if (f.tls_cert.empty() != f.tls_key.empty()) return Bad("--tls-cert and --tls-key must be given together");
  KMSFS_ASSIGN_OR_RETURN(f.cpu, ParseCpuChoice("--cpu", cpu));
  return f;
}

}  // namespace kmsfs::kms::server
