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
  QUARRY_ASSIGN_OR_RETURN(auto resolved,
                          ResolveStorageOptions(uri.scheme, options, ConfigEnvironment::Process()));
  // One client per (scheme, configuration): its connections are shared by every caller.
  std::string cache_key = uri.scheme;
  for (const auto& [k, v] : resolved) cache_key += '\0' + k + '\0' + v;
  std::lock_guard<std::mutex> lock(CacheMutex());
  auto& cache = Cache();
  if (auto it = cache.find(cache_key); it != cache.end()) return it->second;
  QUARRY_ASSIGN_OR_RETURN(auto store, MakeS3Store(uri.scheme, resolved));
  cache[cache_key] = store;
  return store;
}

}  // namespace quarry
