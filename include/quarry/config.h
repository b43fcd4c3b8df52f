// Configuration of storage backends and where it comes from.
//
// Each backend describes its configuration in a ConfigSpec (its keys, which of them are secret,
// the standard environment variables of its service, its own defaults); this file knows only
// the order in which the sources are consulted. For each key, first found wins:
//   1. explicit storage options given by the caller;
//   2. environment: QUARRY_<SCHEME>_<KEY> (e.g. QUARRY_S3_ENDPOINT), then the spec's standard
//      variables (for s3: AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL, ...);
//   3. the config file: $QUARRY_CONFIG, else ./quarry.yaml, else ~/.config/quarry/config.yaml —
//      a YAML mapping of scheme → mapping of key → scalar value;
//   4. the spec's defaults (for s3: the AWS_PROFILE profile of ~/.aws/credentials and config).
// The schemes and their specs are listed by the storage registry (quarry/registry.h).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/status.h"

namespace quarry {

// key → value, e.g. {"endpoint": "http://127.0.0.1:7480", "region": "us-east-1"}.
using StorageOptions = std::map<std::string, std::string>;

// Storage options of many schemes, keyed by scheme ("s3" → its options), so that one plan or job
// may read inputs of several clouds, each with its own configuration.
using StorageOptionsByScheme = std::map<std::string, StorageOptions, std::less<>>;

// The options of `scheme` in `by_scheme`; empty when it has none (then the scheme is configured
// from the environment and the config file alone).
const StorageOptions& StorageOptionsOf(const StorageOptionsByScheme& by_scheme,
                                       std::string_view scheme);

// Where configuration is read from; tests substitute their own.
struct ConfigEnvironment {
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string home;  // home directory; "" when unknown
  std::string cwd;   // current directory, for ./quarry.yaml

  // The real process environment.
  static ConfigEnvironment Process();
};

// What one scheme's configuration is made of; declared by the backend serving the scheme.
struct ConfigSpec {
  std::string scheme;  // "s3"
  // Every key a caller or a config file may set; also probed as QUARRY_<SCHEME>_<KEY>.
  std::vector<std::string> keys;
  // Keys whose values are secrets. Every one must also satisfy IsSecretKey (so that values are
  // redacted wherever options are printed, whichever scheme they belong to).
  std::vector<std::string> secret_keys;
  // Keys a job's driver adds when it ships a fetched credential to its workers; accepted as
  // explicit options, never read from the environment or files.
  std::vector<std::string> shipped_keys;
  // Standard variables of the service, as (variable, key), earlier ones first.
  std::vector<std::pair<std::string, std::string>> environment;
  // Step 4: fills keys not set yet from the service's own files; may be empty.
  std::function<void(const ConfigEnvironment&, StorageOptions*)> defaults;
};

// Resolves the options of `spec`'s scheme in the order above. Fails with InvalidArgument for a
// key the spec does not know (given explicitly or in the config file: the message names it and
// the closest known key) and when a config file named by $QUARRY_CONFIG is missing or malformed
// (the message names the file and the line).
Result<StorageOptions> ResolveConfig(const ConfigSpec& spec, const StorageOptions& explicit_options,
                                     const ConfigEnvironment& env);

// The known key closest to `key` among `known` (a near miss, for "did you mean"), or "".
std::string_view ClosestKey(std::string_view key, const std::vector<std::string>& known);

// True for keys whose values are secrets: secret_access_key, session_token, api_key,
// account_key, sas_token, client_secret, token, connection_string, ... — by name, so that a key
// of any backend whose name says secret, token, password, connection_string or *_key is
// redacted.
bool IsSecretKey(std::string_view key);

// "{endpoint=http://..., secret_access_key=***}" — secrets replaced, for logs and reprs.
std::string RedactedString(const StorageOptions& options);

}  // namespace quarry
