// StreamingRead through a ring smaller than its range: every byte once and in order, a writer
// that waits for room, a retry in the middle of a wrapped ring, and abandoning a waiting read.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "quarry/registry.h"
#include "quarry/store_util.h"

namespace quarry {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::shared_ptr<ObjectStore> MemStoreWith(const std::string& bucket, const std::string& key,
                                          const std::string& data) {
  auto store = *StoreForUri(*ParseUri("mem://" + bucket));
  EXPECT_TRUE(store->CreateBucket(bucket).ok());
  EXPECT_TRUE(store->Put(bucket, key, data).ok());
  return store;
}

// Consumes a StreamingRead with batches that vary, sleeping now and then so the writer fills
// the ring and has to wait. Returns everything it got.
std::string Drain(StreamingRead& read, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string got;
  while (true) {
    auto chunk = read.Next(got.size(), 1 + rng() % 200'000);
    EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
    if (!chunk.ok() || chunk->empty()) return got;
    got.append(*chunk);
    if (rng() % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(StreamingReadTest, RingSmallerThanRangeDeliversEveryByteOnce) {
  const std::string data = RandomBytes(3'000'001, 1);
  auto store = MemStoreWith("ring", "k", data);
  for (size_t window : {size_t{4'093}, size_t{65'537}, size_t{1} << 20}) {
    StreamingRead read(*store, "ring", "k", 0, data.size(), {}, window);
    std::string got = Drain(read, static_cast<uint32_t>(window));
    EXPECT_TRUE(got == data) << "window " << window << ": got " << got.size() << " bytes";
  }
  // A range in the middle, and one running past the object's end.
  StreamingRead middle(*store, "ring", "k", 777, 1'234'567, {}, 10'000);
  EXPECT_TRUE(Drain(middle, 3) == data.substr(777, 1'234'567));
  StreamingRead past(*store, "ring", "k", 2'999'000, 1'000'000, {}, 3'333);
  EXPECT_TRUE(Drain(past, 4) == data.substr(2'999'000));
}

// A store whose reads fail once halfway and are sent again from the range's start, as the
// HTTP client does on a retry: the ring must skip the bytes it already holds.
class RetryingStore final : public ObjectStore {
 public:
  explicit RetryingStore(std::shared_ptr<ObjectStore> inner) : inner_(std::move(inner)) {}
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
    QUARRY_ASSIGN_OR_RETURN(auto all, ReadToString(*inner_, b, k, offset, length, o));
    const size_t half = all.size() / 2;
    for (size_t at = 0; at < half; at += 1000) {
      QUARRY_RETURN_IF_ERROR(sink->Write(all.data() + at, std::min<size_t>(1000, half - at)));
    }
    sink->Reset();  // the "connection broke": the retry starts over
    for (size_t at = 0; at < all.size(); at += 4096) {
      QUARRY_RETURN_IF_ERROR(sink->Write(all.data() + at, std::min<size_t>(4096, all.size() - at)));
    }
    return all.size();
  }
  Status Put(std::string_view b, std::string_view k, std::string_view d,
             const PutOptions& o) override {
    return inner_->Put(b, k, d, o);
  }
  Result<std::unique_ptr<ObjectWriter>> OpenWriter(std::string_view b, std::string_view k,
                                                   const PutOptions& o) override {
    return inner_->OpenWriter(b, k, o);
  }
  Status DeleteObjects(std::string_view b, const std::vector<std::string>& keys) override {
    return inner_->DeleteObjects(b, keys);
  }
  Status CreateBucket(std::string_view b) override { return inner_->CreateBucket(b); }
  Status DeleteBucket(std::string_view b) override { return inner_->DeleteBucket(b); }

 private:
  std::shared_ptr<ObjectStore> inner_;
};

TEST(StreamingReadTest, RetryInTheMiddleOfAWrappedRingSkipsWhatArrived) {
  const std::string data = RandomBytes(500'000, 2);
  RetryingStore store(MemStoreWith("retry", "k", data));
  for (size_t window : {size_t{0}, size_t{7'919}, size_t{100'000}}) {
    StreamingRead read(store, "retry", "k", 0, data.size(), {}, window);
    EXPECT_TRUE(Drain(read, 5) == data) << "window " << window;
  }
}

TEST(StreamingReadTest, AbandoningAReadWhoseRingIsFullDoesNotHang) {
  const std::string data = RandomBytes(2'000'000, 3);
  auto store = MemStoreWith("abandon", "k", data);
  for (int i = 0; i < 20; ++i) {
    StreamingRead read(*store, "abandon", "k", 0, data.size(), {}, 10'000);
    auto first = read.Next(0, 5'000);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(std::string(*first), data.substr(0, first->size()));
    if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }  // each destructor cancels a writer that waits for room
}

}  // namespace
}  // namespace quarry
