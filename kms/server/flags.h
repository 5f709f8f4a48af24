// kmsd's command line (spec/cli.md "kmsd"), parsed into KmsdFlags.
//
// Flags take their value as the next argument or after '='. Errors are one
// line saying which flag is wrong and why; main() prints them and exits 2.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_FLAGS_H_
#define KMSFS_KMS_SERVER_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace kmsfs::kms::server {

struct KmsdFlags {
  std::string listen_host;   // from --listen HOST:PORT (IPv6 as [::1]:PORT)
  int listen_port = -1;      // 0 picks a free port
  std::string data_dir;      // --data DIR
  std::string users_file;    // --users FILE; empty: built-in admin user
  int latency_ms = 0;        // --latency-ms N, added to every KMS action
  std::string tls_cert;      // --tls-cert F (with --tls-key)
  std::string tls_key;       // --tls-key F
  int64_t token_ttl_sec = 86400;         // --token-ttl SEC
  int64_t import_token_ttl_sec = 86400;  // --import-token-ttl SEC
  std::optional<int> cpu;    // --cpu last|none|N (default last): where every kmsd thread runs
  int request_timeout_ms = 10000;          // --request-timeout-ms N: a request's first to last byte
  int max_connections_per_peer = 1024;     // --max-connections-per-peer N
  std::string region = "local";            // --region NAME: of new keys and token catalogs
  bool help = false;         // --help / -h
  bool version = false;      // --version
};

// `args` excludes argv[0].
StatusOr<KmsdFlags> ParseKmsdFlags(const std::vector<std::string>& args);
std::string KmsdUsage();

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_FLAGS_H_
