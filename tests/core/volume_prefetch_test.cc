// Key prefetch against a real kmsd: a cold Volume that was handed a
// directory listing opens every file of it without another KMS call, and
// with kmsd stopped the listing costs one failed call, not one per file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fs/core/volume.h"
#include "kms/http_kms_client.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;
using testing::KmsdProcess;

constexpr milliseconds kWait{60000};  // a bound for waits that end far sooner
constexpr int kFiles = 30;

std::string Name(int i) { return "f" + std::to_string(i); }
std::string Content(int i) { return "file " + std::to_string(i) + std::string(static_cast<size_t>(i) * 37, '#'); }

class VolumePrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    const testing::KmsdUser& alice = kmsd_->options().users.at(0);
    kms::ConnectionConfig c;
    c.endpoint = kmsd_->endpoint();
    c.project_id = alice.project_id;
    c.auth_url = kmsd_->endpoint() + "/v3";
    c.username = alice.name;
    c.domain = alice.domain;
    c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(alice.password.data()), alice.password.size()});
    c.retry.sleep = [](milliseconds) {};  // kmsd stopped: fail at once
    auto client = kms::HttpClient::New(std::move(c));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    kms_ = std::move(client).value();
    kms::CreateKeyRequest req;
    req.key_alias = "prefetch";
    auto key = kms_->CreateKey(req);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    config_.key_id = key->key_id;
    config_.project_id = alice.project_id;
    ASSERT_EQ(mkdir(dir_.Join("d").c_str(), 0755), 0);

    // The files, made by a volume of their own.
    auto writer = Open(0);
    ASSERT_NE(writer, nullptr);
    for (int i = 0; i < kFiles; ++i) {
      auto f = writer->CreateFile("d/" + Name(i), 0644, -1, -1, true);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      const std::string c = Content(i);
      ASSERT_TRUE((*f)->Write(0, {reinterpret_cast<const uint8_t*>(c.data()), c.size()}).ok());
    }
  }

  // A cold volume (empty cache) on the same backing directory, without a pool.
  std::unique_ptr<Volume> Open(size_t prefetch_concurrency) {
    VolumeOptions o;
    o.pool.target = 0;
    o.prefetch_concurrency = prefetch_concurrency;
    auto v = Volume::Open(dir_.path(), config_, kms_, o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  void ListD(Volume& v) {
    std::vector<std::string> names;
    for (int i = 0; i < kFiles; ++i) names.push_back(Name(i));
    UniqueFd d(open(dir_.Join("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(d.valid());
    v.PrefetchKeys(d.get(), std::move(names), "/d");
  }

  std::unique_ptr<KmsdProcess> kmsd_;
  std::shared_ptr<kms::HttpClient> kms_;
  format::VolumeConfig config_;
  testing::TempDir dir_;
};

TEST_F(VolumePrefetchTest, OpensAfterAListingMakeNoKmsCall) {
  auto v = Open(8);
  ASSERT_NE(v, nullptr);
  ListD(*v);
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.loaded, static_cast<uint64_t>(kFiles));
  EXPECT_EQ(s.prefetch.failed, 0u);
  EXPECT_EQ(s.kms_calls, static_cast<uint64_t>(kFiles));

  for (int i = 0; i < kFiles; ++i) {
    auto f = v->OpenFile("d/" + Name(i), false);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    std::string out(8192, '\0');
    auto n = (*f)->Read(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    out.resize(*n);
    EXPECT_EQ(out, Content(i));
  }
  EXPECT_EQ(v->stats().kms_calls, static_cast<uint64_t>(kFiles)) << "an open asked the KMS again";
}

TEST_F(VolumePrefetchTest, ListingWithKmsdStoppedCostsOneFailedCall) {
  auto v = Open(1);
  ASSERT_NE(v, nullptr);
  kmsd_->Stop();
  ListD(*v);
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.kms_calls, 1u);
  EXPECT_EQ(s.prefetch.failed, 1u);
  EXPECT_EQ(s.prefetch.dropped, static_cast<uint64_t>(kFiles - 1));
  auto f = v->OpenFile("d/" + Name(3), false);
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable) << f.status().ToString();
}

}  // namespace
}  // namespace kmsfs::core
