#include "auth/credentials.h"

#include <atomic>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "http/http_client.h"

namespace quarry::auth {
namespace {

std::atomic<uint64_t> g_fetches{0};

std::string Get(const StorageOptions& o, const std::string& key, const std::string& fallback = "") {
  auto it = o.find(key);
  return it == o.end() || it->second.empty() ? fallback : it->second;
}

std::optional<int64_t> GetInt(const StorageOptions& o, const std::string& key) {
  std::string v = Get(o, key);
  if (v.empty()) return std::nullopt;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += UriEncode(k, false) + "=" + UriEncode(v, false);
  }
  return out;
}

// "2026-11-27T06:00:00Z" (STS) → time point.
std::optional<Clock::time_point> ParseIso8601(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return std::nullopt;
  return Clock::from_time_t(timegm(&tm));
}

std::string HostOf(const std::string& url) {
  auto p = url.find("://");
  size_t start = p == std::string::npos ? 0 : p + 3;
  auto end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

class StaticProvider final : public CredentialProvider {
 public:
  explicit StaticProvider(Credential c) : c_(std::move(c)) {}
  Result<Credential> Fetch() override { return c_; }
  std::string Describe() const override {
    return c_.kind == Credential::Kind::kAnonymous
               ? std::string("anonymous access")
               : "access key id '" + c_.keys.access_key_id + "'";
  }

 private:
  Credential c_;
};

// IBM Cloud IAM: api key → bearer token.
class IamProvider final : public CredentialProvider {
 public:
  IamProvider(std::string api_key, std::string endpoint, http::HttpClient* http)
      : api_key_(std::move(api_key)), endpoint_(std::move(endpoint)), http_(http) {}

  Result<Credential> Fetch() override {
    ++g_fetches;
    const std::string body = FormEncode(
        {{"grant_type", "urn:ibm:params:oauth:grant-type:apikey"}, {"apikey", api_key_}});
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, http_->Send(
                       [&](http::HttpRequest* r) {
                         r->method = "POST";
                         r->url = endpoint_;
                         r->body = body;
                         r->headers = {{"content-type", "application/x-www-form-urlencoded"},
                                       {"accept", "application/json"}};
                         return Status::Ok();
                       },
                       nullptr));
    if (resp.status == 400 || resp.status == 401 || resp.status == 403) {
      return Status(StatusCode::kPermissionDenied,
                    "the IBM IAM endpoint " + endpoint_ + " rejected the api key (HTTP " +
                        std::to_string(resp.status) +
                        "): check api_key / QUARRY_COS_API_KEY and iam_endpoint",
                    resp.status);
    }
    if (resp.status != 200) {
      return Status(StatusCode::kUnavailable,
                    "token request to the IBM IAM endpoint " + endpoint_ + " failed with HTTP " +
                        std::to_string(resp.status),
                    resp.status, http::IsRetryableHttpStatus(resp.status));
    }
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    if (j.is_discarded() || !j.contains("access_token") || !j["access_token"].is_string()) {
      return Status(StatusCode::kIoError,
                    "the IBM IAM endpoint " + endpoint_ + " sent no access_token in its reply");
    }
    Credential c;
    c.kind = Credential::Kind::kBearer;
    c.exchanged = true;
    c.bearer = j["access_token"].get<std::string>();
    if (j.contains("expiration") && j["expiration"].is_number()) {
      c.expires = Clock::from_time_t(static_cast<std::time_t>(j["expiration"].get<int64_t>()));
    } else if (j.contains("expires_in") && j["expires_in"].is_number()) {
      c.expires = Clock::now() + std::chrono::seconds(j["expires_in"].get<int64_t>());
    }
    return c;
  }

  std::string Describe() const override { return "IBM IAM api key at " + endpoint_; }

 private:
  std::string api_key_;
  std::string endpoint_;
  http::HttpClient* http_;
};

// STS AssumeRole / GetSessionToken, signed with the base keys.
class StsProvider final : public CredentialProvider {
 public:
  StsProvider(AwsCredentials base, std::string endpoint, std::string region, std::string role_arn,
              std::string session_name, int64_t duration, http::HttpClient* http)
      : base_(std::move(base)),
        endpoint_(std::move(endpoint)),
        region_(std::move(region)),
        role_arn_(std::move(role_arn)),
        session_name_(std::move(session_name)),
        duration_(duration),
        http_(http) {}

  Result<Credential> Fetch() override {
    ++g_fetches;
    std::vector<std::pair<std::string, std::string>> form = {{"Version", "2011-06-15"}};
    if (role_arn_.empty()) {
      form.emplace_back("Action", "GetSessionToken");
    } else {
      form.emplace_back("Action", "AssumeRole");
      form.emplace_back("RoleArn", role_arn_);
      form.emplace_back("RoleSessionName", session_name_);
    }
    form.emplace_back("DurationSeconds", std::to_string(duration_));
    const std::string body = FormEncode(form);
    const std::string host = HostOf(endpoint_);
    QUARRY_ASSIGN_OR_RETURN(
        auto resp,
        http_->Send(
            [&](http::HttpRequest* r) {
              r->method = "POST";
              r->url = endpoint_;
              r->body = body;
              SignableRequest sr;
              sr.method = "POST";
              sr.host = host;
              sr.encoded_path = "/";
              sr.headers = {{"content-type", "application/x-www-form-urlencoded"}};
              sr.payload_hash = Sha256Hex(body);
              r->headers = sr.headers;
              for (auto& h : SignRequest(sr, base_, region_, "sts", std::time(nullptr))) {
                r->headers.push_back(std::move(h));
              }
              return Status::Ok();
            },
            nullptr));
    if (resp.status != 200) {
      pugi::xml_document doc;
      doc.load_buffer(resp.body.data(), resp.body.size());
      std::string code = doc.child("ErrorResponse").child("Error").child_value("Code");
      if (code.empty()) code = doc.child("Error").child_value("Code");
      StatusCode sc = resp.status == 403 || resp.status == 401 ? StatusCode::kPermissionDenied
                      : resp.status >= 500                     ? StatusCode::kUnavailable
                                                               : StatusCode::kInvalidArgument;
      return Status(sc,
                    Describe() + " failed with HTTP " + std::to_string(resp.status) +
                        (code.empty() ? "" : " " + code) +
                        ": check role_arn, the base keys (access key id '" + base_.access_key_id +
                        "') and sts_endpoint",
                    resp.status);
    }
    pugi::xml_document doc;
    doc.load_buffer(resp.body.data(), resp.body.size());
    auto root = doc.first_child();  // AssumeRoleResponse or GetSessionTokenResponse
    auto creds = root.first_child().child("Credentials");
    Credential c;
    c.kind = Credential::Kind::kKeys;
    c.exchanged = true;
    c.keys.access_key_id = creds.child_value("AccessKeyId");
    c.keys.secret_access_key = creds.child_value("SecretAccessKey");
    c.keys.session_token = creds.child_value("SessionToken");
    c.expires = ParseIso8601(creds.child_value("Expiration"));
    if (c.keys.access_key_id.empty() || c.keys.secret_access_key.empty()) {
      return Status(StatusCode::kIoError, Describe() + ": the reply holds no credentials");
    }
    return c;
  }

  std::string Describe() const override {
    return role_arn_.empty() ? "STS GetSessionToken at " + endpoint_
                             : "STS AssumeRole of '" + role_arn_ + "' at " + endpoint_;
  }

 private:
  AwsCredentials base_;
  std::string endpoint_, region_, role_arn_, session_name_;
  int64_t duration_;
  http::HttpClient* http_;
};

}  // namespace

TokenCache::TokenCache(std::unique_ptr<CredentialProvider> provider,
                       std::chrono::seconds refresh_margin)
    : provider_(std::move(provider)), margin_(refresh_margin) {}

void TokenCache::Seed(Credential credential) {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(credential);
}

uint64_t TokenCache::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Result<Credential> TokenCache::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (current_ && (!current_->expires || Clock::now() + margin_ < *current_->expires)) {
      return *current_;
    }
    if (!refreshing_) return RefreshLocked(lock);
    // Another caller is refreshing: wait for its result rather than fetching too.
    cv_.wait(lock, [&] { return !refreshing_; });
    if (!last_error_.ok() &&
        (!current_ || (current_->expires && Clock::now() >= *current_->expires))) {
      return last_error_;
    }
  }
}

Result<Credential> TokenCache::Refresh() {
  std::unique_lock<std::mutex> lock(mu_);
  if (refreshing_) {
    cv_.wait(lock, [&] { return !refreshing_; });
    if (current_) return *current_;
    return last_error_;
  }
  return RefreshLocked(lock);
}

Result<Credential> TokenCache::RefreshLocked(std::unique_lock<std::mutex>& lock) {
  refreshing_ = true;
  lock.unlock();
  auto fetched = provider_->Fetch();
  lock.lock();
  refreshing_ = false;
  ++fetches_;
  if (fetched.ok()) {
    current_ = *fetched;
    last_error_ = Status::Ok();
  } else {
    last_error_ = fetched.status();
  }
  cv_.notify_all();
  return fetched;
}

uint64_t CredentialFetchCount() { return g_fetches.load(); }
void CountCredentialFetch() { ++g_fetches; }

Result<std::shared_ptr<TokenCache>> MakeTokenCache(const StorageOptions& options,
                                                   std::string_view sts_region,
                                                   std::string_view default_sts_endpoint,
                                                   http::HttpClient* http) {
  const auto margin = std::chrono::seconds(GetInt(options, "token_refresh_margin").value_or(300));
  AwsCredentials base{Get(options, "access_key_id"), Get(options, "secret_access_key"),
                      Get(options, "session_token")};
  std::unique_ptr<CredentialProvider> provider;
  const std::string api_key = Get(options, "api_key");
  const std::string role_arn = Get(options, "role_arn");
  const bool session = Get(options, "use_session_token") == "true";
  if (!api_key.empty()) {
    provider = std::make_unique<IamProvider>(
        api_key, Get(options, "iam_endpoint", "https://iam.cloud.ibm.com/identity/token"), http);
  } else if (!role_arn.empty() || session) {
    if (base.access_key_id.empty() || base.secret_access_key.empty()) {
      return InvalidArgument(std::string(role_arn.empty() ? "use_session_token" : "role_arn") +
                             " needs base keys to sign the STS request: set access_key_id and "
                             "secret_access_key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
    }
    std::string endpoint = Get(options, "sts_endpoint", std::string(default_sts_endpoint));
    provider =
        std::make_unique<StsProvider>(base, endpoint, std::string(sts_region), role_arn,
                                      Get(options, "role_session_name", "quarry"),
                                      GetInt(options, "duration_seconds").value_or(3600), http);
  } else {
    Credential c;
    if (!base.access_key_id.empty()) {
      c.kind = Credential::Kind::kKeys;
      c.keys = base;
    }
    provider = std::make_unique<StaticProvider>(std::move(c));
  }
  auto cache = std::make_shared<TokenCache>(std::move(provider), margin);
  // A credential fetched on the driver.
  Credential seeded;
  const auto expiration = GetInt(options, "token_expiration");
  if (!Get(options, "token").empty()) {
    seeded.kind = Credential::Kind::kBearer;
    seeded.bearer = Get(options, "token");
  } else if (!Get(options, "token_access_key_id").empty()) {
    seeded.kind = Credential::Kind::kKeys;
    seeded.keys = {Get(options, "token_access_key_id"), Get(options, "token_secret_access_key"),
                   Get(options, "token_session_token")};
  }
  if (seeded.kind != Credential::Kind::kAnonymous) {
    seeded.exchanged = true;
    if (expiration) seeded.expires = Clock::from_time_t(static_cast<std::time_t>(*expiration));
    cache->Seed(std::move(seeded));
  }
  return cache;
}

StorageOptions WithFetchedCredential(const StorageOptions& options, const Credential& credential) {
  StorageOptions out = options;
  if (!credential.exchanged) return out;  // configured keys: nothing was fetched
  if (credential.kind == Credential::Kind::kBearer) {
    out["token"] = credential.bearer;
  } else if (credential.kind == Credential::Kind::kKeys) {
    out["token_access_key_id"] = credential.keys.access_key_id;
    out["token_secret_access_key"] = credential.keys.secret_access_key;
    out["token_session_token"] = credential.keys.session_token;
  }
  if (credential.expires) {
    out["token_expiration"] = std::to_string(Clock::to_time_t(*credential.expires));
  }
  return out;
}

}  // namespace quarry::auth
