#include "storage/s3_request.h"

#include <algorithm>
#include <ctime>

#include "auth/sigv4.h"
#include "storage/s3_errors.h"

namespace quarry {

S3Address S3AddressOf(const S3Settings& settings, std::string_view bucket, std::string_view key,
                      bool on_bucket) {
  if (bucket.empty()) return {settings.endpoint_host, "/"};  // the service itself
  if (settings.virtual_hosting) {
    return {std::string(bucket) + "." + settings.endpoint_host, "/" + auth::UriEncodePath(key)};
  }
  std::string path = "/" + std::string(bucket);
  if (!on_bucket || !key.empty()) path += "/" + auth::UriEncodePath(key);
  return {settings.endpoint_host, std::move(path)};
}

http::HeaderList S3MetadataHeaders(const PutOptions& options) {
  http::HeaderList headers;
  if (!options.content_type.empty()) headers.emplace_back("content-type", options.content_type);
  if (!options.content_encoding.empty()) {
    headers.emplace_back("content-encoding", options.content_encoding);
  }
  return headers;
}

S3Client::S3Client(S3Settings settings, http::HttpClientOptions http_options)
    : s_(std::move(settings)), http_(std::move(http_options)) {}

Status S3Client::InitCredentials(const StorageOptions& options) {
  // RGW and MinIO serve STS on their S3 endpoint; AWS has its own.
  const std::string sts_endpoint =
      options.count("endpoint") ? endpoint() : "https://sts." + s_.region + ".amazonaws.com";
  QUARRY_ASSIGN_OR_RETURN(tokens_, auth::MakeTokenCache(options, s_.region, sts_endpoint, &http_));
  return Status::Ok();
}

Result<http::HttpResponse> S3Client::Send(const S3Request& request) {
  const S3Address address = S3AddressOf(s_, request.bucket, request.key, request.on_bucket);
  std::string url = s_.endpoint_scheme + "://" + address.host + address.path;
  std::string qs = auth::CanonicalQueryString(request.query);
  if (!qs.empty()) url += "?" + qs;
  std::string payload_hash = "UNSIGNED-PAYLOAD";
  // Small control bodies (DeleteObjects, CompleteMultipartUpload) are signed; data is not.
  if (!request.body.empty() && request.method == "POST") {
    payload_hash = auth::Sha256Hex(request.body);
  }

  for (int attempt = 0;; ++attempt) {
    QUARRY_ASSIGN_OR_RETURN(auto cred, tokens_->Get());
    auto resp = http_.Send(
        [&](http::HttpRequest* req) {
          req->method = std::string(request.method);
          req->url = url;
          req->body = request.body;
          req->headers = request.headers;
          if (cred.kind == auth::Credential::Kind::kKeys) {
            auth::SignableRequest sr;
            sr.method = std::string(request.method);
            sr.host = address.host;
            sr.encoded_path = address.path;
            sr.query = request.query;
            sr.headers = request.headers;
            sr.payload_hash = payload_hash;
            for (auto& h : auth::SignRequest(sr, cred.keys, s_.region, "s3", std::time(nullptr))) {
              req->headers.push_back(std::move(h));
            }
          } else if (cred.kind == auth::Credential::Kind::kBearer) {
            req->headers.emplace_back("authorization", "Bearer " + cred.bearer);
            if (!s_.service_instance_id.empty() && request.on_bucket && request.method == "PUT") {
              req->headers.emplace_back("ibm-service-instance-id", s_.service_instance_id);
            }
          }
          return Status::Ok();
        },
        request.sink);
    // A session the server calls expired: fetch a new one once, then try again.
    if (attempt == 0 && resp.ok() && IsExpiredSession(*resp) && tokens_->Refresh().ok()) {
      if (request.sink != nullptr && request.sink->reset) request.sink->reset();
      continue;
    }
    return resp;
  }
}

Result<http::HttpResponse> S3Client::Call(const S3Request& request) {
  QUARRY_ASSIGN_OR_RETURN(auto resp, Send(request));
  if (std::find(request.expected.begin(), request.expected.end(), resp.status) ==
      request.expected.end()) {
    return ErrorFor(request.op, request.bucket, request.key, resp);
  }
  return resp;
}

Status S3Client::ErrorFor(std::string_view op, std::string_view bucket, std::string_view key,
                          const http::HttpResponse& reply) const {
  return S3ErrorStatus({s_.scheme, endpoint(), Who()}, op, bucket, key, reply);
}

}  // namespace quarry
