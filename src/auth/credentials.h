// Credentials for S3-compatible stores: static keys, STS temporary keys, IBM IAM bearer tokens;
// and the token cache that refreshes them before expiry, one refresh at a time.
//
// Secrets never appear in Describe(), in Status messages or in logs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "auth/sigv4.h"
#include "quarry/config.h"
#include "quarry/status.h"

namespace quarry::http {
class HttpClient;
}

namespace quarry::auth {

using Clock = std::chrono::system_clock;

struct Credential {
  enum class Kind { kAnonymous, kKeys, kBearer };
  Kind kind = Kind::kAnonymous;
  AwsCredentials keys;                       // kKeys (with session_token for temporary keys)
  std::string bearer;                        // kBearer
  std::optional<Clock::time_point> expires;  // nullopt: never
  bool exchanged = false;  // came from a token exchange (STS, IAM), not from configuration
};

// Where credentials come from. Fetch() may make a network exchange (STS, IAM).
class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  virtual Result<Credential> Fetch() = 0;
  // "IBM IAM api key at https://iam.cloud.ibm.com", without secrets; for messages.
  virtual std::string Describe() const = 0;
};

// Holds the current credential of one provider. Get() returns it while it is more than
// `refresh_margin` from expiry; otherwise one caller refreshes (single flight) and the others
// wait for that refresh instead of starting their own. Thread-safe.
class TokenCache {
 public:
  TokenCache(std::unique_ptr<CredentialProvider> provider, std::chrono::seconds refresh_margin);

  // Starts from a credential fetched elsewhere (e.g. on a job's driver).
  void Seed(Credential credential);

  Result<Credential> Get();
  // Fetches a new credential now (e.g. after the server rejected the current one).
  Result<Credential> Refresh();

  uint64_t fetches() const;
  const CredentialProvider& provider() const { return *provider_; }

 private:
  Result<Credential> RefreshLocked(std::unique_lock<std::mutex>& lock);

  std::unique_ptr<CredentialProvider> provider_;
  std::chrono::seconds margin_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Credential> current_;
  bool refreshing_ = false;
  uint64_t fetches_ = 0;
  Status last_error_;
};

// Builds the provider the options ask for, wrapped in a cache:
//   api_key [+ iam_endpoint]                  → IBM IAM bearer tokens
//   role_arn [+ sts_endpoint, role_session_name, duration_seconds] with base keys → AssumeRole
//   use_session_token=true with base keys     → GetSessionToken
//   access_key_id + secret_access_key         → static keys
//   nothing                                   → anonymous
// Credentials fetched on a driver arrive as `token` / `token_access_key_id` /
// `token_secret_access_key` / `token_session_token` / `token_expiration` (epoch seconds) and
// seed the cache. `token_refresh_margin` (seconds, default 300) sets the refresh margin.
// `http` is used for exchanges and must outlive the cache.
Result<std::shared_ptr<TokenCache>> MakeTokenCache(const StorageOptions& options,
                                                   std::string_view sts_region,
                                                   std::string_view default_sts_endpoint,
                                                   http::HttpClient* http);

// The options a driver ships to its workers: `options` plus the fetched credential (above).
StorageOptions WithFetchedCredential(const StorageOptions& options, const Credential& credential);

// Token exchanges made by this process since it started (all caches).
uint64_t CredentialFetchCount();
// Counts one token exchange made by a provider defined outside credentials.cc.
void CountCredentialFetch();

}  // namespace quarry::auth
