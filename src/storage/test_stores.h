// Test helpers: a fresh, empty place to write in each backend, and a store that passes its
// calls on to another, for tests to watch or break some of them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quarry/object_ops.h"
#include "quarry/registry.h"

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
      tb.store,
      StoreForUri(
          uri, backend == "s3" || backend == "gs" || backend == "az" ? options : StorageOptions{}));
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

// `n` bytes of a pseudo-random sequence, the same for the same seed.
inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A fresh mem store whose bucket holds one object.
inline std::shared_ptr<ObjectStore> MemStoreWith(const std::string& bucket, const std::string& key,
                                                 const std::string& data) {
  auto store = *StoreForUri(*ParseUri("mem://" + bucket));
  EXPECT_TRUE(store->CreateBucket(bucket).ok());
  EXPECT_TRUE(store->Put(bucket, key, data).ok());
  return store;
}

// Passes every call on to another store; tests override what they watch or break.
class ForwardingStore : public ObjectStore {
 public:
  explicit ForwardingStore(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
  std::string_view scheme() const override { return inner_->scheme(); }
  std::string endpoint() const override { return inner_->endpoint(); }
  Result<std::unique_ptr<Lister>> List(std::string_view b, std::string_view p,
                                       const ListOptions& o) override {
    return inner_->List(b, p, o);
  }
  Result<ObjectInfo> Head(std::string_view b, std::string_view k) override {
    return inner_->Head(b, k);
  }
  Result<uint64_t> ReadRange(std::string_view b, std::string_view k, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& o) override {
    return inner_->ReadRange(b, k, offset, length, sink, o);
  }
  using ObjectStore::Put;
  Status Put(std::string_view b, std::string_view k, std::string_view d,
             const PutOptions& o) override {
    return inner_->Put(b, k, d, o);
  }
  using ObjectStore::OpenWriter;
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view b, std::string_view k,
                                                   const PutOptions& o) override {
    return inner_->OpenWriter(b, k, o);
  }
  Status DeleteObjects(std::string_view b, const std::vector<std::string>& keys) override {
    return inner_->DeleteObjects(b, keys);
  }
  Status CreateBucket(std::string_view b) override { return inner_->CreateBucket(b); }
  Status DeleteBucket(std::string_view b) override { return inner_->DeleteBucket(b); }

 protected:
  std::shared_ptr<ObjectStore> inner_;
};

}  // namespace quarry::testing_util
