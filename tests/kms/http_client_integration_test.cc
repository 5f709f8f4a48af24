// HttpClient against the real kmsd: every action, the authorization matrix,
// both auth modes, concurrency and TLS.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "kms/api_json.h"
#include "kms/http_kms_client.h"
#include "tests/kms/memory_scan.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms {
namespace {

using kmsfs::testing::KmsdProcess;
using kmsfs::testing::KmsdUser;
using std::chrono::milliseconds;

enum class Auth { kPassword, kToken };

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

std::vector<uint8_t> Base64Decode(const std::string& text) {
  std::vector<uint8_t> out(text.size());
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  size_t pad = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string Base64Encode(const std::vector<uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// RSAES-OAEP-SHA-256 of `material` under the Base64 DER public key (spec §7.2 recipe).
std::string WrapKeyMaterial(const std::string& public_key_b64, const std::vector<uint8_t>& material) {
  const std::vector<uint8_t> der = Base64Decode(public_key_b64);
  const unsigned char* p = der.data();
  std::unique_ptr<EVP_PKEY, EvpPkeyDeleter> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key) return "";
  std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) != 1) {
    return "";
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, material.data(), material.size()) != 1) return "";
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, material.data(), material.size()) != 1) return "";
  out.resize(len);
  return Base64Encode(out);
}

class HttpClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { StartKmsd({}); }

  void StartKmsd(KmsdProcess::Options opts) {
    kmsd_.reset();
    kmsd_ = KmsdProcess::Start(std::move(opts));
    ASSERT_NE(kmsd_, nullptr);
  }

  const KmsdUser& User(const std::string& name) {
    for (const KmsdUser& u : users_) {
      if (u.name == name) return u;
    }
    ADD_FAILURE() << "no test user " << name;
    return users_.front();
  }

  ConnectionConfig Config(const KmsdUser& u, Auth auth) {
    ConnectionConfig c;
    c.endpoint = kmsd_->endpoint();
    c.project_id = u.project_id;
    if (auth == Auth::kToken) {
      c.token = SecretFromText(kmsd_->Login(u));
      EXPECT_FALSE(c.token.empty());
    } else {
      c.auth_url = kmsd_->endpoint() + "/v3";
      c.username = u.name;
      c.domain = u.domain;
      c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(u.password.data()), u.password.size()});
    }
    c.retry.on_backoff = [](milliseconds) {};
    return c;
  }

  std::unique_ptr<HttpClient> Client(const std::string& name, Auth auth = Auth::kPassword) {
    StatusOr<std::unique_ptr<HttpClient>> c = HttpClient::New(Config(User(name), auth));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  std::string NewKey(HttpClient& client, const std::string& alias, const std::string& origin = "kms") {
    CreateKeyRequest req;
    req.key_alias = alias;
    req.origin = origin;
    StatusOr<KeyInfo> info = client.CreateKey(req);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? info->key_id : "";
  }

  std::string Grant(HttpClient& owner, const std::string& key_id, const std::string& grantee_id,
                    std::vector<std::string> operations, const std::string& retiring = "") {
    CreateGrantRequest req;
    req.key_id = key_id;
    req.grantee_principal = grantee_id;
    req.operations = std::move(operations);
    req.retiring_principal = retiring;
    StatusOr<std::string> id = owner.CreateGrant(req);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : "";
  }

  std::vector<KmsdUser> users_ = kmsfs::testing::DefaultTestUsers();
  std::unique_ptr<KmsdProcess> kmsd_;
};

void ExpectDenied(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << what << ": " << s.ToString();
  EXPECT_EQ(KmsErrorCode(s), "KMS.0306") << what;
  EXPECT_EQ(KmsHttpStatus(s), 403) << what;
}

TEST_F(HttpClientIntegrationTest, KeyLifecycleActions) {
  auto alice = Client("alice");
  const std::string key = NewKey(*alice, "lifecycle");
  ASSERT_FALSE(key.empty());

  StatusOr<KeyInfo> info = alice->DescribeKey(key);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key_alias, "lifecycle");
  EXPECT_EQ(info->key_state, "2");
  EXPECT_EQ(info->key_spec, "AES_256");
  EXPECT_EQ(info->origin, "kms");
  EXPECT_EQ(alice->DescribeKey("alias/lifecycle").value().key_id, key);

  // kmsd may hold default keys too (spec §2.2); page through everything one key at a time.
  StatusOr<KeyList> all = alice->ListKeys({});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->total, static_cast<int64_t>(all->keys.size()));
  EXPECT_FALSE(all->truncated);
  std::vector<std::string> paged;
  ListKeysRequest page_req;
  page_req.limit = 1;
  page_req.marker = 0;
  for (int guard = 0; guard < 10; ++guard) {
    StatusOr<KeyList> page = alice->ListKeys(page_req);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->keys.size(), 1u);
    EXPECT_EQ(page->key_details.at(0).key_id, page->keys[0]);
    paged.push_back(page->keys[0]);
    if (!page->truncated) break;
    page_req.marker = std::stoi(page->next_marker);
  }
  EXPECT_EQ(paged, all->keys);
  EXPECT_NE(std::find(paged.begin(), paged.end(), key), paged.end());

  EXPECT_EQ(alice->DisableKey(key).value().key_state, "3");
  Status disabled_use = alice->CreateDataKey(key, 64, {}).status();
  EXPECT_EQ(disabled_use.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(KmsErrorCode(disabled_use), "KMS.0209");
  EXPECT_EQ(alice->EnableKey(key).value().key_state, "2");
  EXPECT_TRUE(alice->EnableKeyRotation(key).ok());
  StatusOr<KeyInfo> scheduled = alice->ScheduleKeyDeletion(key, 7);
  ASSERT_TRUE(scheduled.ok()) << scheduled.status().ToString();
  EXPECT_EQ(scheduled->key_state, "4");
  EXPECT_EQ(alice->CancelKeyDeletion(key).value().key_state, "3");

  Status missing = alice->DescribeKey("00000000-0000-0000-0000-000000000000").status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(KmsErrorCode(missing), "KMS.0207");

  StatusOr<std::vector<uint8_t>> random = alice->GenRandom(512);
  ASSERT_TRUE(random.ok()) << random.status().ToString();
  EXPECT_EQ(random->size(), 64u);
}

TEST_F(HttpClientIntegrationTest, DataKeyActionsRoundTrip) {
  auto alice = Client("alice");
  const std::string key = NewKey(*alice, "dek");
  const EncryptionContext ctx = {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}};

  StatusOr<DataKey> created = alice->CreateDataKey(key, 64, ctx);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->plain.size(), 64u);
  StatusOr<SecretBytes> back = alice->DecryptDataKey(key, created->cipher_text, 64, ctx);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(created->plain));

  StatusOr<std::string> blind = alice->CreateDataKeyWithoutPlaintext(key, 64, {});
  ASSERT_TRUE(blind.ok()) << blind.status().ToString();
  EXPECT_EQ(alice->DecryptDataKey(key, *blind, 64, {}).value().size(), 64u);

  SecretBytes dek = SecretBytes::Random(64);
  StatusOr<std::string> wrapped = alice->EncryptDataKey(key, dek, ctx);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  StatusOr<SecretBytes> unwrapped = alice->DecryptDataKey(key, *wrapped, 64, ctx);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(unwrapped->Equals(dek));

  // A wrapped key moved to another file (other context) does not open.
  Status moved = alice->DecryptDataKey(key, *wrapped, 64, {{"kmsfs_file_id", "ff"}}).status();
  EXPECT_EQ(moved.code(), StatusCode::kDataLoss) << moved.ToString();
  EXPECT_FALSE(KmsErrorCode(moved).empty());
  EXPECT_EQ(KmsHttpStatus(moved), 400);

  StatusOr<std::string> sealed = alice->EncryptData(key, "hello, kms", ctx);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(alice->DecryptData(*sealed, ctx).value(), "hello, kms");
  EXPECT_EQ(alice->DecryptData(*sealed, {}).status().code(), StatusCode::kDataLoss);
}

TEST_F(HttpClientIntegrationTest, ImportKeyMaterialActions) {
  auto alice = Client("alice");
  const std::string key = NewKey(*alice, "byok", "external");
  EXPECT_EQ(alice->DescribeKey(key).value().key_state, "5");

  StatusOr<ImportParameters> params = alice->GetParametersForImport(key, "RSAES_OAEP_SHA_256");
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_GT(params->expiration_time, 0);
  std::vector<uint8_t> material(32);
  for (size_t i = 0; i < material.size(); ++i) material[i] = static_cast<uint8_t>(i * 7 + 1);
  ImportKeyMaterialRequest req;
  req.key_id = key;
  req.import_token = params->import_token;
  req.encrypted_key_material = WrapKeyMaterial(params->public_key, material);
  ASSERT_FALSE(req.encrypted_key_material.empty());
  Status imported = alice->ImportKeyMaterial(req);
  ASSERT_TRUE(imported.ok()) << imported.ToString();
  EXPECT_EQ(alice->DescribeKey(key).value().key_state, "2");

  SecretBytes dek = SecretBytes::Random(64);
  std::string wrapped = alice->EncryptDataKey(key, dek, {}).value();
  EXPECT_TRUE(alice->DecryptDataKey(key, wrapped, 64, {}).value().Equals(dek));

  Status deleted = alice->DeleteImportedKeyMaterial(key);
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_EQ(alice->DescribeKey(key).value().key_state, "5");
  EXPECT_EQ(alice->DecryptDataKey(key, wrapped, 64, {}).status().code(), StatusCode::kFailedPrecondition);

  Status not_external = alice->GetParametersForImport(NewKey(*alice, "native"), "RSAES_OAEP_SHA_256").status();
  EXPECT_EQ(KmsErrorCode(not_external), "KMS.0309");
  EXPECT_EQ(not_external.code(), StatusCode::kFailedPrecondition);
}

// Each grantable operation, granted alone to bob: that call works, a call
// needing another operation is refused.
TEST_F(HttpClientIntegrationTest, GrantOfOneOperationAllowsExactlyThatOperation) {
  auto alice = Client("alice");
  auto bob = Client("bob");
  const std::string bob_id = User("bob").id;
  const EncryptionContext ctx = {{"f", "1"}};

  struct Op {
    std::string name;
    std::function<Status(HttpClient&, const std::string& key, const std::string& dek_cipher,
                         const std::string& data_cipher)>
        call;
  };
  const std::vector<Op> ops = {
      {"describe-key", [](HttpClient& c, const std::string& k, const std::string&, const std::string&) {
         return c.DescribeKey(k).status();
       }},
      {"create-datakey", [&](HttpClient& c, const std::string& k, const std::string&, const std::string&) {
         return c.CreateDataKey(k, 64, ctx).status();
       }},
      {"create-datakey-without-plaintext",
       [&](HttpClient& c, const std::string& k, const std::string&, const std::string&) {
         return c.CreateDataKeyWithoutPlaintext(k, 64, ctx).status();
       }},
      {"encrypt-datakey", [&](HttpClient& c, const std::string& k, const std::string&, const std::string&) {
         return c.EncryptDataKey(k, SecretBytes::Random(64), ctx).status();
       }},
      {"decrypt-datakey", [&](HttpClient& c, const std::string& k, const std::string& dc, const std::string&) {
         return c.DecryptDataKey(k, dc, 64, ctx).status();
       }},
      {"encrypt-data", [&](HttpClient& c, const std::string& k, const std::string&, const std::string&) {
         return c.EncryptData(k, "text", ctx).status();
       }},
      {"decrypt-data", [&](HttpClient& c, const std::string&, const std::string&, const std::string& dc) {
         return c.DecryptData(dc, ctx).status();
       }},
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    const std::string key = NewKey(*alice, "op-" + std::to_string(i));
    const std::string dek_cipher = alice->CreateDataKeyWithoutPlaintext(key, 64, ctx).value();
    const std::string data_cipher = alice->EncryptData(key, "secret text", ctx).value();
    // Before the grant, bob may not use the key.
    ExpectDenied(op.call(*bob, key, dek_cipher, data_cipher), op.name + " before the grant");
    Grant(*alice, key, bob_id, {op.name});
    Status allowed = op.call(*bob, key, dek_cipher, data_cipher);
    EXPECT_TRUE(allowed.ok()) << op.name << ": " << allowed.ToString();
    const Op& other = ops[(i + 1) % ops.size()];
    ExpectDenied(other.call(*bob, key, dek_cipher, data_cipher), other.name + " with only " + op.name);
  }
}

TEST_F(HttpClientIntegrationTest, OwnerGranteeStrangerRevokedAndRetired) {
  auto alice = Client("alice");
  auto bob = Client("bob");
  auto carol = Client("carol");
  const std::string key = NewKey(*alice, "shared");
  SecretBytes dek = SecretBytes::Random(64);
  const std::string wrapped = alice->EncryptDataKey(key, dek, {}).value();

  // Owner: everything. Stranger: nothing, with the documented code and a message naming the call.
  EXPECT_TRUE(alice->DecryptDataKey(key, wrapped, 64, {}).ok());
  Status stranger = carol->DecryptDataKey(key, wrapped, 64, {}).status();
  ExpectDenied(stranger, "stranger");
  EXPECT_NE(stranger.message().find("decrypt-datakey on key " + key), std::string::npos) << stranger.message();
  EXPECT_NE(stranger.message().find("(HTTP 403"), std::string::npos);
  ExpectDenied(carol->DescribeKey(key).status(), "stranger describe");

  // Read grant: decrypt yes, wrap no.
  const std::string read_grant = Grant(*alice, key, User("bob").id, {"decrypt-datakey", "describe-key"});
  EXPECT_TRUE(bob->DecryptDataKey(key, wrapped, 64, {}).value().Equals(dek));
  ExpectDenied(bob->EncryptDataKey(key, dek, {}).status(), "read grant encrypt");
  // Only the owner manages grants.
  ExpectDenied(bob->RevokeGrant(key, read_grant), "grantee revokes");
  ListGrantsRequest lg;
  lg.key_id = key;
  GrantList grants = alice->ListGrants(lg).value();
  ASSERT_EQ(grants.grants.size(), 1u);
  EXPECT_EQ(grants.grants[0].grant_id, read_grant);
  EXPECT_EQ(grants.grants[0].grantee_principal, User("bob").id);
  EXPECT_EQ(grants.grants[0].issuing_principal, User("alice").id);
  EXPECT_EQ(grants.total, 1);

  // Revoked: denied again.
  ASSERT_TRUE(alice->RevokeGrant(key, read_grant).ok());
  ExpectDenied(bob->DecryptDataKey(key, wrapped, 64, {}).status(), "revoked");

  // Retired by the retiring principal (carol), who sees it as retirable.
  const std::string write_grant =
      Grant(*alice, key, User("bob").id, {"decrypt-datakey", "encrypt-datakey"}, User("carol").id);
  EXPECT_TRUE(bob->EncryptDataKey(key, dek, {}).ok());
  GrantList retirable = carol->ListRetirableGrants({}).value();
  ASSERT_EQ(retirable.grants.size(), 1u);
  EXPECT_EQ(retirable.grants[0].grant_id, write_grant);
  ASSERT_TRUE(carol->RetireGrant(key, write_grant).ok());
  ExpectDenied(bob->EncryptDataKey(key, dek, {}).status(), "retired");
  ExpectDenied(bob->DecryptDataKey(key, wrapped, 64, {}).status(), "retired");

  // A grantee holding retire-grant may retire its own grant.
  const std::string self_grant = Grant(*alice, key, User("bob").id, {"decrypt-datakey", "retire-grant"});
  EXPECT_TRUE(bob->DecryptDataKey(key, wrapped, 64, {}).ok());
  EXPECT_TRUE(bob->RetireGrant(key, self_grant).ok());
  ExpectDenied(bob->DecryptDataKey(key, wrapped, 64, {}).status(), "self-retired");
}

TEST_F(HttpClientIntegrationTest, PasswordLoginAndStaticTokenBothWork) {
  for (Auth auth : {Auth::kPassword, Auth::kToken}) {
    SCOPED_TRACE(auth == Auth::kPassword ? "password" : "token");
    auto alice = Client("alice", auth);
    StatusOr<std::string> id = alice->UserId();
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(*id, User("alice").id);
    EXPECT_NE(alice->PrincipalDescription().find("alice"), std::string::npos) << alice->PrincipalDescription();
    EXPECT_NE(alice->PrincipalDescription().find(User("alice").id), std::string::npos);
    const std::string key = NewKey(*alice, auth == Auth::kPassword ? "by-password" : "by-token");
    SecretBytes dek = SecretBytes::Random(64);
    EXPECT_TRUE(alice->DecryptDataKey(key, alice->EncryptDataKey(key, dek, {}).value(), 64, {}).value().Equals(dek));
    EXPECT_EQ(alice->stats().auth_refreshes, 0u);
  }
}

// Plain HTTP goes only to loopback; a proxy named in the environment would
// see the password, the token and the keys in the clear, so it is never used.
TEST_F(HttpClientIntegrationTest, PlainHttpToLoopbackNeverGoesThroughAProxy) {
  const int proxy = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(proxy, 0);
  struct sockaddr_in addr {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(proxy, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(proxy, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(proxy, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  struct EnvRestore {
    ~EnvRestore() {
      for (const char* name : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(name);
    }
  } restore;
  for (const char* name : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}) ::setenv(name, proxy_url.c_str(), 1);
  auto alice = Client("alice", Auth::kPassword);
  const std::string key = NewKey(*alice, "no-proxy");
  SecretBytes dek = SecretBytes::Random(64);
  EXPECT_TRUE(alice->DecryptDataKey(key, alice->EncryptDataKey(key, dek, {}).value(), 64, {}).value().Equals(dek));
  // Nobody ever connected to the proxy.
  const int conn = ::accept(proxy, nullptr, nullptr);
  EXPECT_LT(conn, 0) << "the client connected to the proxy";
  if (conn >= 0) ::close(conn);
  ::close(proxy);
}

TEST_F(HttpClientIntegrationTest, WrongPasswordIsUnauthenticated) {
  ConnectionConfig c = Config(User("alice"), Auth::kPassword);
  c.password = SecretBytes::CopyFrom(std::vector<uint8_t>{'n', 'o', 'p', 'e'});
  auto alice = HttpClient::New(std::move(c)).value();
  Status s = alice->ListKeys({}).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_EQ(KmsHttpStatus(s), 401);
  EXPECT_NE(s.message().find("IAM login as alice"), std::string::npos) << s.message();
}

TEST_F(HttpClientIntegrationTest, UnknownTokenIsUnauthenticated) {
  ConnectionConfig c = Config(User("alice"), Auth::kToken);
  c.token = SecretFromText("not-a-token");
  auto alice = HttpClient::New(std::move(c)).value();
  Status s = alice->ListKeys({}).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_EQ(KmsErrorCode(s), "KMS.0302");
}

TEST_F(HttpClientIntegrationTest, TokenOfAnotherProjectIsRefused) {
  ConnectionConfig c = Config(User("alice"), Auth::kToken);
  c.project_id = User("bob").project_id;
  auto alice = HttpClient::New(std::move(c)).value();
  Status s = alice->ListKeys({}).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_EQ(KmsErrorCode(s), "KMS.0321");
}

TEST_F(HttpClientIntegrationTest, KmsGoneIsUnavailableAfterRetries) {
  auto alice = Client("alice", Auth::kToken);
  const std::string key = NewKey(*alice, "gone");
  kmsd_->Kill();
  Status s = alice->DescribeKey(key).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("cannot reach the KMS"), std::string::npos);
  EXPECT_EQ(alice->stats().retries, 3u);
}

TEST_F(HttpClientIntegrationTest, ConcurrentWrapUnwrapPairsAreAllCorrect) {
  constexpr int kThreads = 8;
  constexpr int kPairs = 1000;
  auto alice = Client("alice");
  const std::string key = NewKey(*alice, "busy");
  std::atomic<int> good{0};
  std::atomic<int> bad{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPairs; ++i) {
        const EncryptionContext ctx = {{"kmsfs_file_id", std::to_string(t) + "-" + std::to_string(i)}};
        SecretBytes dek = SecretBytes::Random(64);
        StatusOr<std::string> wrapped = alice->EncryptDataKey(key, dek, ctx);
        StatusOr<SecretBytes> back =
            wrapped.ok() ? alice->DecryptDataKey(key, *wrapped, 64, ctx) : StatusOr<SecretBytes>(wrapped.status());
        if (back.ok() && back->Equals(dek)) {
          ++good;
        } else {
          if (bad++ == 0) ADD_FAILURE() << (back.ok() ? "wrong key back" : back.status().ToString());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d threads x %d encrypt/decrypt-datakey pairs: %.1f s, %.0f calls/s\n", kThreads, kPairs, secs,
              2.0 * kThreads * kPairs / secs);
  EXPECT_EQ(good.load(), kThreads * kPairs);
  EXPECT_EQ(bad.load(), 0);
  const ClientStats stats = alice->stats();
  EXPECT_EQ(stats.errors, 0u);
  EXPECT_EQ(stats.calls, static_cast<uint64_t>(2 * kThreads * kPairs + 1));
}

size_t ThreadsOfThisProcess() {
  size_t n = 0;
  std::error_code ec;
  for ([[maybe_unused]] const auto& t : std::filesystem::directory_iterator("/proc/self/task", ec)) ++n;
  return n;
}

// Calls in flight are sockets, not threads: a hundred wraps sent at once to a
// KMS that takes 50 ms for each are all answered in a few round trips, and
// the process has no thread more while they are in flight.
TEST_F(HttpClientIntegrationTest, AHundredCallsAreOnTheWireAtOnceOnOneThread) {
  KmsdProcess::Options slow;
  slow.latency_ms = 50;
  StartKmsd(std::move(slow));
  auto alice = Client("alice", Auth::kToken);
  const std::string key = NewKey(*alice, "many");
  ASSERT_FALSE(key.empty());
  const size_t threads_before = ThreadsOfThisProcess();

  constexpr int kCalls = 100;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  int good = 0;
  std::vector<SecretBytes> deks;
  for (int i = 0; i < kCalls; ++i) deks.push_back(SecretBytes::Random(64));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    alice->EncryptDataKeyAsync(key, deks[static_cast<size_t>(i)], {{"kmsfs_file_id", std::to_string(i)}},
                               Priority::kRefill, [&](StatusOr<std::string> wrapped) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 ++answered;
                                 if (wrapped.ok() && !wrapped->empty()) ++good;
                                 cv.notify_all();
                               });
  }
  size_t most_threads = 0;
  uint64_t most_in_flight = 0;
  {
    std::unique_lock<std::mutex> lock(mu);
    const auto deadline = start + std::chrono::seconds(30);
    while (answered < kCalls && std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      most_threads = std::max(most_threads, ThreadsOfThisProcess());
      most_in_flight = std::max(most_in_flight, alice->executor_stats().in_flight);
      lock.lock();
      cv.wait_for(lock, milliseconds(1));
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  std::printf("%d wraps at 50 ms KMS latency: %.3f s, %llu in flight at most\n", kCalls,
              std::chrono::duration<double>(took).count(), static_cast<unsigned long long>(most_in_flight));
  EXPECT_EQ(answered, kCalls);
  EXPECT_EQ(good, kCalls);
  EXPECT_LE(most_threads, threads_before) << "a call in flight cost a thread";
  // At least half of them on the wire at once: the wait is about one round
  // trip, not a hundred (the time itself is printed, not asserted: it is the
  // machine's as much as the client's).
  EXPECT_GE(most_in_flight, 50u);
}

// Hex of `key` in both cases, in wiped memory; scans skip these buffers.
struct HexNeedles {
  explicit HexNeedles(const SecretBytes& key) {
    AppendHexUpper(key.span(), upper);
    lower = upper;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t CountElsewhere() const {
    const std::vector<kmsfs::testing::MemoryRange> skip = {Range(upper), Range(lower)};
    return kmsfs::testing::CountInProcessMemory(std::string_view(upper.data(), upper.size()), skip) +
           kmsfs::testing::CountInProcessMemory(std::string_view(lower.data(), lower.size()), skip);
  }
  static kmsfs::testing::MemoryRange Range(const SecureString& s) {
    const auto begin = reinterpret_cast<uintptr_t>(s.data());
    return {begin, begin + s.size()};
  }
  SecureString upper;
  SecureString lower;
};

// The DEK crossed the wire as hex in a create-datakey answer, a
// decrypt-datakey answer and an encrypt-datakey request. No hex copy of it may
// remain anywhere in this process afterwards: not in freed response bodies,
// not in libcurl's receive buffer of the still-open connection, not in the
// request buffer libcurl built, whether the client lives on or is gone.
TEST_F(HttpClientIntegrationTest, DataKeysLeaveNoHexCopyInProcessMemory) {
  auto alice = Client("alice");
  const std::string key = NewKey(*alice, "no-copies");
  ASSERT_FALSE(key.empty());
  const EncryptionContext ctx = {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}};
  const SecretBytes sent = SecretBytes::Random(64);
  StatusOr<std::string> wrapped = alice->EncryptDataKey(key, sent, ctx);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  StatusOr<DataKey> created = alice->CreateDataKey(key, 64, ctx);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // Last, so that no later answer overwrites what it left behind.
  StatusOr<SecretBytes> unwrapped = alice->DecryptDataKey(key, created->cipher_text, 64, ctx);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  ASSERT_TRUE(unwrapped->Equals(created->plain));

  const HexNeedles received(created->plain);
  const HexNeedles outgoing(sent);
  EXPECT_EQ(received.CountElsewhere(), 0u) << "hex of a received DEK left in memory while the client lives";
  EXPECT_EQ(outgoing.CountElsewhere(), 0u) << "hex of a sent DEK left in memory while the client lives";
  alice.reset();
  EXPECT_EQ(received.CountElsewhere(), 0u) << "hex of a received DEK left in memory after the client";
  EXPECT_EQ(outgoing.CountElsewhere(), 0u) << "hex of a sent DEK left in memory after the client";
}

// The scan can find what it looks for: a copy in an ordinary string is seen.
TEST_F(HttpClientIntegrationTest, MemoryScanFindsAPlainCopy) {
  const SecretBytes key = SecretBytes::Random(64);
  const HexNeedles needles(key);
  auto* plain = new std::string(needles.upper.data(), needles.upper.size());
  EXPECT_GE(needles.CountElsewhere(), 1u);
  delete plain;
}

class HttpClientTlsTest : public HttpClientIntegrationTest {
 protected:
  void SetUp() override {
    cert_ = dir_.Join("cert.pem");
    key_ = dir_.Join("key.pem");
    kmsfs::testing::CommandResult r = kmsfs::testing::RunCommand(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key_, "-out", cert_, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    KmsdProcess::Options opts;
    opts.tls_cert = cert_;
    opts.tls_key = key_;
    StartKmsd(std::move(opts));
  }
  kmsfs::testing::TempDir dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(HttpClientTlsTest, VerifiesTheServerWithTheGivenCa) {
  ASSERT_EQ(kmsd_->endpoint().substr(0, 8), "https://");
  ConnectionConfig c = Config(User("alice"), Auth::kPassword);
  c.ca_file = cert_;
  auto alice = HttpClient::New(std::move(c)).value();
  const std::string key = NewKey(*alice, "over-tls");
  ASSERT_FALSE(key.empty());
  SecretBytes dek = SecretBytes::Random(64);
  EXPECT_TRUE(alice->DecryptDataKey(key, alice->EncryptDataKey(key, dek, {}).value(), 64, {}).value().Equals(dek));
}

TEST_F(HttpClientTlsTest, DataKeysLeaveNoHexCopyInProcessMemory) {
  ConnectionConfig c = Config(User("alice"), Auth::kPassword);
  c.ca_file = cert_;
  auto alice = HttpClient::New(std::move(c)).value();
  const std::string key = NewKey(*alice, "no-copies-tls");
  ASSERT_FALSE(key.empty());
  const SecretBytes sent = SecretBytes::Random(64);
  ASSERT_TRUE(alice->EncryptDataKey(key, sent, {}).ok());
  StatusOr<DataKey> created = alice->CreateDataKey(key, 64, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(alice->DecryptDataKey(key, created->cipher_text, 64, {}).ok());
  const HexNeedles received(created->plain);
  const HexNeedles outgoing(sent);
  EXPECT_EQ(received.CountElsewhere(), 0u) << "hex of a received DEK left in memory (TLS)";
  EXPECT_EQ(outgoing.CountElsewhere(), 0u) << "hex of a sent DEK left in memory (TLS)";
}

TEST_F(HttpClientTlsTest, UnknownCertificateFailsClearly) {
  auto alice = HttpClient::New(Config(User("alice"), Auth::kPassword));
  ASSERT_TRUE(alice.ok());
  Status s = (*alice)->ListKeys({}).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("certificate"), std::string::npos) << s.message();
}

TEST_F(HttpClientTlsTest, InsecureModeSkipsVerification) {
  ConnectionConfig c = Config(User("alice"), Auth::kPassword);
  c.insecure_skip_tls_verify = true;
  auto alice = HttpClient::New(std::move(c)).value();
  EXPECT_TRUE(alice->ListKeys({}).ok());
}

}  // namespace
}  // namespace kmsfs::kms
