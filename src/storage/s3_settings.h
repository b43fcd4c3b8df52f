// The options of an S3-compatible store (schemes s3 and cos), read and checked once when the
// store is made: where the service is, how buckets are addressed, which keys sign, and how
// objects are uploaded. Internal to the S3 backend (s3_*.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/config.h"
#include "quarry/status.h"

namespace quarry {

struct S3Settings {
  std::string scheme;           // "s3" or "cos", for URIs in messages
  std::string endpoint_scheme;  // "http" or "https"
  std::string endpoint_host;    // "127.0.0.1:7480": no scheme, no path, no trailing '/'
  std::string region;
  bool virtual_hosting = false;  // bucket.host/key rather than host/bucket/key
  auth::AwsCredentials creds;
  uint64_t multipart_threshold = uint64_t{16} << 20;  // from this size up: a multipart upload
  uint64_t part_size = uint64_t{16} << 20;            // bytes of each part but the last
  std::string service_instance_id;  // IBM COS: needed to create buckets with a bearer token
};

// The settings of scheme `scheme` from resolved options: endpoint (default: AWS's, or IBM
// COS's for "cos", of the region), region, addressing_style (auto|path|virtual; auto means
// path style for any endpoint given explicitly and for IPs and localhost), access_key_id,
// secret_access_key, session_token, part_size, multipart_threshold, service_instance_id.
// InvalidArgument naming the option and what is allowed for a malformed one, checked in that
// order; nothing is sent.
Result<S3Settings> S3SettingsFrom(std::string_view scheme, const StorageOptions& options);

// The HTTP client's options of an S3 store: those every store takes (store_options.h) and the
// retry rule of S3 replies (IsRetryableS3Reply). InvalidArgument naming a malformed option.
Result<http::HttpClientOptions> S3HttpOptionsFrom(const StorageOptions& options);

}  // namespace quarry
