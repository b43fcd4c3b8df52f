// Test helpers: a fresh, empty place to write in each backend.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include "quarry/registry.h"
#include "quarry/store_util.h"

namespace quarry::testing_util {

struct TestBucket {
  std::shared_ptr<ObjectStore> store;
  std::string bucket;  // "" for file
  std::string prefix;  // keys of the test start with this ("" except for file)
};

inline std::string UniqueName(const std::string& stem) {
  static std::mt19937_64 rng(std::random_device{}());
  return stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000000);
}

// S3 and az options used by tests: small multipart parts so that multipart paths run on modest
// data.
inline StorageOptions SmallPartOptions() {
  return {{"part_size", std::to_string(5 << 20)}, {"multipart_threshold", std::to_string(5 << 20)}};
}

inline Result<TestBucket> MakeTestBucket(const std::string& backend,
                                         const StorageOptions& options = SmallPartOptions()) {
  TestBucket tb;
  if (backend == "file") {
    auto dir = std::filesystem::temp_directory_path() / UniqueName("quarry-test");
    std::filesystem::create_directories(dir);
    tb.store = *StoreForUri(*ParseUri(dir.string()));
    tb.prefix = dir.string().substr(1) + "/";
    return tb;
  }
  tb.bucket = UniqueName("quarry-test");
  QUARRY_ASSIGN_OR_RETURN(auto uri, ParseUri(backend + "://" + tb.bucket));
  QUARRY_ASSIGN_OR_RETURN(
      tb.store, StoreForUri(uri, backend == "s3" || backend == "gs" || backend == "az" ? options : StorageOptions{}));
  QUARRY_RETURN_IF_ERROR(tb.store->CreateBucket(tb.bucket));
  return tb;
}

inline void DropTestBucket(const TestBucket& tb) {
  if (tb.store->scheme() == "file") {
    std::error_code ec;
    std::filesystem::remove_all("/" + tb.prefix, ec);
    return;
  }
  (void)DeletePrefix(*tb.store, tb.bucket, "");
  (void)tb.store->DeleteBucket(tb.bucket);
}

}  // namespace quarry::testing_util
