// The configuration of the S3-compatible schemes (s3, cos): keys, secrets, the standard AWS
// environment variables and profile files; registered with the factory of s3_store.cc.
#include "core/config_files.h"
#include "storage/backends.h"

namespace quarry {
namespace {

// Step 4 for s3: the profile AWS_PROFILE (or "default") of ~/.aws/credentials and
// ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE override the paths).
void AddAwsProfile(const ConfigEnvironment& env, StorageOptions* out) {
  std::string profile = env.getenv("AWS_PROFILE").value_or("");
  if (profile.empty()) profile = "default";
  auto path_of = [&](const char* var, const char* fallback) -> std::string {
    if (auto v = env.getenv(var); v && !v->empty()) return *v;
    if (env.home.empty()) return {};
    return env.home + "/.aws/" + fallback;
  };
  auto merge = [&](const std::string& path, const std::string& section) {
    if (path.empty()) return;
    auto text = ReadConfigFile(path);
    if (!text) return;
    auto ini = ParseIni(*text);
    auto it = ini.find(section);
    if (it == ini.end()) return;
    for (const auto& [k, v] : it->second) {
      std::string key = k;
      if (key == "aws_access_key_id") key = "access_key_id";
      if (key == "aws_secret_access_key") key = "secret_access_key";
      if (key == "aws_session_token") key = "session_token";
      if (key == "endpoint_url") key = "endpoint";
      if (!out->count(key)) (*out)[key] = v;
    }
  };
  merge(path_of("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile);
  // ~/.aws/config names non-default profiles "profile NAME".
  merge(path_of("AWS_CONFIG_FILE", "config"),
        profile == "default" ? profile : "profile " + profile);
}

}  // namespace

BackendSpec S3BackendSpec(std::string scheme) {
  BackendSpec spec;
  ConfigSpec& c = spec.config;
  c.keys = {"endpoint", "region", "access_key_id", "secret_access_key", "session_token",
            "addressing_style", "verify_tls", "receive_in_place", "multipart_threshold",
            "part_size", "connect_timeout_ms", "read_timeout_ms", "max_attempts",
            // IBM IAM (cos, and s3 endpoints of IBM COS)
            "api_key", "iam_endpoint", "service_instance_id",
            // STS
            "role_arn", "role_session_name", "sts_endpoint", "duration_seconds",
            "use_session_token", "token_refresh_margin", "profile"};
  c.secret_keys = {"secret_access_key",       "session_token",      "api_key", "token",
                   "token_secret_access_key", "token_session_token"};
  c.shipped_keys = {"token", "token_access_key_id", "token_secret_access_key",
                    "token_session_token", "token_expiration"};
  if (scheme == "s3") {
    c.environment = {
        {"AWS_ACCESS_KEY_ID", "access_key_id"}, {"AWS_SECRET_ACCESS_KEY", "secret_access_key"},
        {"AWS_SESSION_TOKEN", "session_token"}, {"AWS_REGION", "region"},
        {"AWS_DEFAULT_REGION", "region"},       {"AWS_ENDPOINT_URL_S3", "endpoint"},
        {"AWS_ENDPOINT_URL", "endpoint"}};
    c.defaults = AddAwsProfile;
  }
  spec.make = [scheme](const StorageOptions& options) { return MakeS3Store(scheme, options); };
  spec.fetch_shippable_credentials = [scheme](const StorageOptions& options) {
    return FetchShippableCredentials(scheme, options);
  };
  c.scheme = std::move(scheme);
  return spec;
}

}  // namespace quarry
