// ConnectionConfig: where the KMS is and who we are to it.
//
// Built in layers, each overriding the one before it field by field
// (spec/cli.md "Connection"): the environment (ConfigFromEnvironment), then a
// credentials file (--credentials or KMSFS_CREDENTIALS: ApplyCredentialsFile),
// then command-line flags (ApplyOverrides). It is checked with Validate()
// before HttpClient::New. One rule crosses fields: a layer that gives a
// password or an AK/SK pair but no token drops a token from a layer below it,
// so `--credentials alice.env` is never silently outranked by an admin's
// OS_AUTH_TOKEN left in the environment.
//
// Three ways to authenticate, the first one present wins: a ready token
// (OS_AUTH_TOKEN), AK/SK request signing (HUAWEICLOUD_SDK_AK/SK, parsed and
// kept here; the signer is a separate piece), or IAM password login
// (OS_AUTH_URL + OS_USERNAME + OS_PASSWORD + OS_USER_DOMAIN_NAME), the token
// then being scoped to project_id.
//
// Secrets (the token, the password, the secret key, the security token) are
// kept only in SecretBytes. Plain http:// is accepted only for loopback hosts
// (127.0.0.0/8, ::1, "localhost"): anything else must be https, because the
// token and unwrapped data keys travel in these requests.
//
// The struct is move-only because of its secrets; Clone() makes an explicit copy.
//
// Thread-safety: a value type.
#ifndef KMSFS_KMS_CONNECTION_CONFIG_H_
#define KMSFS_KMS_CONNECTION_CONFIG_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "kms/retry.h"

namespace kmsfs::kms {

struct ConnectionConfig {
  // KMS base URL, e.g. "http://127.0.0.1:8765" or "https://kms.eu-de.otc.t-systems.com".
  std::string endpoint;
  // IAM project id: the {project_id} of every KMS URL and the login scope.
  std::string project_id;
  // A ready IAM token. When set, it is used as is and no login happens.
  SecretBytes token;
  // IAM v3 base, e.g. "http://127.0.0.1:8765/v3"; tokens come from $auth_url/auth/tokens.
  std::string auth_url;
  std::string username;
  SecretBytes password;
  // The user's domain (account) name for password login.
  std::string domain;
  // AK/SK request signing (HUAWEICLOUD_SDK_AK, _SK, _SECURITY_TOKEN).
  std::string access_key;
  SecretBytes secret_key;
  SecretBytes security_token;  // temporary AK/SK only; may be empty
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
  // True when a token is given; false means AK/SK or password login.
  bool uses_static_token() const { return !token.empty(); }
  // True when an AK/SK pair is given (and no token, which would win).
  bool uses_access_key() const { return token.empty() && !access_key.empty() && !secret_key.empty(); }
  // Checks that everything needed is present and well formed. The error is
  // kInvalidArgument and says what is missing and how to provide it, e.g.
  // "no KMS endpoint: set KMSFS_KMS_ENDPOINT or pass --kms-endpoint".
  Status Validate() const;
};

// Variable names read by ConfigFromEnvironment and accepted in credentials files.
inline constexpr char kEnvEndpoint[] = "KMSFS_KMS_ENDPOINT";
inline constexpr char kEnvProjectId[] = "OS_PROJECT_ID";
inline constexpr char kEnvToken[] = "OS_AUTH_TOKEN";
inline constexpr char kEnvAuthUrl[] = "OS_AUTH_URL";
inline constexpr char kEnvUsername[] = "OS_USERNAME";
inline constexpr char kEnvPassword[] = "OS_PASSWORD";
inline constexpr char kEnvDomain[] = "OS_USER_DOMAIN_NAME";
inline constexpr char kEnvAccessKey[] = "HUAWEICLOUD_SDK_AK";
inline constexpr char kEnvSecretKey[] = "HUAWEICLOUD_SDK_SK";
inline constexpr char kEnvSecurityToken[] = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
inline constexpr char kEnvCaFile[] = "KMSFS_CA_FILE";
// Names the credentials file; read by the CLI (the --credentials flag wins).
inline constexpr char kEnvCredentials[] = "KMSFS_CREDENTIALS";

// Reads the variables above through `getenv` (default: ::getenv; tests pass a
// map lookup). Unset or empty variables leave the field empty. Nothing is validated.
using GetEnvFunction = std::function<const char*(const char*)>;
ConnectionConfig ConfigFromEnvironment(const GetEnvFunction& getenv = nullptr);

// Applies a credentials file: `NAME=VALUE` lines naming the variables above
// (all but KMSFS_CREDENTIALS), optionally prefixed by "export ". Blank lines
// and lines starting with '#' are skipped; the value is everything after the
// first '=' up to the end of the line (a trailing "\r" dropped), taken
// literally: no quotes, no escapes. A variable the file gives replaces the
// config's field; an empty value clears it.
//
// The file is opened without following a symbolic link and must be a regular
// file owned by the calling user (the effective uid) that neither group nor
// others may read or write (mode 0600 or stricter); otherwise it is refused
// with a message saying how to fix it. Unknown names, repeated names and lines
// without '=' are refused too, naming the line number, never its content.
// Every failure is kInvalidArgument (for the CLI, an environment error).
// Secret values go from the file straight into secure memory.
Status ApplyCredentialsFile(const std::string& path, ConnectionConfig& config);

// Flag values; each set field replaces the corresponding config field.
struct ConnectionOverrides {
  std::optional<std::string> endpoint;
  std::optional<std::string> project_id;
  SecretBytes token;  // empty: not given
  std::optional<std::string> auth_url;
  std::optional<std::string> username;
  std::optional<std::string> password_file;  // read with ReadPasswordFile
  std::optional<std::string> domain;
  std::optional<std::string> ca_file;
  std::optional<bool> insecure_skip_tls_verify;
  // --region: the region's KMS endpoint, and its IAM endpoint as auth URL,
  // unless `endpoint` / `auth_url` are given too.
  std::optional<std::string> region;
};
// Applies `overrides` to `config`; fails only when the password file cannot be
// read or the region is not a region's name.
Status ApplyOverrides(const ConnectionOverrides& overrides, ConnectionConfig& config);

// Reads a password from the first line of `path` (trailing "\n" or "\r\n"
// stripped) into secure memory. Fails on unreadable or empty files.
StatusOr<SecretBytes> ReadPasswordFile(const std::string& path);

// Copies `text` into secure memory (for secrets that arrive as text).
SecretBytes SecretFromText(std::string_view text);

// The public KMS and IAM endpoints of a cloud region (the --region shortcut):
// Open Telekom Cloud for eu-de and eu-nl ("https://kms.eu-de.otc.t-systems.com",
// "https://iam.eu-de.otc.t-systems.com/v3"), Swiss Open Telekom Cloud for
// eu-ch2 (kms.eu-ch2.sc.otc.t-systems.com), Huawei Cloud for every other
// region ("https://kms.ap-southeast-1.myhuaweicloud.com"). kInvalidArgument
// for a name that is not of a region's form (e.g. eu-de, cn-north-4).
struct RegionEndpoints {
  std::string kms;
  std::string iam;
};
StatusOr<RegionEndpoints> EndpointsForRegion(std::string_view region);

// True when `host` (as in a URL: "127.0.0.1", "[::1]", "localhost") can only
// mean this machine: an IPv4 literal in 127.0.0.0/8, the IPv6 literal ::1 (or
// ::ffff:127.x.y.z), or exactly "localhost" (case-insensitive), which libcurl
// resolves to loopback itself. Any other name is not loopback, whatever it
// resolves to.
bool IsLoopbackHost(std::string_view host);

// Checks that `url` may carry credentials: https, or http to a loopback host
// (by libcurl's own reading of the URL, so both agree on the host). `what`
// names it in the error ("KMS endpoint", "IAM auth URL").
Status CheckUrlTransportIsSafe(std::string_view what, std::string_view url);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_CONNECTION_CONFIG_H_
