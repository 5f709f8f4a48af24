#include "kms/http_kms_client.h"

#include <sodium.h>

#include <array>

#include "base/hex.h"
#include "base/logging.h"
#include "base/secure_string.h"
#include "crypto/hash.h"
#include "kms/api_json.h"
#include "kms/retry.h"

namespace kmsfs::kms {
namespace {

using nlohmann::json;

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool IsOneOf(std::string_view code, std::initializer_list<std::string_view> codes) {
  for (std::string_view c : codes) {
    if (code == c) return true;
  }
  return false;
}

StatusCode CodeFor(std::string_view action, int http_status, std::string_view kms_code) {
  if (http_status == 401) return StatusCode::kUnauthenticated;
  if (http_status == 403) {
    if (IsOneOf(kms_code, {"KMS.0301", "KMS.0302", "KMS.0303", "KMS.0305", "KMS.0321"})) {
      return StatusCode::kUnauthenticated;
    }
    return StatusCode::kPermissionDenied;  // KMS.0306/0307/0326/0330 and anything else
  }
  if (http_status == 404) return StatusCode::kNotFound;
  if (http_status == 429) return StatusCode::kResourceExhausted;
  if (http_status >= 500) return StatusCode::kUnavailable;
  if (http_status >= 400) {
    if (kms_code == "KMS.1104") return StatusCode::kAlreadyExists;
    if (IsOneOf(kms_code, {"KMS.1105", "KMS.2404", "KMS.2405"})) return StatusCode::kResourceExhausted;
    if (IsOneOf(kms_code, {"KMS.0209", "KMS.0210", "KMS.0211", "KMS.0309", "KMS.0310", "KMS.0312", "KMS.0313",
                           "KMS.1201", "KMS.1301", "KMS.1402", "KMS.1501", "KMS.2601", "KMS.2701", "KMS.2702",
                           "KMS.2901"})) {
      return StatusCode::kFailedPrecondition;
    }
    if ((action == "decrypt-datakey" || action == "decrypt-data") &&
        IsOneOf(kms_code, {"KMS.2201", "KMS.2203", "KMS.2204"})) {
      return StatusCode::kDataLoss;
    }
    return StatusCode::kInvalidArgument;
  }
  return StatusCode::kInvalidArgument;  // 1xx/3xx: not an answer the API gives
}

void PutOptionalInt(json& body, const char* name, const std::optional<int>& value) {
  if (value) body[name] = std::to_string(*value);
}

void PutContext(json& body, const EncryptionContext& ctx) {
  if (!ctx.empty()) body["encryption_context"] = ContextJson(ctx);
}

// key_info when present (enable-key, describe-key), else the top level
// (schedule-key-deletion, cancel-key-deletion).
KeyInfo KeyInfoOf(const json& answer) {
  auto it = answer.find("key_info");
  if (it != answer.end() && it->is_object()) return ParseKeyInfo(*it);
  return ParseKeyInfo(answer);
}

SecureString ToSecure(std::string_view text) { return SecureString(text.data(), text.size()); }

}  // namespace

StatusOr<std::unique_ptr<HttpClient>> HttpClient::New(ConnectionConfig config, KmsExecutorOptions executor) {
  KMSFS_RETURN_IF_ERROR(config.Validate());
  TransportOptions topts;
  topts.connect_timeout = config.connect_timeout;
  topts.request_timeout = config.request_timeout;
  topts.ca_file = config.ca_file;
  topts.insecure_skip_tls_verify = config.insecure_skip_tls_verify;
  // Room for every call in flight, each on a keep-alive connection of its own.
  topts.max_connections = std::max<size_t>(topts.max_connections, executor.max_in_flight);
  if (config.insecure_skip_tls_verify) {
    KMSFS_LOG(kWarning) << "TLS certificate checks are off for " << UrlHostPort(config.endpoint);
  }
  EnsureSodiumInitialized();
  std::unique_ptr<HttpClient> client(new HttpClient(config));
  KMSFS_ASSIGN_OR_RETURN(client->executor_,
                         KmsExecutor::New(std::move(topts), config.retry, &client->auth_, client->signer_.get(),
                                          std::move(executor)));
  return client;
}

HttpClient::HttpClient(const ConnectionConfig& config)
    : endpoint_(StripTrailingSlashes(config.endpoint)),
      project_id_(config.project_id),
      host_(UrlHostPort(endpoint_)),
      auth_(config),
      signer_(config.uses_access_key() ? std::make_unique<RequestSigner>(config) : nullptr) {}

// The executor goes first: it ends the calls still running, whose
// completions use the client.
HttpClient::~HttpClient() { executor_.reset(); }

ClientStats HttpClient::stats() const {
  ClientStats s;
  s.calls = calls_.load();
  s.errors = errors_.load();
  s.retries = executor_->stats().retries;
  s.auth_refreshes = auth_.refreshes();
  return s;
}

std::string HttpClient::PrincipalDescription() const {
  if (signer_) return "access key " + signer_->access_key();
  return auth_.Description();
}

StatusOr<std::string> HttpClient::UserId() {
  if (signer_) {
    return Status::FailedPrecondition("the IAM user id is not known to a client signing with an access key (AK/SK)");
  }
  if (std::string id = auth_.CachedUserId(); !id.empty()) return id;
  KmsCall call;
  if (auth_.static_token() != nullptr) {
    call.what = auth_.LookupDescription();
    call.method = "GET";
    call.url = auth_.TokensUrl();
    call.auth = CallAuth::kTokenLookup;
    KmsOutcome outcome = executor_->Run(std::move(call));
    KMSFS_RETURN_IF_ERROR(auth_.AcceptTokenLookup(outcome.response, outcome.attempts));
  } else {
    // A password login names its user: wait for one (or for the current token).
    call.what = auth_.LoginDescription();
    call.send = false;
    KmsOutcome outcome = executor_->Run(std::move(call));
    KMSFS_RETURN_IF_ERROR(outcome.response.status());
  }
  std::string id = auth_.CachedUserId();
  if (id.empty()) return Status::Internal("IAM login answer names no token.user.id");
  return id;
}

std::string HttpClient::Context(std::string_view action, std::string_view key_id) const {
  std::string out(action);
  if (!key_id.empty()) {
    out += " on key ";
    out += key_id;
  }
  return out + " at " + host_;
}

Status HttpClient::Fail(StatusCode code, std::string_view action, std::string_view key_id, std::string_view what) {
  errors_.fetch_add(1);
  return Status(code, Context(action, key_id) + ": " + std::string(what));
}

KmsCall HttpClient::MakeCall(std::string_view action, std::string_view key_id, SecureString body,
                             Priority priority) const {
  KmsCall call;
  call.what = Context(action, key_id);
  call.url = endpoint_ + "/v1.0/" + project_id_ + "/kms/" + std::string(action);
  call.body = std::move(body);
  call.auth = signer_ ? CallAuth::kSigned : CallAuth::kToken;
  call.priority = priority;
  return call;
}

StatusOr<HttpResponse> HttpClient::Result(std::string_view action, std::string_view key_id, KmsOutcome outcome) {
  if (outcome.auth_failed) {
    errors_.fetch_add(1);
    return outcome.response.status().Annotate(Context(action, key_id));
  }
  StatusOr<HttpResponse>& r = outcome.response;
  const std::string tries =
      outcome.attempts > 1 ? ", gave up after " + std::to_string(outcome.attempts) + " attempts" : "";
  if (!r.ok()) {
    errors_.fetch_add(1);
    std::string why = r.status().message();
    // The executor's own endings (cancelled, shutting down) already name the call.
    const std::string context = Context(action, key_id);
    if (why.rfind(context, 0) == 0) return Status::Unavailable(why);
    return Status::Unavailable(context + ": cannot reach the KMS at " + endpoint_ + ": " + why +
                               (tries.empty() ? "" : " (" + tries.substr(2) + ")"));
  }
  if (r->status >= 200 && r->status <= 299) return std::move(r);

  errors_.fetch_add(1);
  const ErrorBody err = ParseErrorBody(r->body);
  std::string msg = Context(action, key_id) + ": ";
  if (err.code.empty() && err.message.empty()) {
    msg += "the KMS answered HTTP " + std::to_string(r->status) + " without an error body";
  } else {
    if (!err.code.empty()) msg += err.code + " ";
    msg += err.message.empty() ? "(no message)" : err.message;
  }
  msg += " (HTTP " + std::to_string(r->status);
  if (!r->request_id.empty()) msg += ", request " + r->request_id;
  msg += tries + ")";
  if (r->status >= 300 && r->status < 400) msg += "; is the KMS endpoint right?";
  if (signer_ && CodeFor(action, r->status, err.code) == StatusCode::kUnauthenticated) {
    msg += "; the access key was refused: check HUAWEICLOUD_SDK_AK/SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN for a "
           "temporary key) and this machine's clock";
  } else if (CodeFor(action, r->status, err.code) == StatusCode::kUnauthenticated && !auth_.can_refresh()) {
    msg += "; the given token was refused: get a new one (OS_AUTH_TOKEN, --credentials or --token)";
  }
  return WithKmsError(Status(CodeFor(action, r->status, err.code), msg), err.code, r->status);
}

StatusOr<HttpResponse> HttpClient::Call(std::string_view action, std::string_view key_id, SecureString body) {
  calls_.fetch_add(1);
  KmsOutcome outcome = executor_->Run(MakeCall(action, key_id, std::move(body), Priority::kInteractive));
  return Result(action, key_id, std::move(outcome));
}

StatusOr<json> HttpClient::CallJson(std::string_view action, std::string_view key_id, const json& body) {
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Call(action, key_id, ToSecure(body.dump())));
  std::optional<json> parsed = ParseObject(r.body);
  if (!parsed) return Fail(StatusCode::kInternal, action, key_id, "the KMS answer is not a JSON object");
  return std::move(*parsed);
}

// --- keys

StatusOr<KeyInfo> HttpClient::CreateKey(const CreateKeyRequest& req) {
  json body = {{"key_alias", req.key_alias}, {"origin", req.origin.empty() ? "kms" : req.origin}};
  if (!req.key_description.empty()) body["key_description"] = req.key_description;
  if (!req.key_spec.empty()) body["key_spec"] = req.key_spec;
  if (!req.key_usage.empty()) body["key_usage"] = req.key_usage;
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("create-key", "", body));
  KeyInfo info = KeyInfoOf(answer);
  if (info.key_id.empty()) return Fail(StatusCode::kInternal, "create-key", "", "the answer names no key_id");
  return info;
}

StatusOr<KeyInfo> HttpClient::DescribeKey(std::string_view key_id) {
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("describe-key", key_id, {{"key_id", key_id}}));
  return KeyInfoOf(answer);
}

StatusOr<KeyList> HttpClient::ListKeys(const ListKeysRequest& req) {
  json body = json::object();
  PutOptionalInt(body, "limit", req.limit);
  PutOptionalInt(body, "marker", req.marker);
  PutOptionalInt(body, "key_state", req.key_state);
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("list-keys", "", body));
  return ParseKeyList(answer);
}

StatusOr<KeyInfo> HttpClient::EnableKey(std::string_view key_id) {
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("enable-key", key_id, {{"key_id", key_id}}));
  return KeyInfoOf(answer);
}

StatusOr<KeyInfo> HttpClient::DisableKey(std::string_view key_id) {
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("disable-key", key_id, {{"key_id", key_id}}));
  return KeyInfoOf(answer);
}

StatusOr<KeyInfo> HttpClient::ScheduleKeyDeletion(std::string_view key_id, int pending_days) {
  KMSFS_ASSIGN_OR_RETURN(
      json answer,
      CallJson("schedule-key-deletion", key_id, {{"key_id", key_id}, {"pending_days", std::to_string(pending_days)}}));
  return KeyInfoOf(answer);
}

StatusOr<KeyInfo> HttpClient::CancelKeyDeletion(std::string_view key_id) {
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("cancel-key-deletion", key_id, {{"key_id", key_id}}));
  return KeyInfoOf(answer);
}

Status HttpClient::EnableKeyRotation(std::string_view key_id) {
  return CallJson("enable-key-rotation", key_id, {{"key_id", key_id}}).status();
}

StatusOr<std::vector<uint8_t>> HttpClient::GenRandom(int bits) {
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("gen-random", "", {{"random_data_length", std::to_string(bits)}}));
  StatusOr<std::vector<uint8_t>> bytes = HexDecode(GetText(answer, "random_data"));
  if (!bytes.ok()) return Fail(StatusCode::kInternal, "gen-random", "", "random_data is not hex");
  if (bits < 0 || bytes->size() * 8 != static_cast<size_t>(bits)) {
    return Fail(StatusCode::kInternal, "gen-random", "",
                "got " + std::to_string(bytes->size() * 8) + " random bits, asked for " + std::to_string(bits));
  }
  return bytes;
}

// --- data keys

StatusOr<DataKey> HttpClient::CreateDataKey(std::string_view key_id, size_t length_bytes,
                                            const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "create-datakey";
  json body = {{"key_id", key_id}, {"datakey_length", std::to_string(8 * length_bytes)}};
  PutContext(body, ctx);
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Call(kAction, key_id, ToSecure(body.dump())));
  StatusOr<DataKey> key = ParseCreateDataKeyAnswer(r.body, length_bytes);
  if (!key.ok()) return Fail(key.status().code(), kAction, key_id, key.status().message());
  return key;
}

StatusOr<std::string> HttpClient::CreateDataKeyWithoutPlaintext(std::string_view key_id, size_t length_bytes,
                                                                const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "create-datakey-without-plaintext";
  json body = {{"key_id", key_id}, {"datakey_length", std::to_string(8 * length_bytes)}};
  PutContext(body, ctx);
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Call(kAction, key_id, ToSecure(body.dump())));
  StatusOr<std::string> cipher = ParseCipherTextAnswer(r.body);
  if (!cipher.ok()) return Fail(cipher.status().code(), kAction, key_id, cipher.status().message());
  return cipher;
}

// plain_text = hex(DEK || SHA-256(DEK)), written straight into wiped memory.
SecureString HttpClient::EncryptDataKeyBody(std::string_view key_id, const SecretBytes& dek,
                                            const EncryptionContext& ctx) {
  crypto::Sha256Digest digest = crypto::Sha256(dek.span());
  SecureString hex;
  hex.reserve(2 * (dek.size() + digest.size()));
  AppendHexUpper(dek.span(), hex);
  AppendHexUpper(digest, hex);
  sodium_memzero(digest.data(), digest.size());
  json rest = {{"key_id", key_id}, {"datakey_plain_length", std::to_string(dek.size())}};
  PutContext(rest, ctx);
  return SpliceSecretMember("plain_text", hex, rest);
}

SecureString HttpClient::DecryptDataKeyBody(std::string_view key_id, std::string_view cipher_text,
                                            size_t dek_length, const EncryptionContext& ctx) {
  json body = {{"key_id", key_id}, {"cipher_text", cipher_text}, {"datakey_cipher_length", std::to_string(dek_length)}};
  PutContext(body, ctx);
  return ToSecure(body.dump());
}

StatusOr<std::string> HttpClient::EncryptDataKeyResult(std::string_view key_id, KmsOutcome outcome) {
  constexpr std::string_view kAction = "encrypt-datakey";
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Result(kAction, key_id, std::move(outcome)));
  StatusOr<std::string> cipher = ParseCipherTextAnswer(r.body);
  if (!cipher.ok()) return Fail(cipher.status().code(), kAction, key_id, cipher.status().message());
  return cipher;
}

StatusOr<SecretBytes> HttpClient::DecryptDataKeyResult(std::string_view key_id, size_t dek_length,
                                                       KmsOutcome outcome) {
  constexpr std::string_view kAction = "decrypt-datakey";
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Result(kAction, key_id, std::move(outcome)));
  StatusOr<SecretBytes> dek = ParseDecryptDataKeyAnswer(r.body, dek_length);
  if (!dek.ok()) return Fail(dek.status().code(), kAction, key_id, dek.status().message());
  return dek;
}

StatusOr<std::string> HttpClient::EncryptDataKey(std::string_view key_id, const SecretBytes& dek,
                                                 const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "encrypt-datakey";
  calls_.fetch_add(1);
  if (dek.empty()) return Fail(StatusCode::kInvalidArgument, kAction, key_id, "empty data key");
  KmsOutcome outcome =
      executor_->Run(MakeCall(kAction, key_id, EncryptDataKeyBody(key_id, dek, ctx), Priority::kInteractive));
  return EncryptDataKeyResult(key_id, std::move(outcome));
}

StatusOr<SecretBytes> HttpClient::DecryptDataKey(std::string_view key_id, std::string_view cipher_text,
                                                 size_t dek_length, const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "decrypt-datakey";
  calls_.fetch_add(1);
  KmsOutcome outcome = executor_->Run(
      MakeCall(kAction, key_id, DecryptDataKeyBody(key_id, cipher_text, dek_length, ctx), Priority::kInteractive));
  return DecryptDataKeyResult(key_id, dek_length, std::move(outcome));
}

CallHandle HttpClient::EncryptDataKeyAsync(std::string_view key_id, const SecretBytes& dek,
                                           const EncryptionContext& ctx, Priority priority,
                                           Callback<std::string> done) {
  constexpr std::string_view kAction = "encrypt-datakey";
  calls_.fetch_add(1);
  if (dek.empty()) {
    done(Fail(StatusCode::kInvalidArgument, kAction, key_id, "empty data key"));
    return CallHandle();
  }
  return executor_->Submit(
      MakeCall(kAction, key_id, EncryptDataKeyBody(key_id, dek, ctx), priority),
      [this, key = std::string(key_id), done = std::move(done)](KmsOutcome outcome) {
        done(EncryptDataKeyResult(key, std::move(outcome)));
      });
}

CallHandle HttpClient::DecryptDataKeyAsync(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                           const EncryptionContext& ctx, Priority priority,
                                           Callback<SecretBytes> done) {
  constexpr std::string_view kAction = "decrypt-datakey";
  calls_.fetch_add(1);
  return executor_->Submit(
      MakeCall(kAction, key_id, DecryptDataKeyBody(key_id, cipher_text, dek_length, ctx), priority),
      [this, key = std::string(key_id), dek_length, done = std::move(done)](KmsOutcome outcome) {
        done(DecryptDataKeyResult(key, dek_length, std::move(outcome)));
      });
}

StatusOr<std::string> HttpClient::EncryptData(std::string_view key_id, std::string_view plain_text,
                                              const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "encrypt-data";
  json body = {{"key_id", key_id}, {"plain_text", plain_text}};
  PutContext(body, ctx);
  std::string text;
  try {
    text = body.dump();
  } catch (const json::exception&) {  // invalid UTF-8 in plain_text
    calls_.fetch_add(1);
    return Fail(StatusCode::kInvalidArgument, kAction, key_id, "plain_text is not valid UTF-8 text");
  }
  SecureString secure = ToSecure(text);
  WipeString(text);
  KMSFS_ASSIGN_OR_RETURN(HttpResponse r, Call(kAction, key_id, std::move(secure)));
  StatusOr<std::string> cipher = ParseCipherTextAnswer(r.body);
  if (!cipher.ok()) return Fail(cipher.status().code(), kAction, key_id, cipher.status().message());
  return cipher;
}

StatusOr<std::string> HttpClient::DecryptData(std::string_view cipher_text, const EncryptionContext& ctx) {
  constexpr std::string_view kAction = "decrypt-data";
  json body = {{"cipher_text", cipher_text}};
  PutContext(body, ctx);
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson(kAction, "", body));
  auto it = answer.find("plain_text");
  if (it == answer.end() || !it->is_string()) {
    return Fail(StatusCode::kInternal, kAction, "", "the answer has no plain_text");
  }
  return it->get<std::string>();
}

// --- grants

StatusOr<std::string> HttpClient::CreateGrant(const CreateGrantRequest& req) {
  json body = {{"key_id", req.key_id}, {"grantee_principal", req.grantee_principal}, {"operations", req.operations}};
  if (!req.name.empty()) body["name"] = req.name;
  if (!req.retiring_principal.empty()) body["retiring_principal"] = req.retiring_principal;
  if (!req.grantee_principal_type.empty()) body["grantee_principal_type"] = req.grantee_principal_type;
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("create-grant", req.key_id, body));
  std::string grant_id = GetText(answer, "grant_id");
  if (grant_id.empty()) return Fail(StatusCode::kInternal, "create-grant", req.key_id, "the answer has no grant_id");
  return grant_id;
}

StatusOr<GrantList> HttpClient::ListGrants(const ListGrantsRequest& req) {
  json body = {{"key_id", req.key_id}};
  PutOptionalInt(body, "limit", req.limit);
  PutOptionalInt(body, "marker", req.marker);
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("list-grants", req.key_id, body));
  return ParseGrantList(answer);
}

Status HttpClient::RevokeGrant(std::string_view key_id, std::string_view grant_id) {
  return CallJson("revoke-grant", key_id, {{"key_id", key_id}, {"grant_id", grant_id}}).status();
}

Status HttpClient::RetireGrant(std::string_view key_id, std::string_view grant_id) {
  return CallJson("retire-grant", key_id, {{"key_id", key_id}, {"grant_id", grant_id}}).status();
}

StatusOr<GrantList> HttpClient::ListRetirableGrants(const ListGrantsRequest& req) {
  json body = json::object();
  PutOptionalInt(body, "limit", req.limit);
  PutOptionalInt(body, "marker", req.marker);
  KMSFS_ASSIGN_OR_RETURN(json answer, CallJson("list-retirable-grants", "", body));
  return ParseGrantList(answer);
}

// --- import

StatusOr<ImportParameters> HttpClient::GetParametersForImport(std::string_view key_id,
                                                              std::string_view wrapping_algorithm) {
  constexpr std::string_view kAction = "get-parameters-for-import";
  KMSFS_ASSIGN_OR_RETURN(
      json answer, CallJson(kAction, key_id, {{"key_id", key_id}, {"wrapping_algorithm", wrapping_algorithm}}));
  ImportParameters p;
  p.key_id = GetText(answer, "key_id");
  p.import_token = GetText(answer, "import_token");
  p.public_key = GetText(answer, "public_key");
  p.expiration_time = GetInt(answer, "expiration_time").value_or(0);
  if (p.import_token.empty() || p.public_key.empty()) {
    return Fail(StatusCode::kInternal, kAction, key_id, "the answer lacks import_token or public_key");
  }
  return p;
}

Status HttpClient::ImportKeyMaterial(const ImportKeyMaterialRequest& req) {
  json body = {{"key_id", req.key_id},
               {"import_token", req.import_token},
               {"encrypted_key_material", req.encrypted_key_material}};
  // A JSON number, as in the API's examples (spec §1.3).
  if (req.expiration_time) body["expiration_time"] = *req.expiration_time;
  return CallJson("import-key-material", req.key_id, body).status();
}

Status HttpClient::DeleteImportedKeyMaterial(std::string_view key_id) {
  return CallJson("delete-imported-key-material", key_id, {{"key_id", key_id}}).status();
}

}  // namespace kmsfs::kms
