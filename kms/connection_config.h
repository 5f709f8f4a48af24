// ConnectionConfig: where the KMS is and who we are to it.
//
// Filled from the environment (spec/cli.md "Connection"), then overridden
// field by field by command-line flags (the CLI assigns the fields it parsed,
// or calls ApplyOverrides), then checked with Validate() before
// HttpClient::New. Two ways to authenticate: a ready token (OS_AUTH_TOKEN),
// or IAM password login (OS_AUTH_URL + OS_USERNAME + OS_PASSWORD +
// OS_USER_DOMAIN_NAME), the token then being scoped to project_id.
//
// The password is kept in SecretBytes; the token is a bearer credential and
// is never logged or put into messages. The struct is move-only because of
// the password; Clone() makes an explicit copy.
//
// Thread-safety: a value type.
#ifndef KMSFS_KMS_CONNECTION_CONFIG_H_
#define KMSFS_KMS_CONNECTION_CONFIG_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"
#include "kms/retry.h"

namespace kmsfs::kms {

struct ConnectionConfig {
  // KMS base URL, e.g. "http://127.0.0.1:8765" or "https://kms.eu-de.otc.t-systems.com".
  std::string endpoint;
  // IAM project id: the {project_id} of every KMS URL and the login scope.
  std::string project_id;
  // A ready IAM token. When set, it is used as is and no login happens.
  std::string token;
  // IAM v3 base, e.g. "http://127.0.0.1:8765/v3"; tokens come from $auth_url/auth/tokens.
  std::string auth_url;
  std::string username;
  SecretBytes password;
  // The user's domain (account) name for password login.
  std::string domain;
  // PEM file with the CA certificates to trust for https; empty: the system store.
  std::string ca_file;
  // Turns off certificate and host name checks. For experiments only.
  bool insecure_skip_tls_verify = false;
  // Default: 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Whole request, connect included. Default: 30 s.
  std::chrono::milliseconds request_timeout{30000};
  RetryPolicy retry;

  ConnectionConfig() = default;
  ConnectionConfig(ConnectionConfig&&) = default;
  ConnectionConfig& operator=(ConnectionConfig&&) = default;

  ConnectionConfig Clone() const;
  // True when a token is given; false means password login.
  bool uses_static_token() const { return !token.empty(); }
  // Checks that everything needed is present and well formed. The error is
  // kInvalidArgument and says what is missing and how to provide it, e.g.
  // "no KMS endpoint: set KMSFS_KMS_ENDPOINT or pass --kms-endpoint".
  Status Validate() const;
};

// Variable names read by ConfigFromEnvironment.
inline constexpr char kEnvEndpoint[] = "KMSFS_KMS_ENDPOINT";
inline constexpr char kEnvProjectId[] = "OS_PROJECT_ID";
inline constexpr char kEnvToken[] = "OS_AUTH_TOKEN";
inline constexpr char kEnvAuthUrl[] = "OS_AUTH_URL";
inline constexpr char kEnvUsername[] = "OS_USERNAME";
inline constexpr char kEnvPassword[] = "OS_PASSWORD";
inline constexpr char kEnvDomain[] = "OS_USER_DOMAIN_NAME";
inline constexpr char kEnvCaFile[] = "KMSFS_CA_FILE";

// Reads the variables above through `getenv` (default: ::getenv; tests pass a
// map lookup). Unset or empty variables leave the field empty. Nothing is validated.
using GetEnvFunction = std::function<const char*(const char*)>;
ConnectionConfig ConfigFromEnvironment(const GetEnvFunction& getenv = nullptr);

// Flag values; each set field replaces the corresponding config field.
struct ConnectionOverrides {
  std::optional<std::string> endpoint;
  std::optional<std::string> project_id;
  std::optional<std::string> token;
  std::optional<std::string> auth_url;
  std::optional<std::string> username;
  std::optional<std::string> password_file;  // read with ReadPasswordFile
  std::optional<std::string> domain;
  std::optional<std::string> ca_file;
  std::optional<bool> insecure_skip_tls_verify;
};
// Applies `overrides` to `config`; fails only when the password file cannot be read.
Status ApplyOverrides(const ConnectionOverrides& overrides, ConnectionConfig& config);

// Reads a password from the first line of `path` (trailing "\n" or "\r\n"
// stripped) into secure memory. Fails on unreadable or empty files.
StatusOr<SecretBytes> ReadPasswordFile(const std::string& path);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_CONNECTION_CONFIG_H_
