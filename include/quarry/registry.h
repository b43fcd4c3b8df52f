// From a URI to the ObjectStore that serves it.
#pragma once

#include <memory>
#include <vector>

#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/uri.h"

namespace quarry {

// Returns the store for `uri`'s scheme, configured from `options` and the sources listed in
// quarry/config.h. Stores are cached per (scheme, resolved configuration) for the life of the
// process, so every caller with the same configuration shares one client and its connections.
// The environment and config files are read the first time a scheme is used with a given set of
// explicit options; later calls with the same options reuse that result.
// Fails with InvalidArgument for schemes without a backend in this build.
Result<std::shared_ptr<ObjectStore>> StoreForUri(const Uri& uri,
                                                 const StorageOptions& options = {});

// Every remote store made so far in this process (for request statistics).
std::vector<std::shared_ptr<ObjectStore>> CachedStores();

}  // namespace quarry
