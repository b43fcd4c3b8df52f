#include "storage/s3_settings.h"

#include "storage/s3_xml.h"
#include "storage/store_options.h"

namespace quarry {

Result<S3Settings> S3SettingsFrom(std::string_view scheme, const StorageOptions& options) {
  constexpr uint64_t kMiB = uint64_t{1024} * 1024;
  S3Settings s;
  s.scheme = std::string(scheme);
  const bool is_cos = scheme == "cos";
  s.region = OptionText(options, "region", is_cos ? "us-south" : "us-east-1");
  std::string endpoint = OptionText(options, "endpoint");
  if (endpoint.empty()) {
    endpoint = is_cos ? "https://s3." + s.region + ".cloud-object-storage.appdomain.cloud"
                      : "https://s3." + s.region + ".amazonaws.com";
  }
  auto sep = endpoint.find("://");
  if (sep == std::string::npos) endpoint = "https://" + endpoint;
  sep = endpoint.find("://");
  s.endpoint_scheme = endpoint.substr(0, sep);
  if (s.endpoint_scheme != "http" && s.endpoint_scheme != "https") {
    return InvalidArgument("endpoint '" + endpoint + "' must start with http:// or https://");
  }
  s.endpoint_host = endpoint.substr(sep + 3);
  while (!s.endpoint_host.empty() && s.endpoint_host.back() == '/') s.endpoint_host.pop_back();
  if (s.endpoint_host.empty() || s.endpoint_host.find('/') != std::string::npos) {
    return InvalidArgument("endpoint '" + endpoint + "' must be scheme://host[:port]");
  }
  std::string style = OptionText(options, "addressing_style", "auto");
  if (style == "virtual") {
    s.virtual_hosting = true;
  } else if (style == "path") {
    s.virtual_hosting = false;
  } else if (style == "auto") {
    // Custom endpoints (IPs, localhost, anything given explicitly) use path style.
    s.virtual_hosting =
        OptionText(options, "endpoint").empty() && !IsIpOrLocalHost(s.endpoint_host);
  } else {
    return InvalidArgument("addressing_style '" + style + "' is not one of auto, path, virtual");
  }
  s.creds.access_key_id = OptionText(options, "access_key_id");
  s.creds.secret_access_key = OptionText(options, "secret_access_key");
  s.creds.session_token = OptionText(options, "session_token");
  if (!s.creds.access_key_id.empty() && s.creds.secret_access_key.empty() &&
      OptionText(options, "api_key").empty()) {
    return InvalidArgument("access key id '" + s.creds.access_key_id +
                           "' is set but no secret key: set secret_access_key or "
                           "AWS_SECRET_ACCESS_KEY");
  }
  constexpr uint64_t kMaxPart = uint64_t{5} << 30;  // S3's largest part
  QUARRY_ASSIGN_OR_RETURN(s.part_size,
                          OptionCount(options, "part_size", 16 * kMiB, 5 * kMiB, kMaxPart,
                                      "bytes per uploaded part (S3 allows 5 MiB to 5 GiB)"));
  QUARRY_ASSIGN_OR_RETURN(s.multipart_threshold,
                          OptionCount(options, "multipart_threshold", 16 * kMiB, 1, kMaxPart,
                                      "bytes above which uploads go in parts"));
  s.service_instance_id = OptionText(options, "service_instance_id");
  return s;
}

Result<http::HttpClientOptions> S3HttpOptionsFrom(const StorageOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(auto http_options, HttpClientOptionsFrom(options));
  http_options.retryable_reply = IsRetryableS3Reply;
  return http_options;
}

}  // namespace quarry
