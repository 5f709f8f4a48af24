#include "kms/connection_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "fs/base/unique_fd.h"

namespace kmsfs::kms {
namespace {

constexpr size_t kMaxPasswordFileSize = 64 * 1024;

bool IsHttpUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.substr(0, scheme.size()) == scheme) {
      std::string_view rest = url.substr(scheme.size());
      return !rest.empty() && rest.front() != '/' && rest.find_first_of(" \t\r\n") == std::string_view::npos;
    }
  }
  return false;
}

bool IsUrlSafeId(std::string_view id) {
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string JoinMissing(const std::vector<std::string>& missing) {
  std::string out;
  for (size_t i = 0; i < missing.size(); ++i) {
    if (i > 0) out += (i + 1 == missing.size()) ? " and " : ", ";
    out += missing[i];
  }
  return out;
}

}  // namespace

ConnectionConfig ConnectionConfig::Clone() const {
  ConnectionConfig c;
  c.endpoint = endpoint;
  c.project_id = project_id;
  c.token = token;
  c.auth_url = auth_url;
  c.username = username;
  c.password = password.Clone();
  c.domain = domain;
  c.ca_file = ca_file;
  c.insecure_skip_tls_verify = insecure_skip_tls_verify;
  c.connect_timeout = connect_timeout;
  c.request_timeout = request_timeout;
  c.retry = retry;
  return c;
}

Status ConnectionConfig::Validate() const {
  if (endpoint.empty()) {
    return Status::InvalidArgument("no KMS endpoint: set KMSFS_KMS_ENDPOINT or pass --kms-endpoint");
  }
  if (!IsHttpUrl(endpoint)) {
    return Status::InvalidArgument("KMS endpoint \"" + endpoint +
                                   "\" is not an http:// or https:// URL (e.g. http://127.0.0.1:8765)");
  }
  if (project_id.empty()) {
    return Status::InvalidArgument("no KMS project id: set OS_PROJECT_ID or pass --project-id");
  }
  if (!IsUrlSafeId(project_id)) {
    return Status::InvalidArgument("project id \"" + project_id +
                                   "\" may only contain letters, digits, '-' and '_'");
  }
  if (token.empty()) {
    std::vector<std::string> missing;
    if (auth_url.empty()) missing.push_back("OS_AUTH_URL (--auth-url)");
    if (username.empty()) missing.push_back("OS_USERNAME (--user)");
    if (password.empty()) missing.push_back("OS_PASSWORD (--password-file)");
    if (domain.empty()) missing.push_back("OS_USER_DOMAIN_NAME (--domain)");
    if (missing.size() == 4) {
      return Status::InvalidArgument(
          "no KMS credentials: set OS_AUTH_TOKEN or pass --token, or give OS_AUTH_URL, OS_USERNAME, "
          "OS_PASSWORD and OS_USER_DOMAIN_NAME (--auth-url, --user, --password-file, --domain) for password login");
    }
    if (!missing.empty()) {
      return Status::InvalidArgument("incomplete password login: set " + JoinMissing(missing) +
                                     ", or use a token (OS_AUTH_TOKEN or --token)");
    }
  }
  if (!auth_url.empty() && !IsHttpUrl(auth_url)) {
    return Status::InvalidArgument("IAM auth URL \"" + auth_url +
                                   "\" is not an http:// or https:// URL (e.g. http://127.0.0.1:8765/v3)");
  }
  if (!ca_file.empty() && ::access(ca_file.c_str(), R_OK) != 0) {
    return Status::InvalidArgument("CA file \"" + ca_file + "\" (KMSFS_CA_FILE) cannot be read: " +
                                   std::strerror(errno));
  }
  if (connect_timeout.count() <= 0 || request_timeout.count() <= 0) {
    return Status::InvalidArgument("KMS timeouts must be positive");
  }
  if (retry.max_attempts < 1) return Status::InvalidArgument("KMS retry attempts must be at least 1");
  return Status::Ok();
}

ConnectionConfig ConfigFromEnvironment(const GetEnvFunction& getenv) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  ConnectionConfig c;
  c.endpoint = get(kEnvEndpoint);
  c.project_id = get(kEnvProjectId);
  c.token = get(kEnvToken);
  c.auth_url = get(kEnvAuthUrl);
  c.username = get(kEnvUsername);
  c.domain = get(kEnvDomain);
  c.ca_file = get(kEnvCaFile);
  const char* pw = getenv ? getenv(kEnvPassword) : std::getenv(kEnvPassword);
  if (pw != nullptr && pw[0] != '\0') {
    c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(pw), std::strlen(pw)});
  }
  return c;
}

Status ApplyOverrides(const ConnectionOverrides& o, ConnectionConfig& c) {
  if (o.endpoint) c.endpoint = *o.endpoint;
  if (o.project_id) c.project_id = *o.project_id;
  if (o.token) c.token = *o.token;
  if (o.auth_url) c.auth_url = *o.auth_url;
  if (o.username) c.username = *o.username;
  if (o.domain) c.domain = *o.domain;
  if (o.ca_file) c.ca_file = *o.ca_file;
  if (o.insecure_skip_tls_verify) c.insecure_skip_tls_verify = *o.insecure_skip_tls_verify;
  if (o.password_file) {
    KMSFS_ASSIGN_OR_RETURN(c.password, ReadPasswordFile(*o.password_file));
  }
  return Status::Ok();
}

StatusOr<SecretBytes> ReadPasswordFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open password file " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat password file " + path);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
    return Status::InvalidArgument("password file " + path + " is not a regular file");
  }
  // Read at most kMaxPasswordFileSize bytes straight into secure memory.
  SecretBytes buf(kMaxPasswordFileSize);
  size_t used = 0;
  while (used < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read password file " + path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (std::memchr(buf.data(), '\n', used) != nullptr) break;
  }
  size_t len = used;
  if (const void* nl = std::memchr(buf.data(), '\n', used); nl != nullptr) {
    len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - buf.data());
  }
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  if (len == 0) return Status::InvalidArgument("password file " + path + " is empty (the first line is the password)");
  return SecretBytes::CopyFrom({buf.data(), len});
}

}  // namespace kmsfs::kms
