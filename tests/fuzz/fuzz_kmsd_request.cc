// libFuzzer target: kmsd's request handling without sockets.
//
// Service::Handle(caller, action, body) is what the HTTP front end calls for
// POST /v1.0/{project}/kms/{action}; Identity::Login and Authenticate serve
// POST /v3/auth/tokens and the X-Auth-Token check. The target builds, once, a
// Store in a temporary directory with two users (alice owns the keys, bob is
// in another domain) and alice's keys in every interesting state: her
// domain's default key, an enabled key with a grant to bob, an external key
// awaiting import, an imported key whose material expires in a day and a key
// scheduled for deletion in 7 days; plus data-key and data ciphertexts, an
// import token with matching wrapped material and an IAM token.
//
// Input: byte 0 picks the action (bits 0-4, modulo fuzz_util.h kKmsdActions,
// which ends with the pseudo-actions "login" and "authenticate"), the caller
// (bit 7: bob instead of alice) and the time (bit 6: 8 days after set-up, so
// the scheduled deletion, the material expiry and token expiry are due); the
// rest is the body. Placeholders in the body are replaced by the real values
// of the set-up state, so seeds (and mutations of them) reach past the key
// lookup: @KEY@, @DKEY@ (default key), @XKEY@ (awaiting import), @EKEY@
// (expiring material), @DOOMED@ (scheduled for deletion), @CT@ (hex data-key
// envelope under @KEY@), @DATA@ (Base64 data envelope under @KEY@), @GRANT@,
// @ITOKEN@ (import token for @XKEY@), @MATERIAL@ (key material wrapped for
// that token) and @TOKEN@ (alice's IAM token).
//
// Each input runs inside one store transaction that is rolled back afterwards
// (the service's own transactions join it), so every input starts from the
// same state and a crash reproduces alone.
//
// Invariants: nothing throws; a failure is a documented KMS error, never an
// internal one answered as HTTP 500, and (at set-up time, when no purge or
// expiry is due) leaves every key, material version and grant as it was; a
// success is a JSON object that serialises as strict UTF-8. Login fails only with 400, 401 or 404;
// Authenticate only with KMS.0301/0302/0303.
#include <stdlib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/secret_bytes.h"
#include "kms/server/api_error.h"
#include "kms/server/identity.h"
#include "kms/server/root_key.h"
#include "kms/server/service.h"
#include "kms/server/store.h"
#include "kms/server/users_file.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/server/byok_util.h"

namespace kmsfs::fuzz {
namespace {

using kms::server::Caller;
using Json = nlohmann::json;

constexpr std::string_view kPassword = "fuzz-password";

struct World {
  std::string dir;
  FakeClock clock;
  std::unique_ptr<kms::server::Store> store;
  std::unique_ptr<kms::server::RootKeyring> ring;
  std::unique_ptr<kms::server::Service> service;
  std::unique_ptr<kms::server::Identity> identity;
  Caller alice;
  Caller bob;
  std::vector<std::pair<std::string, std::string>> placeholders;
  int64_t start_ms = 0;
  std::string snapshot;  // Snapshot() of the set-up state
};

constexpr int64_t kLaterMs = 8 * 86'400'000LL;

std::unique_ptr<World> g_world;

// At exit: close the store, then remove its directory.
void DestroyWorld() {
  if (g_world == nullptr) return;
  const std::string dir = g_world->dir;
  g_world.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Runs a set-up call that must succeed.
Json MustHandle(World& w, const Caller& c, std::string_view action, const Json& body) {
  auto r = w.service->Handle(c, action, body.dump());
  if (!r.ok()) {
    std::fprintf(stderr, "fuzz set-up: %.*s failed: %s\n", static_cast<int>(action.size()), action.data(),
                 r.status().ToString().c_str());
  }
  KMSFS_FUZZ_CHECK(r.ok());
  return *r;
}

Caller AddUser(World& w, const std::string& name, const std::string& domain, const std::string& project) {
  kms::server::UserSpec spec;
  spec.name = name;
  spec.id = name + "1";
  spec.project_id = project;
  spec.domain = domain;
  spec.domain_id = kms::server::DomainIdFor(domain);
  spec.password = SecretBytes::CopyFrom(
      {reinterpret_cast<const uint8_t*>(kPassword.data()), kPassword.size()});
  auto record = w.identity->MakeUserRecord(spec, /*builtin=*/false);
  KMSFS_FUZZ_CHECK(record.ok());
  KMSFS_FUZZ_CHECK(w.store->PutUser(*record).ok());
  return Caller{spec.id, spec.name, spec.domain_id, spec.domain, spec.project_id};
}

// The keys of both users' projects with every stored field, their grants and
// which material versions exist, read straight from the store (no lazy purge).
std::string Snapshot(World& w) {
  std::string out;
  for (const Caller* c : {&w.alice, &w.bob}) {
    auto keys = w.store->ListKeys(c->project_id);
    KMSFS_FUZZ_CHECK(keys.ok());
    for (const kms::server::KeyRecord& k : *keys) {
      Json j = {k.key_id, k.domain_id, k.project_id, k.key_alias, k.realm, k.key_description, k.key_spec,
                k.key_usage, k.key_type, k.origin, k.key_state, k.default_key, k.creation_ms,
                k.scheduled_deletion_ms, k.expiration_ms, k.rotation_enabled, k.rotation_interval_days,
                k.last_rotation_ms, k.number_of_rotations, k.current_version, k.import_fingerprint};
      out += j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      for (uint32_t v = 0; v <= k.current_version; ++v) {
        auto m = w.store->GetMaterial(k.key_id, v);
        KMSFS_FUZZ_CHECK(m.ok());
        out += m->has_value() ? "m" : "-";
      }
      auto grants = w.store->ListGrantsForKey(k.key_id);
      KMSFS_FUZZ_CHECK(grants.ok());
      for (const kms::server::GrantRecord& g : *grants) {
        Json gj = {g.grant_id, g.grantee_principal, g.grantee_type, g.operations, g.issuing_principal, g.name,
                   g.retiring_principal, g.creation_ms};
        out += gj.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
      }
    }
  }
  return out;
}

World& GetWorld() {
  if (g_world != nullptr) return *g_world;
  g_world = std::make_unique<World>();
  World* w = g_world.get();
  char tmpl[] = "/tmp/kmsfs-fuzz-kmsd.XXXXXX";
  KMSFS_FUZZ_CHECK(mkdtemp(tmpl) != nullptr);
  w->dir = tmpl;
  atexit(DestroyWorld);

  auto store = kms::server::Store::Open(w->dir + "/kmsd.db");
  KMSFS_FUZZ_CHECK(store.ok());
  w->store = std::move(store).value();
  SecretBytes root(kms::server::kRootKeySize);
  for (uint8_t& b : root.mutable_span()) b = 0x11;
  auto ring = kms::server::RootKeyring::FromBytes(root);
  KMSFS_FUZZ_CHECK(ring.ok());
  w->ring = std::move(ring).value();
  w->service = std::make_unique<kms::server::Service>(w->store.get(), w->ring.get(), &w->clock,
                                                      kms::server::Service::Options{});
  kms::server::Identity::Options identity_options;
  identity_options.token_ttl_sec = 3600;
  // The cheapest Argon2id libsodium allows: the fuzzer runs many logins.
  identity_options.hashing.opslimit = 1;
  identity_options.hashing.memlimit = 8192;
  w->identity = std::make_unique<kms::server::Identity>(w->store.get(), &w->clock, identity_options);
  w->alice = AddUser(*w, "alice", "alice-domain", "projA");
  w->bob = AddUser(*w, "bob", "bob-domain", "projB");

  const std::string key = MustHandle(*w, w->alice, "create-key", {{"key_alias", "fuzz"}})["key_info"]["key_id"];
  KMSFS_FUZZ_CHECK(w->service->EnsureDefaultKey(w->alice.domain_id, w->alice.project_id).ok());
  const std::string dkey = MustHandle(*w, w->alice, "describe-key",
                                      {{"key_id", "alias/kmsfs/default"}})["key_info"]["key_id"];
  const std::string doomed =
      MustHandle(*w, w->alice, "create-key", {{"key_alias", "fuzz-doomed"}})["key_info"]["key_id"];
  MustHandle(*w, w->alice, "schedule-key-deletion", {{"key_id", doomed}, {"pending_days", "7"}});
  const std::string ct =
      MustHandle(*w, w->alice, "create-datakey", {{"key_id", key}, {"datakey_length", "512"}})["cipher_text"];
  const std::string data =
      MustHandle(*w, w->alice, "encrypt-data", {{"key_id", key}, {"plain_text", "12345678"}})["cipher_text"];
  const std::string grant =
      MustHandle(*w, w->alice, "create-grant",
                 {{"key_id", key},
                  {"grantee_principal", w->bob.user_id},
                  {"operations", {"describe-key", "decrypt-datakey", "create-datakey", "retire-grant"}},
                  {"retiring_principal", w->alice.user_id}})["grant_id"];

  std::vector<uint8_t> material(32);
  for (size_t i = 0; i < material.size(); ++i) material[i] = static_cast<uint8_t>(0x40 + i);
  auto import_params = [&](const std::string& key_id) {
    return MustHandle(*w, w->alice, "get-parameters-for-import",
                      {{"key_id", key_id}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}});
  };
  auto wrap = [&](const Json& params) {
    std::string wrapped =
        testing::WrapKeyMaterial(params["public_key"].get<std::string>(), "RSAES_OAEP_SHA_256", material);
    KMSFS_FUZZ_CHECK(!wrapped.empty());
    return wrapped;
  };
  const std::string ekey = MustHandle(*w, w->alice, "create-key",
                                      {{"key_alias", "fuzz-expiring"}, {"origin", "external"}})["key_info"]["key_id"];
  const Json eparams = import_params(ekey);
  MustHandle(*w, w->alice, "import-key-material",
             {{"key_id", ekey},
              {"import_token", eparams["import_token"]},
              {"encrypted_key_material", wrap(eparams)},
              {"expiration_time", w->clock.WallNowSec() + 86400}});
  const std::string xkey = MustHandle(*w, w->alice, "create-key",
                                      {{"key_alias", "fuzz-byok"}, {"origin", "external"}})["key_info"]["key_id"];
  const Json xparams = import_params(xkey);

  auto alice_record = w->store->FindUserById(w->alice.user_id);
  KMSFS_FUZZ_CHECK(alice_record.ok() && alice_record->has_value());
  auto token = w->identity->IssueToken(**alice_record);
  KMSFS_FUZZ_CHECK(token.ok());

  w->placeholders = {{"@KEY@", key},       {"@DKEY@", dkey},   {"@XKEY@", xkey},
                     {"@EKEY@", ekey},     {"@DOOMED@", doomed}, {"@CT@", ct},
                     {"@DATA@", data},     {"@GRANT@", grant}, {"@ITOKEN@", xparams["import_token"]},
                     {"@MATERIAL@", wrap(xparams)}, {"@TOKEN@", token->token}};
  w->start_ms = w->clock.WallNowMs();
  w->snapshot = Snapshot(*w);
  return *w;
}

std::string Substitute(const World& w, std::string body) {
  for (const auto& [from, to] : w.placeholders) {
    for (size_t pos = body.find(from); pos != std::string::npos; pos = body.find(from, pos + to.size())) {
      body.replace(pos, from.size(), to);
    }
  }
  return body;
}

void CheckStrictJson(const Json& j) {
  try {
    (void)j.dump();
  } catch (const Json::exception&) {
    KMSFS_FUZZ_CHECK(!"response is not strict UTF-8 JSON");
  }
}

// KMSFS_FUZZ_VERBOSE=1: one line per input naming the action and its answer
// (to check that the seeds reach the paths they are meant to).
bool Verbose() {
  static const bool verbose = getenv("KMSFS_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void RunKms(World& w, const Caller& caller, std::string_view action, const std::string& body, bool later) {
  auto result = w.service->Handle(caller, action, body);
  if (Verbose()) {
    std::fprintf(stderr, "%s %.*s: %s\n", caller.user_name.c_str(), static_cast<int>(action.size()), action.data(),
                 result.ok() ? "OK" : std::string(kms::server::ApiErrorCode(result.status())).c_str());
  }
  if (!result.ok()) {
    const Status& st = result.status();
    if (kms::server::HttpStatusFor(st) == 500) {
      std::fprintf(stderr, "%.*s answered 500: %s\n", static_cast<int>(action.size()), action.data(),
                   st.ToString().c_str());
    }
    KMSFS_FUZZ_CHECK(kms::server::HttpStatusFor(st) != 500);
    KMSFS_FUZZ_CHECK(!kms::server::ApiErrorCode(st).empty());
    CheckStrictJson(kms::server::ErrorBody(st));
    // Nothing is due at set-up time, so a refused request must change
    // nothing. (Refusals by the generic body checks, which run before any
    // action, are skipped: they are most inputs and cannot write.)
    const std::string code(kms::server::ApiErrorCode(st));
    if (!later && code != "KMS.0202" && code != "KMS.0204" && code != "KMS.0206") {
      KMSFS_FUZZ_CHECK(Snapshot(w) == w.snapshot);
    }
    return;
  }
  KMSFS_FUZZ_CHECK(result->is_object());
  CheckStrictJson(*result);
}

void RunLogin(World& w, const std::string& body) {
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return;  // the front end answers 400 itself
  std::chrono::milliseconds retry_after(0);
  auto token = w.identity->Login(doc, /*header_token=*/"", "10.0.0.1", &retry_after);
  if (Verbose()) std::fprintf(stderr, "login: %s\n", token.status().ToString().c_str());
  if (!token.ok()) {
    const StatusCode c = token.status().code();
    // kResourceExhausted: the login throttle after repeated failures.
    const bool expected = c == StatusCode::kInvalidArgument || c == StatusCode::kUnauthenticated ||
                          c == StatusCode::kNotFound || c == StatusCode::kResourceExhausted;
    if (!expected) {
      std::fprintf(stderr, "login answered 500: %s\n", token.status().ToString().c_str());
    }
    KMSFS_FUZZ_CHECK(expected);
    return;
  }
  KMSFS_FUZZ_CHECK(!token->token.empty());
  CheckStrictJson(kms::server::Identity::TokenBody(*token, kms::server::Catalog{"http://127.0.0.1:8765", "local"}));
  auto caller = w.identity->Authenticate(token->token);
  KMSFS_FUZZ_CHECK(caller.ok());
  KMSFS_FUZZ_CHECK(caller->user_id == token->caller.user_id);
}

void RunAuthenticate(World& w, const std::string& token) {
  auto caller = w.identity->Authenticate(token);
  if (caller.ok()) return;
  const std::string code(kms::server::ApiErrorCode(caller.status()));
  KMSFS_FUZZ_CHECK(code == "KMS.0301" || code == "KMS.0302" || code == "KMS.0303");
}

}  // namespace
}  // namespace kmsfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::fuzz;
  if (size < 1) return 0;
  World& w = GetWorld();
  const std::string_view action = kKmsdActions[(data[0] & 0x1f) % kKmsdActions.size()];
  const Caller& caller = (data[0] & 0x80) ? w.bob : w.alice;
  const bool later = (data[0] & 0x40) != 0;
  w.clock.SetWallMs(w.start_ms + (later ? kLaterMs : 0));
  const std::string body = Substitute(w, std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  // Roll everything back: the status returned here is never OK.
  kmsfs::Status rolled_back = w.store->RunInTransaction([&]() -> kmsfs::Status {
    if (action == "login") {
      RunLogin(w, body);
    } else if (action == "authenticate") {
      RunAuthenticate(w, body);
    } else {
      RunKms(w, caller, action, body, later);
    }
    return kmsfs::Status::FailedPrecondition("fuzz input rolled back");
  });
  KMSFS_FUZZ_CHECK(!rolled_back.ok());
  return 0;
}
