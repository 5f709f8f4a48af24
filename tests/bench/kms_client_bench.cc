// kms_client_bench: encrypt-datakey and decrypt-datakey calls per second
// through HttpClient against a real local kmsd (keep-alive connections,
// password login once), with 1 and 8 client threads sharing one client.
//
//   build/tests/bench/kms_client_bench
// kmsd is started from $KMSFS_BUILD_DIR (default: this build's directory).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "kms/http_kms_client.h"
#include "tests/testutil/kmsd_process.h"

namespace kmsfs::kms {
namespace {

struct Env {
  std::unique_ptr<kmsfs::testing::KmsdProcess> kmsd;
  std::unique_ptr<HttpClient> client;
  std::string key_id;
  std::string wrapped;  // a DEK wrapped under key_id with kContext
};

const EncryptionContext& Context() {
  static const EncryptionContext ctx = {{"kmsfs_file_id", "00112233445566778899aabbccddeeff"}};
  return ctx;
}

// Set up by main() before the benchmarks run, torn down (kmsd stopped) after.
std::unique_ptr<Env> g_env;

Env* SharedEnv() { return g_env.get(); }

std::unique_ptr<Env> MakeEnv() {
  setenv("KMSFS_BUILD_DIR", KMSFS_DEFAULT_BUILD_DIR, /*overwrite=*/0);
  auto e = std::make_unique<Env>();
  e->kmsd = kmsfs::testing::KmsdProcess::Start({});
  if (!e->kmsd) return nullptr;
  const kmsfs::testing::KmsdUser alice = kmsfs::testing::DefaultTestUsers().front();
  ConnectionConfig c;
  c.endpoint = e->kmsd->endpoint();
  c.project_id = alice.project_id;
  c.auth_url = e->kmsd->endpoint() + "/v3";
  c.username = alice.name;
  c.domain = alice.domain;
  c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(alice.password.data()), alice.password.size()});
  auto client = HttpClient::New(std::move(c));
  if (!client.ok()) return nullptr;
  e->client = std::move(client).value();
  CreateKeyRequest req;
  req.key_alias = "bench";
  auto key = e->client->CreateKey(req);
  if (!key.ok()) return nullptr;
  e->key_id = key->key_id;
  auto wrapped = e->client->EncryptDataKey(e->key_id, SecretBytes::Random(64), Context());
  if (!wrapped.ok()) return nullptr;
  e->wrapped = *wrapped;
  return e;
}

void BM_EncryptDataKey(benchmark::State& state) {
  Env* env = SharedEnv();
  if (env == nullptr) {
    state.SkipWithError("kmsd or the client did not start");
    return;
  }
  SecretBytes dek = SecretBytes::Random(64);
  for (auto _ : state) {
    StatusOr<std::string> wrapped = env->client->EncryptDataKey(env->key_id, dek, Context());
    if (!wrapped.ok()) {
      state.SkipWithError(wrapped.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(wrapped->data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DecryptDataKey(benchmark::State& state) {
  Env* env = SharedEnv();
  if (env == nullptr) {
    state.SkipWithError("kmsd or the client did not start");
    return;
  }
  for (auto _ : state) {
    StatusOr<SecretBytes> dek = env->client->DecryptDataKey(env->key_id, env->wrapped, 64, Context());
    if (!dek.ok()) {
      state.SkipWithError(dek.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(dek->data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_EncryptDataKey)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK(BM_DecryptDataKey)->Threads(1)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace kmsfs::kms

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kmsfs::kms::g_env = kmsfs::kms::MakeEnv();
  if (!kmsfs::kms::g_env) {
    std::fprintf(stderr, "kms_client_bench: could not start kmsd or log in\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kmsfs::kms::g_env.reset();  // stops kmsd
  return 0;
}
