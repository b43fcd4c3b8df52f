// The configuration of scheme "gs": keys, secrets, Google's standard environment variables and
// gcloud's application default credentials; registered with the factory of gcs_store.cc.
#include <filesystem>

#include "storage/gcs_store.h"

namespace quarry {
namespace {

// Step 4 for gs: gcloud's application default credentials, when no credential is configured
// and the endpoint is Google's (an emulator is used anonymously unless told otherwise).
void AddApplicationDefaultCredentials(const ConfigEnvironment& env, StorageOptions* out) {
  for (const char* key : {"endpoint", "credentials_path", "token", "anonymous"}) {
    if (out->count(key) != 0 && !(*out)[key].empty()) return;
  }
  std::string dir;
  if (auto v = env.getenv("CLOUDSDK_CONFIG"); v && !v->empty()) {
    dir = *v;
  } else if (!env.home.empty()) {
    dir = env.home + "/.config/gcloud";
  } else {
    return;
  }
  const std::string path = dir + "/application_default_credentials.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) (*out)["credentials_path"] = path;
}

}  // namespace

BackendSpec GcsBackendSpec() {
  BackendSpec spec;
  ConfigSpec& c = spec.config;
  c.scheme = "gs";
  c.keys = {"endpoint",
            "project",
            "credentials_path",
            "token",
            "anonymous",
            "verify_tls",
            "receive_in_place",
            "multipart_threshold",
            "part_size",
            "connect_timeout_ms",
            "read_timeout_ms",
            "max_attempts",
            "token_refresh_margin"};
  c.secret_keys = {"token", "oauth_token"};
  c.shipped_keys = {"oauth_token", "oauth_token_expiration"};
  c.environment = {{"STORAGE_EMULATOR_HOST", "endpoint"},
                   {"GOOGLE_APPLICATION_CREDENTIALS", "credentials_path"},
                   {"GOOGLE_CLOUD_PROJECT", "project"}};
  c.defaults = AddApplicationDefaultCredentials;
  spec.make = [](const StorageOptions& options) { return MakeGcsStore(options); };
  spec.fetch_shippable_credentials = [](const StorageOptions& options) {
    return FetchGcsShippableCredentials(options);
  };
  return spec;
}

}  // namespace quarry
