#include "auth/azure_ad_token.h"

#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "http/http_client.h"

namespace quarry::auth {
namespace {

class AzureAdProvider final : public CredentialProvider {
 public:
  AzureAdProvider(std::string tenant_id, std::string client_id, std::string client_secret,
                  std::string authority_host, http::HttpClient* http)
      : tenant_id_(std::move(tenant_id)),
        client_id_(std::move(client_id)),
        client_secret_(std::move(client_secret)),
        http_(http) {
    while (!authority_host.empty() && authority_host.back() == '/') authority_host.pop_back();
    if (authority_host.find("://") == std::string::npos) {
      authority_host = "https://" + authority_host;
    }
    url_ = authority_host + "/" + UriEncode(tenant_id_, false) + "/oauth2/v2.0/token";
  }

  Result<Credential> Fetch() override {
    CountCredentialFetch();
    const std::string body =
        "grant_type=client_credentials&client_id=" + UriEncode(client_id_, false) +
        "&client_secret=" + UriEncode(client_secret_, false) +
        "&scope=" + UriEncode("https://storage.azure.com/.default", false);
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, http_->Send(
                       [&](http::HttpRequest* r) {
                         r->method = "POST";
                         r->url = url_;
                         r->body = body;
                         r->headers = {{"content-type", "application/x-www-form-urlencoded"},
                                       {"accept", "application/json"}};
                         return Status::Ok();
                       },
                       nullptr));
    auto json = nlohmann::json::parse(resp.body, nullptr, false);
    if (resp.status == 400 || resp.status == 401 || resp.status == 403) {
      std::string error;
      if (!json.is_discarded() && json.contains("error") && json["error"].is_string()) {
        error = " " + json["error"].get<std::string>();
      }
      return Status(StatusCode::kPermissionDenied,
                    Describe() + " was refused (HTTP " + std::to_string(resp.status) + error +
                        "): check tenant_id, client_id and client_secret (or AZURE_TENANT_ID, "
                        "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)",
                    resp.status);
    }
    if (resp.status != 200) {
      return Status(
          StatusCode::kUnavailable,
          "token request of " + Describe() + " failed with HTTP " + std::to_string(resp.status),
          resp.status, http::IsRetryableHttpStatus(resp.status));
    }
    if (json.is_discarded() || !json.contains("access_token") ||
        !json["access_token"].is_string()) {
      return Status(StatusCode::kIoError, Describe() + ": the reply holds no access_token");
    }
    Credential c;
    c.kind = Credential::Kind::kBearer;
    c.exchanged = true;
    c.bearer = json["access_token"].get<std::string>();
    // expires_in is a number, or a number in a string in some replies.
    int64_t expires_in = 0;
    if (json.contains("expires_in")) {
      const auto& e = json["expires_in"];
      if (e.is_number()) {
        expires_in = e.get<int64_t>();
      } else if (e.is_string()) {
        expires_in = std::strtoll(e.get<std::string>().c_str(), nullptr, 10);
      }
    }
    if (expires_in > 0) c.expires = Clock::now() + std::chrono::seconds(expires_in);
    return c;
  }

  std::string Describe() const override {
    return "Azure AD client '" + client_id_ + "' of tenant '" + tenant_id_ + "' at " + url_;
  }

 private:
  std::string tenant_id_, client_id_, client_secret_;
  std::string url_;
  http::HttpClient* http_;
};

}  // namespace

std::unique_ptr<CredentialProvider> MakeAzureAdProvider(std::string tenant_id,
                                                        std::string client_id,
                                                        std::string client_secret,
                                                        std::string authority_host,
                                                        http::HttpClient* http) {
  return std::make_unique<AzureAdProvider>(std::move(tenant_id), std::move(client_id),
                                           std::move(client_secret), std::move(authority_host),
                                           http);
}

}  // namespace quarry::auth
