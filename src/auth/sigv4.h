// AWS Signature Version 4 for S3-compatible services (AWS S3, IBM COS HMAC, Ceph RGW, MinIO).
//
// The project signs its own requests: the signer is pure (no I/O, no clock of its own) so that it
// can be checked against AWS's published examples. Secrets never leave this module except as a
// derived signature.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quarry::auth {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What the signer needs to know about a request.
struct SignableRequest {
  std::string method;  // "GET", "PUT", ...
  std::string host;    // value of the Host header, with ":port" when not the default
  // Path exactly as sent on the wire, already encoded by UriEncodePath (e.g. "/bucket/a%20b").
  std::string encoded_path;
  // Query parameters, NOT encoded; the signer encodes and sorts them. A parameter without a
  // value ("?uploads") has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Extra headers to sign (e.g. "range", "content-type", "if-match"); names case-insensitive.
  HeaderList headers;
  // Lower-case hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
  std::string payload_hash = "UNSIGNED-PAYLOAD";
};

// AWS URI encoding: every byte except A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex);
// '/' is kept when `keep_slash` is true (object key paths) and encoded otherwise (query values).
std::string UriEncode(std::string_view in, bool keep_slash);

// Encodes a key path for the wire: UriEncode(path, /*keep_slash=*/true).
inline std::string UriEncodePath(std::string_view path) { return UriEncode(path, true); }

// The encoded, sorted query string as it must be sent and signed ("a=1&b=x%2Fy").
std::string CanonicalQueryString(const std::vector<std::pair<std::string, std::string>>& query);

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

// The SigV4 signing key (raw 32 bytes): HMAC chain of "AWS4" + secret over `date` ("20130524"),
// `region`, `service` and "aws4_request". SignRequest/PresignUrl keep a small per-thread cache of
// these, so callers need not; exposed for tests and for callers that sign outside this module.
std::string DeriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);

// "20150830T123600Z" for the given UTC time.
std::string AmzDate(std::time_t t);

// Signs a request. Returns the headers to add to it: "Authorization", "x-amz-date",
// "x-amz-content-sha256" (service "s3" only), and "x-amz-security-token" when the credentials
// carry a session token. `service` is "s3" (or "sts"); `region` e.g. "us-east-1".
// Signed: host, the headers returned here, and request.headers. Entries of request.headers named
// host, x-amz-date, authorization, or one of the headers returned here are ignored (the signer's
// values win). An empty payload_hash means "UNSIGNED-PAYLOAD" for s3 and an empty body otherwise.
// Returns an empty list only if OpenSSL fails (out of memory) or `now` cannot be formatted.
HeaderList SignRequest(const SignableRequest& request, const AwsCredentials& creds,
                       std::string_view region, std::string_view service, std::time_t now);

// Intermediate products, exposed for tests against AWS's published examples.
// CanonicalRequest signs exactly `all_headers` (which must include host; request.headers is not
// consulted) with request.payload_hash as given. `signed_headers_out` may be null.
// StringToSign's `scope` is "20150830/us-east-1/service/aws4_request".
std::string CanonicalRequest(const SignableRequest& request, const HeaderList& all_headers,
                             std::string* signed_headers_out);
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// A presigned URL (request.method, "GET" when empty) for `scheme://host/encoded_path` valid for
// `expires_seconds`, clamped to AWS's range [1, 604800]. request.query is kept in the URL; host
// and request.headers are signed (the client must then send those headers). The payload is
// "UNSIGNED-PAYLOAD" for s3. Returns "" only on the failures SignRequest reports as empty.
std::string PresignUrl(std::string_view scheme, const SignableRequest& request,
                       const AwsCredentials& creds, std::string_view region,
                       std::string_view service, std::time_t now, int64_t expires_seconds);

}  // namespace quarry::auth
