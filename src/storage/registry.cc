#include "quarry/registry.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>

#include "auth/credentials.h"
#include "storage/azure_store.h"
#include "storage/backends.h"
#include "storage/gcs_store.h"

namespace quarry {

namespace {

std::mutex& CacheMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::shared_ptr<ObjectStore>>& Cache() {
  static auto* cache = new std::map<std::string, std::shared_ptr<ObjectStore>>();
  return *cache;
}

// Registered backends in registration order. A deque: specs never move once added, so the
// pointers FindBackend hands out stay valid.
struct Backends {
  std::mutex mu;
  std::deque<BackendSpec> specs;
};

Status CheckSpec(const BackendSpec& spec, const std::deque<BackendSpec>& registered) {
  const std::string& scheme = spec.config.scheme;
  const bool valid = !scheme.empty() && std::isalpha(static_cast<unsigned char>(scheme[0])) &&
                     std::all_of(scheme.begin(), scheme.end(), [](char c) {
                       return std::islower(static_cast<unsigned char>(c)) ||
                              std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == '-' ||
                              c == '.';
                     });
  if (!valid) {
    return InvalidArgument("backend scheme '" + scheme +
                           "' is not a URI scheme (lower-case letters, digits, + - .)");
  }
  for (const auto& r : registered) {
    if (r.config.scheme == scheme) {
      return InvalidArgument("a backend for scheme '" + scheme + "' is registered already");
    }
  }
  for (const auto& key : spec.config.secret_keys) {
    if (!IsSecretKey(key)) {
      std::string message = "secret key '";
      message += key;
      message += "' of scheme '";
      message += scheme;
      message += "' would be printed: name it so that IsSecretKey holds";
      return InvalidArgument(message);
    }
  }
  if (!spec.make) return InvalidArgument("backend '" + scheme + "' has no factory");
  return Status::Ok();
}

Backends& Registry() {
  static Backends* backends = [] {
    auto* b = new Backends;  // never destroyed: stores may be looked up during exit
    for (auto& spec : {S3BackendSpec("s3"), S3BackendSpec("cos"), FileBackendSpec(),
                       MemBackendSpec(), GcsBackendSpec(), AzureBackendSpec()}) {
      b->specs.push_back(spec);
    }
    return b;
  }();
  return *backends;
}

}  // namespace

Status RegisterBackend(BackendSpec spec) {
  Backends& r = Registry();
  std::lock_guard<std::mutex> lock(r.mu);
  QUARRY_RETURN_IF_ERROR(CheckSpec(spec, r.specs));
  r.specs.push_back(std::move(spec));
  return Status::Ok();
}

std::vector<std::string> RegisteredSchemes() {
  Backends& r = Registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& s : r.specs) out.push_back(s.config.scheme);
  return out;
}

std::string RegisteredSchemesText() {
  std::string out;
  for (const auto& s : RegisteredSchemes()) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Result<const BackendSpec*> FindBackend(std::string_view scheme) {
  Backends& r = Registry();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    for (const auto& s : r.specs) {
      if (s.config.scheme == scheme) return &s;
    }
  }
  return InvalidArgument("unknown scheme '" + std::string(scheme) +
                         "': no backend serves it in this build; use one of " +
                         RegisteredSchemesText());
}

Result<StorageOptions> ResolveStorageOptions(std::string_view scheme, const StorageOptions& options,
                                             const ConfigEnvironment& env) {
  QUARRY_ASSIGN_OR_RETURN(const BackendSpec* spec, FindBackend(scheme));
  return ResolveConfig(spec->config, options, env);
}

Result<StorageOptions> ResolveJobStorageOptions(std::string_view scheme,
                                                const StorageOptions& options) {
  QUARRY_ASSIGN_OR_RETURN(const BackendSpec* spec, FindBackend(scheme));
  QUARRY_ASSIGN_OR_RETURN(auto resolved,
                          ResolveConfig(spec->config, options, ConfigEnvironment::Process()));
  if (!spec->fetch_shippable_credentials) return resolved;
  return spec->fetch_shippable_credentials(resolved);
}

uint64_t CredentialFetchCount() { return auth::CredentialFetchCount(); }

std::vector<std::shared_ptr<ObjectStore>> CachedStores() {
  std::lock_guard<std::mutex> lock(CacheMutex());
  std::vector<std::shared_ptr<ObjectStore>> out;
  for (const auto& [k, v] : Cache()) out.push_back(v);
  return out;
}

Result<std::shared_ptr<ObjectStore>> StoreForUri(const Uri& uri, const StorageOptions& options) {
  auto found = FindBackend(uri.scheme);
  if (!found.ok()) return found.status().WithContext(uri.ToString());
  const BackendSpec& spec = **found;
  if (!spec.configurable) return spec.make({});
  auto key_of = [&](const StorageOptions& o) {
    std::string key = uri.scheme;
    for (const auto& [k, v] : o) {
      key += '\0';
      key += k;
      key += '\0';
      key += v;
    }
    return key;
  };
  // Opening a partition's stream comes here every time: the same explicit options skip reading
  // the environment and the config files again.
  static auto* by_explicit = new std::map<std::string, std::shared_ptr<ObjectStore>>();
  const std::string explicit_key = key_of(options);
  {
    std::lock_guard<std::mutex> lock(CacheMutex());
    if (auto it = by_explicit->find(explicit_key); it != by_explicit->end()) return it->second;
  }
  QUARRY_ASSIGN_OR_RETURN(auto resolved,
                          ResolveConfig(spec.config, options, ConfigEnvironment::Process()));
  // One client per (scheme, configuration): its connections are shared by every caller.
  const std::string cache_key = key_of(resolved);
  std::lock_guard<std::mutex> lock(CacheMutex());
  auto& cache = Cache();
  auto it = cache.find(cache_key);
  if (it == cache.end()) {
    QUARRY_ASSIGN_OR_RETURN(auto store, spec.make(resolved));
    it = cache.emplace(cache_key, std::move(store)).first;
  }
  (*by_explicit)[explicit_key] = it->second;
  return it->second;
}

}  // namespace quarry
