// StreamingRead through a ring smaller than its range: every byte once and in order, a writer
// that waits for room, a retry in the middle of a wrapped ring, and abandoning a waiting read.
#include "quarry/streaming_read.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <span>
#include <thread>

#include "quarry/object_ops.h"
#include "quarry/registry.h"
#include "quarry/sinks.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

using testing_util::ForwardingStore;
using testing_util::MemStoreWith;
using testing_util::RandomBytes;

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
// HTTP client does on a retry: the ring must skip the bytes it already holds. With `in_place`,
// bytes go through the sink's Room()/Commit() as the s3 store's do.
class RetryingStore final : public ForwardingStore {
 public:
  RetryingStore(std::shared_ptr<ObjectStore> inner, bool in_place)
      : ForwardingStore(std::move(inner)), in_place_(in_place) {}
  Result<uint64_t> ReadRange(std::string_view b, std::string_view k, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& o) override {
    QUARRY_ASSIGN_OR_RETURN(auto all, ReadToString(*inner_, b, k, offset, length, o));
    const bool in_place = in_place_ && sink->ReceivesInPlace();
    auto deliver = [&](const char* data, size_t size) -> Status {
      return in_place ? CopyIntoRooms(*sink, data, size) : sink->Write(data, size);
    };
    const size_t half = all.size() / 2;
    for (size_t at = 0; at < half; at += 1000) {
      QUARRY_RETURN_IF_ERROR(deliver(all.data() + at, std::min<size_t>(1000, half - at)));
    }
    sink->Reset();  // the "connection broke": the retry starts over
    for (size_t at = 0; at < all.size(); at += 4096) {
      QUARRY_RETURN_IF_ERROR(deliver(all.data() + at, std::min<size_t>(4096, all.size() - at)));
    }
    return all.size();
  }

 private:
  bool in_place_;
};

TEST(StreamingReadTest, RetryInTheMiddleOfAWrappedRingSkipsWhatArrived) {
  const std::string data = RandomBytes(500'000, 2);
  for (bool in_place : {false, true}) {
    RetryingStore store(MemStoreWith("retry", "k", data), in_place);
    for (size_t window : {size_t{0}, size_t{7'919}, size_t{100'000}}) {
      StreamingRead read(store, "retry", "k", 0, data.size(), {}, window);
      EXPECT_TRUE(Drain(read, 5) == data) << "window " << window << " in place " << in_place;
    }
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
