#include "quarry/registry.h"

#include <map>
#include <mutex>

#include "storage/backends.h"

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

}  // namespace

std::vector<std::shared_ptr<ObjectStore>> CachedStores() {
  std::lock_guard<std::mutex> lock(CacheMutex());
  std::vector<std::shared_ptr<ObjectStore>> out;
  for (const auto& [k, v] : Cache()) out.push_back(v);
  return out;
}

Result<std::shared_ptr<ObjectStore>> StoreForUri(const Uri& uri, const StorageOptions& options) {
  if (uri.scheme == "file") return MakeFileStore();
  if (uri.scheme == "mem") return MakeMemStore();
  if (uri.scheme != "s3" && uri.scheme != "cos") {
    return InvalidArgument("scheme '" + uri.scheme + "' (" + uri.ToString() +
                           ") has no backend in this build yet: use s3, cos, file or mem");
  }
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
                          ResolveStorageOptions(uri.scheme, options, ConfigEnvironment::Process()));
  // One client per (scheme, configuration): its connections are shared by every caller.
  const std::string cache_key = key_of(resolved);
  std::lock_guard<std::mutex> lock(CacheMutex());
  auto& cache = Cache();
  auto it = cache.find(cache_key);
  if (it == cache.end()) {
    QUARRY_ASSIGN_OR_RETURN(auto store, MakeS3Store(uri.scheme, resolved));
    it = cache.emplace(cache_key, std::move(store)).first;
  }
  (*by_explicit)[explicit_key] = it->second;
  return it->second;
}

}  // namespace quarry
