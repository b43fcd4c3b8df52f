// Requests to an S3-compatible service: what one is (S3Request), where it goes (S3Address: path
// style or virtual host, decided in this one place), and the client that signs and sends them
// (S3Client: SigV4 with keys, or a bearer token, over the shared HttpClient and its retries).
// Internal to the S3 backend (s3_*.cc).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/credentials.h"
#include "http/http_client.h"
#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/status.h"
#include "storage/s3_settings.h"

namespace quarry {

// One request, as its caller means it. The views must outlive the call that sends it.
struct S3Request {
  std::string_view op;      // what the caller does, for S3Client::Call's errors: "read", ...
  std::string_view method;  // "GET", "PUT", "POST", "DELETE", "HEAD"
  std::string_view bucket;  // "" for the service itself (ListBuckets)
  std::string_view key;     // the object; "" with on_bucket for the bucket itself
  // A request on the bucket itself (listing, DeleteObjects, creating it): its path-style path
  // is "/bucket", not "/bucket/"; an IBM COS bucket is created with the service instance id.
  bool on_bucket = false;
  // Parameters not encoded (the client encodes and sorts them); "?uploads" is {"uploads", ""}.
  std::vector<std::pair<std::string, std::string>> query;
  http::HeaderList headers;  // sent and signed; names in lower case
  // Not owned. POST bodies (small control documents) are signed, the others go UNSIGNED-PAYLOAD.
  std::string_view body;
  http::BodySink* sink = nullptr;     // null: the body goes to HttpResponse::body
  std::vector<int> expected = {200};  // for Call: the statuses that are answers, not errors
};

// Where a request goes: the Host (with its port) and the encoded path.
struct S3Address {
  std::string host;
  std::string path;  // "/bucket/a%20b" (path style), "/a%20b" (virtual host), "/" (service)
};

// The host and path of (bucket, key) on the settings' endpoint; `on_bucket` as in S3Request.
S3Address S3AddressOf(const S3Settings& settings, std::string_view bucket, std::string_view key,
                      bool on_bucket);

// The headers that store PutOptions with an object (on PUT, or on starting a multipart upload).
http::HeaderList S3MetadataHeaders(const PutOptions& options);

// Signs and sends requests to one endpoint with one credential (a TokenCache). Thread-safe once
// InitCredentials has succeeded: writers' part threads and listers share it.
class S3Client {
 public:
  S3Client(S3Settings settings, http::HttpClientOptions http_options);
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Makes the credential's cache from the options (auth::MakeTokenCache). Must succeed before
  // anything is sent.
  Status InitCredentials(const StorageOptions& options);

  const S3Settings& settings() const { return s_; }
  std::string endpoint() const { return s_.endpoint_scheme + "://" + s_.endpoint_host; }
  const http::HttpStats& stats() const { return http_.stats(); }
  auth::TokenCache& tokens() { return *tokens_; }
  // The credential in use, for messages (never a secret).
  std::string Who() const { return tokens_->provider().Describe(); }

  // Sends `request`, signed anew for every attempt, with the client's retries. A reply whose
  // code says the session expired is answered by fetching a new credential once and sending
  // again (the sink is reset first). Returns the last reply whatever its status; fails only
  // when no reply could be had or no credential fetched.
  Result<http::HttpResponse> Send(const S3Request& request);

  // Send, with a reply whose status is not in request.expected mapped by ErrorFor (the request's
  // op, bucket and key).
  Result<http::HttpResponse> Call(const S3Request& request);

  // A non-2xx reply as a Status naming what failed and how to fix it (s3_errors.h).
  Status ErrorFor(std::string_view op, std::string_view bucket, std::string_view key,
                  const http::HttpResponse& reply) const;

 private:
  S3Settings s_;
  http::HttpClient http_;  // before tokens_, which uses it for exchanges
  std::shared_ptr<auth::TokenCache> tokens_;
};

}  // namespace quarry
