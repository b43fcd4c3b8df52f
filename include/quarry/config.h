// Configuration of storage backends and where it comes from.
//
// Resolution order for each key, first found wins:
//   1. explicit storage options given by the caller;
//   2. environment: QUARRY_<SCHEME>_<KEY> (e.g. QUARRY_S3_ENDPOINT), and for "s3" the standard
//      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION /
//      AWS_DEFAULT_REGION, AWS_ENDPOINT_URL;
//   3. the config file: $QUARRY_CONFIG, else ./quarry.yaml, else ~/.config/quarry/config.yaml —
//      a YAML mapping of scheme → mapping of key → scalar value;
//   4. scheme defaults: for "s3", the profile AWS_PROFILE (or "default") of ~/.aws/credentials
//      and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE override the paths).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "quarry/status.h"

namespace quarry {

// key → value, e.g. {"endpoint": "http://127.0.0.1:7480", "region": "us-east-1"}.
using StorageOptions = std::map<std::string, std::string>;

// Where configuration is read from; tests substitute their own.
struct ConfigEnvironment {
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string home;  // home directory; "" when unknown
  std::string cwd;   // current directory, for ./quarry.yaml

  // The real process environment.
  static ConfigEnvironment Process();
};

// Resolves the options of `scheme`. Fails with InvalidArgument when a config file named by
// $QUARRY_CONFIG is missing or malformed (the message names the file and the line).
Result<StorageOptions> ResolveStorageOptions(std::string_view scheme,
                                             const StorageOptions& explicit_options,
                                             const ConfigEnvironment& env);

// True for keys whose values are secrets (secret_access_key, session_token, api_key, ...).
bool IsSecretKey(std::string_view key);

// "{endpoint=http://..., secret_access_key=***}" — secrets replaced, for logs and reprs.
std::string RedactedString(const StorageOptions& options);

}  // namespace quarry
