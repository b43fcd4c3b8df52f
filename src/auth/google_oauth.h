// Google OAuth2 access tokens from a credentials file: a service account's key (an RS256-signed
// JWT exchanged at the file's token_uri) or an authorized user's refresh token (gcloud's
// application default credentials).
//
// Secrets (the private key, the refresh token, the access tokens) never appear in Describe(),
// in Status messages or in logs.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "auth/credentials.h"
#include "quarry/status.h"

namespace quarry::http {
class HttpClient;
}

namespace quarry::auth {

// What a Google credentials file holds (the fields Quarry uses).
struct GoogleCredentialsFile {
  std::string path;  // where it was read from, for messages
  std::string type;  // "service_account" or "authorized_user"
  std::string project_id;
  std::string token_uri;  // defaults to Google's when the file has none
  // service_account
  std::string client_email;
  std::string private_key_id;
  std::string private_key;  // PEM
  // authorized_user
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
};

// Reads and checks a credentials file. InvalidArgument naming the file when it is missing,
// not JSON, of a type other than the two above, or lacks a field that type needs.
Result<GoogleCredentialsFile> ReadGoogleCredentialsFile(const std::string& path);

// The JWT a service account signs to ask for a token: header {alg RS256, typ JWT, kid}, claims
// {iss = client_email, scope, aud = token_uri, iat = now, exp = now + 1 h}, signed with the
// file's private key. InvalidArgument naming the file when the key is no RSA key in PEM.
Result<std::string> MakeServiceAccountAssertion(const GoogleCredentialsFile& file,
                                                std::string_view scope, std::time_t now);

// A V4 signed URL (GOOG4-RSA-SHA256) that lets anyone GET gs://bucket/key for
// `expires_seconds` from `now`, signed with the service account's private key. `endpoint` is
// "scheme://host[:port]" (the path-style URL is endpoint/bucket/key). InvalidArgument when the
// file is not a service account's or its key is no RSA key.
Result<std::string> MakeV4SignedUrl(const GoogleCredentialsFile& file, std::string_view endpoint,
                                    std::string_view bucket, std::string_view key,
                                    int64_t expires_seconds, std::time_t now);

// The OAuth2 scope Quarry asks for: read, write and manage buckets of Cloud Storage.
inline constexpr std::string_view kStorageScope =
    "https://www.googleapis.com/auth/devstorage.full_control";

// A provider of bearer tokens from the credentials file at `path`, read again at every Fetch
// (so a rotated key is picked up, and a worker given a token never needs the file until that
// token nears expiry). Each Fetch is one exchange at the file's token_uri, counted by
// CredentialFetchCount(). `http` must outlive the provider.
std::unique_ptr<CredentialProvider> MakeGoogleOAuthProvider(std::string path, std::string scope,
                                                            http::HttpClient* http);

}  // namespace quarry::auth
