#include "auth/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace quarry::auth {
namespace {

// Hands out numbered tokens that live `ttl`; slow enough that concurrent callers overlap.
class CountingProvider final : public CredentialProvider {
 public:
  CountingProvider(std::atomic<int>* fetches, std::chrono::seconds ttl, bool fail = false)
      : fetches_(fetches), ttl_(ttl), fail_(fail) {}
  Result<Credential> Fetch() override {
    int n = ++*fetches_;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (fail_) return PermissionDenied("rejected by the test endpoint");
    Credential c;
    c.kind = Credential::Kind::kBearer;
    c.bearer = "token-" + std::to_string(n);
    c.expires = Clock::now() + ttl_;
    return c;
  }
  std::string Describe() const override { return "counting provider"; }

 private:
  std::atomic<int>* fetches_;
  std::chrono::seconds ttl_;
  bool fail_;
};

TEST(TokenCacheTest, SingleFlightAcrossThreads) {
  std::atomic<int> fetches{0};
  TokenCache cache(std::make_unique<CountingProvider>(&fetches, std::chrono::seconds(3600)),
                   std::chrono::seconds(60));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  threads.reserve(16);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) {
        auto c = cache.Get();
        if (c.ok() && c->bearer == "token-1") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(ok.load(), 1600);
}

TEST(TokenCacheTest, RefreshesBeforeExpiryOnce) {
  std::atomic<int> fetches{0};
  // Tokens live 2 s; the margin is 1 s: a token is replaced once it has 1 s left.
  TokenCache cache(std::make_unique<CountingProvider>(&fetches, std::chrono::seconds(2)),
                   std::chrono::seconds(1));
  EXPECT_EQ(cache.Get()->bearer, "token-1");
  EXPECT_EQ(cache.Get()->bearer, "token-1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { (void)cache.Get(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 2);
  EXPECT_EQ(cache.Get()->bearer, "token-2");
}

TEST(TokenCacheTest, SeededCredentialIsUsedWithoutFetching) {
  std::atomic<int> fetches{0};
  TokenCache cache(std::make_unique<CountingProvider>(&fetches, std::chrono::seconds(3600)),
                   std::chrono::seconds(60));
  Credential seeded;
  seeded.kind = Credential::Kind::kBearer;
  seeded.bearer = "from-driver";
  seeded.expires = Clock::now() + std::chrono::hours(1);
  cache.Seed(seeded);
  EXPECT_EQ(cache.Get()->bearer, "from-driver");
  EXPECT_EQ(fetches.load(), 0);
}

TEST(TokenCacheTest, FailedFetchIsReportedToEveryWaiter) {
  std::atomic<int> fetches{0};
  TokenCache cache(std::make_unique<CountingProvider>(&fetches, std::chrono::seconds(60), true),
                   std::chrono::seconds(1));
  std::vector<std::thread> threads;
  std::atomic<int> denied{0};
  threads.reserve(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (cache.Get().status().code() == StatusCode::kPermissionDenied) ++denied;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(denied.load(), 4);
  EXPECT_LE(fetches.load(), 4);
}

TEST(CredentialsTest, ShippedOptionsCarryTheFetchedCredential) {
  Credential c;
  c.kind = Credential::Kind::kKeys;
  c.exchanged = true;
  c.keys = {"TEMPKEY", "tempsecret", "sessiontoken"};
  c.expires = Clock::from_time_t(2000000000);
  StorageOptions base = {{"access_key_id", "BASE"}, {"role_arn", "arn:aws:iam:::role/r"}};
  auto shipped = WithFetchedCredential(base, c);
  EXPECT_EQ(shipped["token_access_key_id"], "TEMPKEY");
  EXPECT_EQ(shipped["token_expiration"], "2000000000");
  EXPECT_EQ(RedactedString(shipped).find("tempsecret"), std::string::npos);
  EXPECT_EQ(RedactedString(shipped).find("sessiontoken"), std::string::npos);
  // Static keys: nothing is added.
  Credential fixed;
  fixed.kind = Credential::Kind::kKeys;
  fixed.keys = {"BASE", "s", ""};
  EXPECT_EQ(WithFetchedCredential(base, fixed), base);
}

}  // namespace
}  // namespace quarry::auth
