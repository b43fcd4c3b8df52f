// StreamingRead through a ring smaller than its range: every byte once and in order, a writer
// that waits for room, a retry in the middle of a wrapped ring, and abandoning a waiting read.
#include "quarry/store_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <span>
#include <thread>

#include "quarry/registry.h"

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

// Records the listings asked for: "prefix" for plain ones, "prefix|/" for delimited ones.
class RecordingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::unique_ptr<Lister>> List(std::string_view b, std::string_view p,
                                       const ListOptions& o) override {
    std::lock_guard<std::mutex> lock(mu);
    listed.push_back(std::string(p) + (o.delimiter.empty() ? "" : "|" + o.delimiter));
    return inner_->List(b, p, o);
  }
  std::mutex mu;
  std::vector<std::string> listed;
};

std::vector<std::string> Keys(Lister& lister) {
  std::vector<std::string> keys;
  ListPage page;
  while (true) {
    auto more = lister.Next(&page);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) return keys;
    for (auto& o : page.objects) keys.push_back(o.key);
  }
}

TEST(ListFanOutTest, SubPrefixesAreListedInParallelAndComeOutInKeyOrder) {
  auto mem = *StoreForUri(*ParseUri("mem://fan"));
  ASSERT_TRUE(mem->CreateBucket("fan").ok());
  // Objects between, before and after "directories", names that sort around "/" ('.' < '/' <
  // '0'), a nested directory, and a lone directory chain to descend through.
  std::vector<std::string> keys = {"d/a.txt", "d/b.txt", "d/b0", "d/z"};
  for (int i = 0; i < 12; ++i) keys.push_back("d/b/" + std::to_string(100 + i));
  for (int i = 0; i < 7; ++i) keys.push_back("d/c/" + std::to_string(i));
  for (int i = 0; i < 3; ++i) keys.push_back("d/c/n/" + std::to_string(i));
  for (int i = 0; i < 9; ++i)
    keys.push_back("lone/x/p" + std::to_string(i % 3) + "/" + std::to_string(i));
  for (int i = 0; i < 23; ++i) keys.push_back("flat/" + std::to_string(1000 + i));
  for (const auto& k : keys) ASSERT_TRUE(mem->Put("fan", k, "").ok());

  const FanOutOptions options{.max_parallel = 2, .pages_ahead = 1, .page_size = 8};
  for (const std::string prefix : {"d/", "lone/", "flat/", "", "missing/", "d/a.txt"}) {
    SCOPED_TRACE(prefix);
    RecordingStore store(mem);
    auto plain = ListAll(*mem, "fan", prefix);
    ASSERT_TRUE(plain.ok());
    std::vector<std::string> want;
    for (auto& o : *plain) want.push_back(o.key);
    auto lister = ListFanOut(store, "fan", prefix, options);
    ASSERT_TRUE(lister.ok());
    EXPECT_EQ(Keys(**lister), want);
    auto listed = [&](const std::string& p) {
      return std::count(store.listed.begin(), store.listed.end(), p) == 1;
    };
    if (prefix == "d/") {
      EXPECT_TRUE(listed("d/|/") && listed("d/b/") && listed("d/c/")) << store.listed.size();
    } else if (prefix == "lone/") {
      EXPECT_TRUE(listed("lone/x/|/") && listed("lone/x/p0/") && listed("lone/x/p2/"));
    } else if (prefix.empty()) {
      EXPECT_TRUE(listed("|/") && listed("d/") && listed("flat/") && listed("lone/"));
    } else {
      EXPECT_LE(store.listed.size(), 2u) << "no fan-out for " << prefix;
    }
  }
  // Abandoned half-way: the running sub-listings stop.
  auto lister = ListFanOut(*mem, "fan", "d/", options);
  ListPage page;
  ASSERT_TRUE((*lister)->Next(&page).ok());
  lister->reset();
  // A missing bucket is the same NotFound as a plain listing's.
  auto missing = ListFanOut(*mem, "no-such-bucket", "", options);
  ListPage none;
  auto got = (*missing)->Next(&none);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace quarry
