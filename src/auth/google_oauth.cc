#include "auth/google_oauth.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http/http_client.h"

namespace quarry::auth {
namespace {

constexpr const char* kGoogleTokenUri = "https://oauth2.googleapis.com/token";

std::string Base64Url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
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

std::string StringField(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class GoogleOAuthProvider final : public CredentialProvider {
 public:
  GoogleOAuthProvider(std::string path, std::string scope, http::HttpClient* http)
      : path_(std::move(path)), scope_(std::move(scope)), http_(http) {}

  Result<Credential> Fetch() override {
    QUARRY_ASSIGN_OR_RETURN(auto file, ReadGoogleCredentialsFile(path_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      description_ = DescribeFile(file);
    }
    std::string body;
    if (file.type == "service_account") {
      QUARRY_ASSIGN_OR_RETURN(auto jwt,
                              MakeServiceAccountAssertion(file, scope_, std::time(nullptr)));
      body = FormEncode(
          {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", jwt}});
    } else {
      body = FormEncode({{"grant_type", "refresh_token"},
                         {"client_id", file.client_id},
                         {"client_secret", file.client_secret},
                         {"refresh_token", file.refresh_token}});
    }
    CountCredentialFetch();
    QUARRY_ASSIGN_OR_RETURN(
        auto resp, http_->Send(
                       [&](http::HttpRequest* r) {
                         r->method = "POST";
                         r->url = file.token_uri;
                         r->body = body;
                         r->headers = {{"content-type", "application/x-www-form-urlencoded"},
                                       {"accept", "application/json"}};
                         return Status::Ok();
                       },
                       nullptr));
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    if (resp.status == 400 || resp.status == 401 || resp.status == 403) {
      // OAuth2 errors say what is wrong in "error" / "error_description" (no secrets there).
      std::string why = j.is_object() ? StringField(j, "error") : "";
      if (j.is_object() && !StringField(j, "error_description").empty()) {
        why += ": " + StringField(j, "error_description");
      }
      return Status(StatusCode::kPermissionDenied,
                    "the token endpoint " + file.token_uri + " rejected " + DescribeFile(file) +
                        " (HTTP " + std::to_string(resp.status) + (why.empty() ? "" : ", " + why) +
                        "): check that the key is current (not deleted or disabled) and that "
                        "credentials_path / GOOGLE_APPLICATION_CREDENTIALS names the right file",
                    resp.status);
    }
    if (resp.status != 200) {
      return Status(StatusCode::kUnavailable,
                    "token request to " + file.token_uri + " for " + DescribeFile(file) +
                        " failed with HTTP " + std::to_string(resp.status),
                    resp.status, http::IsRetryableHttpStatus(resp.status));
    }
    if (!j.is_object() || StringField(j, "access_token").empty()) {
      return Status(StatusCode::kIoError,
                    "the token endpoint " + file.token_uri + " sent no access_token in its reply");
    }
    Credential c;
    c.kind = Credential::Kind::kBearer;
    c.exchanged = true;
    c.bearer = StringField(j, "access_token");
    if (auto it = j.find("expires_in"); it != j.end() && it->is_number()) {
      c.expires = Clock::now() + std::chrono::seconds(it->get<int64_t>());
    }
    return c;
  }

  std::string Describe() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return description_.empty() ? "Google credentials file " + path_ : description_;
  }

 private:
  static std::string DescribeFile(const GoogleCredentialsFile& file) {
    if (file.type == "service_account") {
      return "service account '" + file.client_email + "' of " + file.path;
    }
    return "authorized user '" + file.client_id + "' of " + file.path;
  }

  std::string path_, scope_;
  http::HttpClient* http_;
  mutable std::mutex mu_;
  std::string description_;  // guarded by mu_
};

}  // namespace

Result<GoogleCredentialsFile> ReadGoogleCredentialsFile(const std::string& path) {
  const std::string fix =
      ": give credentials_path (or GOOGLE_APPLICATION_CREDENTIALS) a service account key file "
      "or gcloud's application default credentials";
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot read the Google credentials file '" + path + "'" + fix);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object()) {
    return InvalidArgument("the Google credentials file '" + path + "' is not a JSON object" + fix);
  }
  GoogleCredentialsFile f;
  f.path = path;
  f.type = StringField(j, "type");
  f.project_id = StringField(j, "project_id");
  if (f.project_id.empty()) f.project_id = StringField(j, "quota_project_id");
  f.token_uri = StringField(j, "token_uri");
  if (f.token_uri.empty()) f.token_uri = kGoogleTokenUri;
  auto require = [&](const char* field, std::string* out) -> Status {
    *out = StringField(j, field);
    if (out->empty()) {
      return InvalidArgument("the Google credentials file '" + path + "' of type " + f.type +
                             " has no '" + field + "'" + fix);
    }
    return Status::Ok();
  };
  if (f.type == "service_account") {
    QUARRY_RETURN_IF_ERROR(require("client_email", &f.client_email));
    QUARRY_RETURN_IF_ERROR(require("private_key", &f.private_key));
    f.private_key_id = StringField(j, "private_key_id");
  } else if (f.type == "authorized_user") {
    QUARRY_RETURN_IF_ERROR(require("client_id", &f.client_id));
    QUARRY_RETURN_IF_ERROR(require("client_secret", &f.client_secret));
    QUARRY_RETURN_IF_ERROR(require("refresh_token", &f.refresh_token));
  } else {
    return InvalidArgument("the Google credentials file '" + path + "' is of type '" + f.type +
                           "'; Quarry reads service_account and authorized_user files" + fix);
  }
  return f;
}

namespace {

// RSASSA-PKCS1-v1_5 with SHA-256 of `data` under the service account's private key: raw bytes.
Result<std::string> SignRsaSha256(const GoogleCredentialsFile& file, std::string_view data) {
  auto bad_key = [&] {
    return InvalidArgument("the private_key of the service account '" + file.client_email +
                           "' in '" + file.path +
                           "' is not an RSA key in PEM: download a new JSON key for it");
  };
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(file.private_key.data(), static_cast<int>(file.private_key.size())),
      BIO_free);
  if (!bio) return bad_key();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return bad_key();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, bytes, data.size()) != 1) {
    return bad_key();
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, bytes,
                     data.size()) != 1) {
    return bad_key();
  }
  signature.resize(size);
  return signature;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

Result<std::string> MakeServiceAccountAssertion(const GoogleCredentialsFile& file,
                                                std::string_view scope, std::time_t now) {
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!file.private_key_id.empty()) header["kid"] = file.private_key_id;
  const nlohmann::json claims = {{"iss", file.client_email},
                                 {"scope", std::string(scope)},
                                 {"aud", file.token_uri},
                                 {"iat", static_cast<int64_t>(now)},
                                 {"exp", static_cast<int64_t>(now) + 3600}};
  const std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  QUARRY_ASSIGN_OR_RETURN(auto signature, SignRsaSha256(file, signing_input));
  return signing_input + "." + Base64Url(signature);
}

Result<std::string> MakeV4SignedUrl(const GoogleCredentialsFile& file, std::string_view endpoint,
                                    std::string_view bucket, std::string_view key,
                                    int64_t expires_seconds, std::time_t now) {
  if (file.type != "service_account") {
    return InvalidArgument("signed URLs need a service account key; '" + file.path +
                           "' is of type " + file.type);
  }
  const auto sep = endpoint.find("://");
  const std::string host(sep == std::string_view::npos ? endpoint : endpoint.substr(sep + 3));
  std::tm tm{};
  gmtime_r(&now, &tm);
  char datetime[32], date[16];
  std::strftime(datetime, sizeof datetime, "%Y%m%dT%H%M%SZ", &tm);
  std::strftime(date, sizeof date, "%Y%m%d", &tm);
  const std::string scope = std::string(date) + "/auto/storage/goog4_request";
  const std::string path = "/" + UriEncode(bucket, false) + "/" + UriEncode(key, true);
  // Sorted by name, as the canonical request wants them.
  const std::string query = FormEncode({{"X-Goog-Algorithm", "GOOG4-RSA-SHA256"},
                                        {"X-Goog-Credential", file.client_email + "/" + scope},
                                        {"X-Goog-Date", datetime},
                                        {"X-Goog-Expires", std::to_string(expires_seconds)},
                                        {"X-Goog-SignedHeaders", "host"}});
  const std::string canonical =
      "GET\n" + path + "\n" + query + "\nhost:" + host + "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string to_sign =
      "GOOG4-RSA-SHA256\n" + std::string(datetime) + "\n" + scope + "\n" + Sha256Hex(canonical);
  QUARRY_ASSIGN_OR_RETURN(auto signature, SignRsaSha256(file, to_sign));
  return std::string(endpoint) + path + "?" + query + "&X-Goog-Signature=" + Hex(signature);
}

std::unique_ptr<CredentialProvider> MakeGoogleOAuthProvider(std::string path, std::string scope,
                                                            http::HttpClient* http) {
  return std::make_unique<GoogleOAuthProvider>(std::move(path), std::move(scope), http);
}

}  // namespace quarry::auth
