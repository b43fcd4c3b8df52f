// Object operations' own logic, on the mem store (the conformance suite runs the common cases on
// every backend): ParallelReadAt's positions and short end, and ReadObjectInto's check that the
// later parts are as long as the first reply's size says.
#include "quarry/object_ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

using testing_util::ForwardingStore;
using testing_util::MemStoreWith;
using testing_util::RandomBytes;

TEST(ObjectOpsTest, ParallelReadAtPutsEveryByteAtItsPositionAndStopsAtTheEnd) {
  const std::string data = RandomBytes(1'000'003, 7);
  auto store = MemStoreWith("at", "k", data);
  const ParallelReadOptions options{.part_size = 65'536, .max_in_flight = 3};
  for (uint64_t offset : {uint64_t{0}, uint64_t{4'321}}) {
    for (uint64_t length : {uint64_t{500'000}, uint64_t{2'000'000}}) {
      std::string out(length, '\0');
      std::mutex mu;
      std::set<std::thread::id> threads;
      auto got = ParallelReadAt(*store, "at", "k", offset, length, options,
                                [&](uint64_t position, std::string_view piece) -> Status {
                                  std::copy(piece.begin(), piece.end(), out.begin() + position);
                                  std::lock_guard<std::mutex> lock(mu);
                                  threads.insert(std::this_thread::get_id());
                                  return Status::Ok();
                                });
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      const uint64_t want = std::min<uint64_t>(length, data.size() - offset);
      EXPECT_EQ(*got, want) << "offset " << offset << " length " << length;
      EXPECT_TRUE(out.substr(0, want) == data.substr(offset, want));
      EXPECT_LE(threads.size(), 3u);
    }
  }
  // The consumer's error ends the read and is what it returns.
  auto failed = ParallelReadAt(*store, "at", "k", 0, data.size(), options,
                               [](uint64_t, std::string_view) { return Internal("disk full"); });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "disk full");
}

// Reads after the first get fewer bytes than asked for, as if the object shrank in between
// (the store ignores the pinned ETag): ReadObjectInto must fail, not return holes.
class ShrinkingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<uint64_t> ReadRange(std::string_view b, std::string_view k, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& o) override {
    if (reads_++ == 0) return inner_->ReadRange(b, k, offset, length, sink, o);
    ReadOptions unpinned = o;
    unpinned.if_match.clear();
    return inner_->ReadRange(b, k, offset, length / 2, sink, unpinned);
  }

 private:
  std::atomic<int> reads_{0};
};

TEST(ObjectOpsTest, ReadObjectIntoFailsWhenLaterPartsComeUpShort) {
  const std::string data = RandomBytes(300'000, 8);
  ShrinkingStore store(MemStoreWith("shrink", "k", data));
  std::string out;
  auto got = ReadObjectInto(store, "shrink", "k", 0, std::nullopt,
                            {.part_size = 100'000, .max_in_flight = 2},
                            [&](uint64_t size) -> Result<char*> {
                              out.resize(size);
                              return out.data();
                            });
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_NE(got.status().message().find("changed while it was being read"), std::string::npos)
      << got.status().ToString();
}

TEST(ObjectOpsTest, ReadRangesPutsEveryRangeOfEveryObjectInItsRoom) {
  auto store = MemStoreWith("rr", "a", RandomBytes(300'001, 1));
  const std::string b = RandomBytes(70'000, 2);
  ASSERT_TRUE(store->Put("rr", "b", b, {}).ok());
  const std::string a = ReadToString(*store, "rr", "a").value();
  // A long range (cut into 8 parts), a small one, an empty one, the whole of another object.
  std::string out_a(300'000, '\0'), out_a2(10, '\0'), out_b(b.size(), '\0');
  const std::vector<RangeRead> reads = {
      {.store = store.get(),
       .bucket = "rr",
       .key = "a",
       .start = 1,
       .stop = 300'001,
       .out = out_a.data()},
      {.store = store.get(),
       .bucket = "rr",
       .key = "a",
       .start = 5,
       .stop = 15,
       .out = out_a2.data()},
      {.store = store.get(), .bucket = "rr", .key = "a", .start = 7, .stop = 7, .out = nullptr},
      {.store = store.get(),
       .bucket = "rr",
       .key = "b",
       .start = 0,
       .stop = b.size(),
       .out = out_b.data()},
  };
  ASSERT_TRUE(ReadRanges(reads, {.concurrency = 3, .part_size = 40'000}).ok());
  EXPECT_EQ(out_a, a.substr(1));
  EXPECT_EQ(out_a2, a.substr(5, 10));
  EXPECT_EQ(out_b, b);
}

TEST(ObjectOpsTest, ReadRangesFailsWhereAnObjectIsShorterOrNotTheVersionAsked) {
  auto store = MemStoreWith("rr", "a", RandomBytes(1'000, 3));
  std::string out(2'000, '\0');
  const RangeRead past_end{.store = store.get(),
                           .bucket = "rr",
                           .key = "a",
                           .start = 0,
                           .stop = 2'000,
                           .out = out.data()};
  Status s = ReadRanges(std::span(&past_end, 1));
  EXPECT_EQ(s.code(), StatusCode::kPreconditionFailed) << s.ToString();
  EXPECT_NE(s.message().find("'a'"), std::string::npos) << s.ToString();

  RangeRead other_version{
      .store = store.get(), .bucket = "rr", .key = "a", .start = 0, .stop = 10, .out = out.data()};
  other_version.options.if_match = "\"not-its-etag\"";
  EXPECT_EQ(ReadRanges(std::span(&other_version, 1)).code(), StatusCode::kPreconditionFailed);

  const RangeRead backwards{
      .store = store.get(), .bucket = "rr", .key = "a", .start = 9, .stop = 3, .out = out.data()};
  EXPECT_EQ(ReadRanges(std::span(&backwards, 1)).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quarry
