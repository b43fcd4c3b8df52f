// The registry of storage backends: from a scheme to the backend that serves it, and from a URI
// to its ObjectStore.
//
// Every backend registers one BackendSpec per scheme it serves: its configuration (keys, secret
// keys, environment variables, defaults: see quarry/config.h) and its factory. The built-in
// backends (s3, cos, file, mem) are registered before any lookup; RegisterBackend adds more.
// The CLI, the Python bindings and plans ask the registry for the schemes there are.
//
// Thread safety: every function may be called from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/uri.h"

namespace quarry {

struct BackendSpec {
  ConfigSpec config;  // config.scheme names the scheme
  // Makes a store from resolved options (the result of ResolveStorageOptions). Fails with
  // InvalidArgument on a malformed option, naming it.
  std::function<Result<std::shared_ptr<ObjectStore>>(const StorageOptions&)> make;
  // Makes the token exchange of a configuration now and returns the options with the fetched
  // credential added (in config.shipped_keys), for shipping to workers whose stores then start
  // from it. Unset for schemes without credentials: the options ship as they are.
  std::function<Result<StorageOptions>(const StorageOptions&)> fetch_shippable_credentials;
  // False for stores with nothing to configure and one instance per process (file, mem):
  // StoreForUri then skips resolution and caching.
  bool configurable = true;
};

// Adds a backend. InvalidArgument if its scheme is registered already or is not a valid URI
// scheme, or if one of its secret keys would not be redacted (see IsSecretKey).
Status RegisterBackend(BackendSpec spec);

// The spec of `scheme`, or InvalidArgument naming the scheme and listing the registered ones.
Result<const BackendSpec*> FindBackend(std::string_view scheme);

// The registered schemes in registration order ("s3", "cos", "file", "mem", ...).
std::vector<std::string> RegisteredSchemes();
// The same, comma separated, for messages.
std::string RegisteredSchemesText();

// Resolves the configuration of `scheme` from `options` and the sources listed in
// quarry/config.h. InvalidArgument for an unknown scheme or key.
Result<StorageOptions> ResolveStorageOptions(
    std::string_view scheme, const StorageOptions& options,
    const ConfigEnvironment& env = ConfigEnvironment::Process());

// A job's configuration of one scheme, ready to ship to its workers: resolved as above, then
// with the token exchange made once, now (IBM IAM, STS; none for static keys). Workers given the
// result make no exchange of their own until the credential nears expiry.
Result<StorageOptions> ResolveJobStorageOptions(std::string_view scheme,
                                                const StorageOptions& options);

// Token exchanges made by this process since it started (every backend, every store).
uint64_t CredentialFetchCount();

// Returns the store for `uri`'s scheme, configured from `options` and the sources listed in
// quarry/config.h. Stores are cached per (scheme, resolved configuration) for the life of the
// process, so every caller with the same configuration shares one client and its connections.
// The environment and config files are read the first time a scheme is used with a given set of
// explicit options; later calls with the same options reuse that result.
// Fails with InvalidArgument for schemes no backend serves (naming the registered ones).
Result<std::shared_ptr<ObjectStore>> StoreForUri(const Uri& uri,
                                                 const StorageOptions& options = {});

// Every remote store made so far in this process (for request statistics).
std::vector<std::shared_ptr<ObjectStore>> CachedStores();

}  // namespace quarry
