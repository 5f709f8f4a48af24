#include "fs/cli/connection.h"

#include <cstdlib>

#include "kms/http_kms_client.h"

namespace kmsfs::cli {
namespace {

SecretBytes& CommandLineToken() {
  static SecretBytes* const token = new SecretBytes();  // never destroyed: read until exit
  return *token;
}

}  // namespace

void SetCommandLineToken(SecretBytes token) { CommandLineToken() = std::move(token); }

StatusOr<kms::ConnectionConfig> ConnectionConfigFor(const Args& args, const std::string& volume_project_id) {
  kms::ConnectionConfig config = kms::ConfigFromEnvironment();
  std::string credentials = args.Get("--credentials").value_or("");
  if (credentials.empty()) {
    const char* env = std::getenv(kms::kEnvCredentials);
    if (env != nullptr) credentials = env;
  }
  if (!credentials.empty()) KMSFS_RETURN_IF_ERROR(kms::ApplyCredentialsFile(credentials, config));
  kms::ConnectionOverrides flags;
  flags.endpoint = args.Get("--kms-endpoint");
  flags.project_id = args.Get("--project-id");
  flags.token = CommandLineToken().Clone();
  flags.auth_url = args.Get("--auth-url");
  flags.username = args.Get("--user");
  flags.password_file = args.Get("--password-file");
  flags.domain = args.Get("--domain");
  flags.ca_file = args.Get("--ca-file");
  flags.region = args.Get("--region");
  KMSFS_RETURN_IF_ERROR(kms::ApplyOverrides(flags, config));
  if (config.project_id.empty()) config.project_id = volume_project_id;
  return config;
}

StatusOr<std::shared_ptr<kms::Client>> ConnectKms(const Args& args, const std::string& volume_project_id) {
  KMSFS_ASSIGN_OR_RETURN(kms::ConnectionConfig config, ConnectionConfigFor(args, volume_project_id));
  KMSFS_ASSIGN_OR_RETURN(std::unique_ptr<kms::HttpClient> client, kms::HttpClient::New(std::move(config)));
  return std::shared_ptr<kms::Client>(std::move(client));
}

}  // namespace kmsfs::cli
