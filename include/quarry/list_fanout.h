// Listing conveniences on top of ObjectStore::List: ListFanOut, which lists a large prefix laid
// out as "directories" over several sub-prefixes at once and hands the keys out in order, and
// ListAll, which gathers every page of a listing.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "quarry/object_store.h"

namespace quarry {

struct FanOutOptions {
  int max_parallel = 8;        // sub-prefixes listed at once
  size_t max_prefixes = 1000;  // more sub-prefixes than this (or than one page): no fan-out
  size_t pages_ahead = 4;      // pages each sub-listing may hold before the consumer takes them
  int page_size = 1000;        // of every listing request
};

// Lists every key under `prefix` in order, like store.List(bucket, prefix, {}), faster for
// large prefixes laid out as "directories": when the prefix holds at least a page of keys in
// 2..max_prefixes sub-prefixes (found with one "/"-delimited listing, descending through a lone
// sub-prefix), those are listed in parallel and their pages handed out in key order. Otherwise
// (fewer keys, a flat prefix, too many sub-prefixes) it is the plain listing plus at most one
// small request. Memory stays under max_parallel x pages_ahead pages. `store` must outlive it.
Result<std::unique_ptr<Lister>> ListFanOut(ObjectStore& store, std::string_view bucket,
                                           std::string_view prefix,
                                           const FanOutOptions& options = {});

// Every object under the prefix, all pages.
Result<std::vector<ObjectInfo>> ListAll(ObjectStore& store, std::string_view bucket,
                                        std::string_view prefix, const ListOptions& options = {});

}  // namespace quarry
