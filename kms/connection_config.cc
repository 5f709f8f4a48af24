#include "kms/connection_config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace kmsfs::kms {
namespace {

constexpr size_t kMaxPasswordFileSize = 64 * 1024;
constexpr size_t kMaxCredentialsFileSize = 64 * 1024;

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

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// The scheme and host of `url` as libcurl (which will connect) reads them.
bool CurlSchemeAndHost(std::string_view url, std::string& scheme, std::string& host) {
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) return false;
  const std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) return false;
  char* raw = nullptr;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) return false;
  CurlString s(raw);
  raw = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK) return false;
  CurlString h(raw);
  scheme = s.get();
  host = h.get();
  return true;
}

}  // namespace

SecretBytes SecretFromText(std::string_view text) {
  return SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() == 9 && ::strncasecmp(host.data(), "localhost", 9) == 0) return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string literal(host.substr(1, host.size() - 2));
    in6_addr a6{};
    if (::inet_pton(AF_INET6, literal.c_str(), &a6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  const std::string literal(host);
  in_addr a4{};
  // inet_pton takes only the strict dotted quad: forms such as "127.1" or
  // "0x7f.1" are not taken for loopback (libcurl normalises them anyway).
  if (::inet_pton(AF_INET, literal.c_str(), &a4) != 1) return false;
  return (ntohl(a4.s_addr) >> 24) == 127;
}

Status CheckUrlTransportIsSafe(std::string_view what, std::string_view url) {
  std::string scheme, host;
  if (!CurlSchemeAndHost(url, scheme, host)) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(url) + "\" is not a valid URL");
  }
  if (::strcasecmp(scheme.c_str(), "https") == 0) return Status::Ok();
  if (::strcasecmp(scheme.c_str(), "http") == 0 && IsLoopbackHost(host)) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " \"" + std::string(url) +
                                 "\" is plain HTTP to a host that is not loopback (" + host +
                                 "): tokens and data keys would cross the network unencrypted; use https:// (TLS, "
                                 "with --ca-file or KMSFS_CA_FILE for a private CA)");
}

ConnectionConfig ConnectionConfig::Clone() const {
  ConnectionConfig c;
  c.endpoint = endpoint;
  c.project_id = project_id;
  c.token = token.Clone();
  c.auth_url = auth_url;
  c.username = username;
  c.password = password.Clone();
  c.domain = domain;
  c.access_key = access_key;
  c.secret_key = secret_key.Clone();
  c.security_token = security_token.Clone();
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
  KMSFS_RETURN_IF_ERROR(CheckUrlTransportIsSafe("KMS endpoint", endpoint));
  if (project_id.empty()) {
    return Status::InvalidArgument("no KMS project id: set OS_PROJECT_ID or pass --project-id");
  }
  if (!IsUrlSafeId(project_id)) {
    return Status::InvalidArgument("project id \"" + project_id +
                                   "\" may only contain letters, digits, '-' and '_'");
  }
  if (!access_key.empty() && secret_key.empty()) {
    return Status::InvalidArgument("incomplete AK/SK: HUAWEICLOUD_SDK_AK is set but HUAWEICLOUD_SDK_SK is not");
  }
  if (access_key.empty() && !secret_key.empty()) {
    return Status::InvalidArgument("incomplete AK/SK: HUAWEICLOUD_SDK_SK is set but HUAWEICLOUD_SDK_AK is not");
  }
  if (token.empty() && !uses_access_key()) {
    std::vector<std::string> missing;
    if (auth_url.empty()) missing.push_back("OS_AUTH_URL (--auth-url)");
    if (username.empty()) missing.push_back("OS_USERNAME (--user)");
    if (password.empty()) missing.push_back("OS_PASSWORD (--password-file)");
    if (domain.empty()) missing.push_back("OS_USER_DOMAIN_NAME (--domain)");
    if (missing.size() == 4) {
      return Status::InvalidArgument(
          "no KMS credentials: set OS_AUTH_TOKEN, or give OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and "
          "OS_USER_DOMAIN_NAME for password login, in the environment or a credentials file (--credentials FILE)");
    }
    if (!missing.empty()) {
      return Status::InvalidArgument("incomplete password login: set " + JoinMissing(missing) +
                                     ", or use a token (OS_AUTH_TOKEN)");
    }
  }
  if (!auth_url.empty()) {
    if (!IsHttpUrl(auth_url)) {
      return Status::InvalidArgument("IAM auth URL \"" + auth_url +
                                     "\" is not an http:// or https:// URL (e.g. http://127.0.0.1:8765/v3)");
    }
    KMSFS_RETURN_IF_ERROR(CheckUrlTransportIsSafe("IAM auth URL", auth_url));
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
  auto raw = [&](const char* name) -> const char* { return getenv ? getenv(name) : std::getenv(name); };
  auto get = [&](const char* name) -> std::string {
    const char* v = raw(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  auto secret = [&](const char* name) -> SecretBytes {
    const char* v = raw(name);
    return v == nullptr ? SecretBytes() : SecretFromText(v);
  };
  ConnectionConfig c;
  c.endpoint = get(kEnvEndpoint);
  c.project_id = get(kEnvProjectId);
  c.token = secret(kEnvToken);
  c.auth_url = get(kEnvAuthUrl);
  c.username = get(kEnvUsername);
  c.password = secret(kEnvPassword);
  c.domain = get(kEnvDomain);
  c.access_key = get(kEnvAccessKey);
  c.secret_key = secret(kEnvSecretKey);
  c.security_token = secret(kEnvSecurityToken);
  c.ca_file = get(kEnvCaFile);
  return c;
}

Status ApplyCredentialsFile(const std::string& path, ConnectionConfig& c) {
  const std::string what = "credentials file " + path;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ELOOP) return Status::InvalidArgument(what + " is a symbolic link: name the file itself");
    return Status::InvalidArgument("cannot open " + what + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::InvalidArgument("cannot stat " + what + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(what + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument(what + " belongs to uid " + std::to_string(st.st_uid) + ", not to you (uid " +
                                    std::to_string(::geteuid()) + "): use a file of your own");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument(what + " has mode " + mode +
                                    ", so others may read or change it: run 'chmod 600 " + path + "'");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxCredentialsFileSize) {
    return Status::InvalidArgument(what + " is larger than " + std::to_string(kMaxCredentialsFileSize) + " bytes");
  }
  SecretBytes buf(kMaxCredentialsFileSize);
  size_t used = 0;
  while (used < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + used, buf.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::InvalidArgument("cannot read " + what + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used == buf.size()) {
    return Status::InvalidArgument(what + " is larger than " + std::to_string(kMaxCredentialsFileSize) + " bytes");
  }

  const std::string_view text(reinterpret_cast<const char*>(buf.data()), used);
  std::set<std::string, std::less<>> seen;
  bool gave_token = false;
  bool gave_other_secret = false;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t lead = 0;
    while (lead < line.size() && (line[lead] == ' ' || line[lead] == '\t')) ++lead;
    line.remove_prefix(lead);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line.remove_prefix(7);
    const std::string where = what + " line " + std::to_string(line_no);
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument(where + " is not NAME=VALUE");
    }
    const std::string_view name = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (!seen.insert(std::string(name)).second) {
      return Status::InvalidArgument(where + " sets " + std::string(name) + " a second time");
    }
    if (name == kEnvEndpoint) {
      c.endpoint = value;
    } else if (name == kEnvProjectId) {
      c.project_id = value;
    } else if (name == kEnvToken) {
      c.token = SecretFromText(value);
      gave_token = !value.empty();
    } else if (name == kEnvAuthUrl) {
      c.auth_url = value;
    } else if (name == kEnvUsername) {
      c.username = value;
    } else if (name == kEnvPassword) {
      c.password = SecretFromText(value);
      gave_other_secret = gave_other_secret || !value.empty();
    } else if (name == kEnvDomain) {
      c.domain = value;
    } else if (name == kEnvAccessKey) {
      c.access_key = value;
    } else if (name == kEnvSecretKey) {
      c.secret_key = SecretFromText(value);
      gave_other_secret = gave_other_secret || !value.empty();
    } else if (name == kEnvSecurityToken) {
      c.security_token = SecretFromText(value);
    } else if (name == kEnvCaFile) {
      c.ca_file = value;
    } else {
      bool printable = name.size() <= 64;
      for (char ch : name) printable = printable && ch > ' ' && ch < 0x7f;
      return Status::InvalidArgument(where + " names " + (printable ? "an unknown variable " + std::string(name)
                                                                    : std::string("an unknown variable")) +
                                     " (known: KMSFS_KMS_ENDPOINT, OS_PROJECT_ID, OS_AUTH_TOKEN, OS_AUTH_URL, "
                                     "OS_USERNAME, OS_PASSWORD, OS_USER_DOMAIN_NAME, HUAWEICLOUD_SDK_AK, "
                                     "HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN, KMSFS_CA_FILE)");
    }
  }
  // A password or secret key given here outranks a token from the environment.
  if (gave_other_secret && !gave_token) c.token = SecretBytes();
  return Status::Ok();
}

StatusOr<RegionEndpoints> EndpointsForRegion(std::string_view region) {
  // Two lower-case letters, then one or more "-part" of lower-case letters and digits.
  bool ok = region.size() >= 4 && region.size() <= 64 && region[2] == '-' && region.back() != '-';
  for (size_t i = 0; ok && i < region.size(); ++i) {
    const char ch = region[i];
    const bool lower = ch >= 'a' && ch <= 'z';
    if (i < 2) {
      ok = lower;
    } else {
      ok = lower || (ch >= '0' && ch <= '9') || (ch == '-' && region[i - 1] != '-');
    }
  }
  if (!ok) {
    return Status::InvalidArgument("--region \"" + std::string(region) +
                                   "\" is not a region name (e.g. eu-de, eu-nl, cn-north-4)");
  }
  const std::string r(region);
  std::string domain = r + ".myhuaweicloud.com";
  if (r == "eu-de" || r == "eu-nl") domain = r + ".otc.t-systems.com";
  if (r == "eu-ch2") domain = r + ".sc.otc.t-systems.com";
  return RegionEndpoints{"https://kms." + domain, "https://iam." + domain + "/v3"};
}

Status ApplyOverrides(const ConnectionOverrides& o, ConnectionConfig& c) {
  if (o.region) {
    KMSFS_ASSIGN_OR_RETURN(RegionEndpoints region, EndpointsForRegion(*o.region));
    c.endpoint = region.kms;
    c.auth_url = region.iam;
  }
  if (o.endpoint) c.endpoint = *o.endpoint;
  if (o.project_id) c.project_id = *o.project_id;
  if (!o.token.empty()) c.token = o.token.Clone();
  if (o.auth_url) c.auth_url = *o.auth_url;
  if (o.username) c.username = *o.username;
  if (o.domain) c.domain = *o.domain;
  if (o.ca_file) c.ca_file = *o.ca_file;
  if (o.insecure_skip_tls_verify) c.insecure_skip_tls_verify = *o.insecure_skip_tls_verify;
  if (o.password_file) {
    KMSFS_ASSIGN_OR_RETURN(c.password, ReadPasswordFile(*o.password_file));
    // A password given by flag outranks a token from the file or the environment.
    if (o.token.empty()) c.token = SecretBytes();
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
