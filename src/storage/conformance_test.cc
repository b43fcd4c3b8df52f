// One conformance suite that every backend runs: mem, file, s3 against the real Ceph RGW and gs
// against fake-gcs-server (started by scripts/test-servers; the s3 and gs cases need
// QUARRY_TEST_S3=1 / QUARRY_TEST_GS=1 and fail loudly in CI when the server is missing).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "auth/sigv4.h"
#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/registry.h"
#include "quarry/request_counters.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "gs" && std::getenv("QUARRY_TEST_GS") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_GS=1 with a running fake-gcs-server (scripts/test-servers)";
    }
    auto env = testing_util::MakeTestBucket(GetParam());
    if (!env.ok()) {
      if (env.status().code() == StatusCode::kUnavailable && GetParam() == "s3" &&
          std::getenv("QUARRY_TEST_S3") == nullptr) {
        GTEST_SKIP() << "set QUARRY_TEST_S3=1 with a running RGW (scripts/test-servers start)";
      }
      if (GetParam() == "az" && std::getenv("QUARRY_TEST_AZ") == nullptr) {
        GTEST_SKIP() << "set QUARRY_TEST_AZ=1 with Azurite running (scripts/test-servers start)";
      }
      FAIL() << env.status().ToString();
    }
    tb_ = std::move(*env);
  }
  void TearDown() override {
    if (tb_.store) testing_util::DropTestBucket(tb_);
  }
  ObjectStore& store() { return *tb_.store; }
  const std::string& bucket() { return tb_.bucket; }
  std::string K(const std::string& name) { return tb_.prefix + name; }

  testing_util::TestBucket tb_;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_P(ConformanceTest, PutGetHead) {
  std::string data = RandomBytes(100000, 1);
  ASSERT_TRUE(store().Put(bucket(), K("dir/obj.bin"), data).ok());
  auto got = ReadToString(store(), bucket(), K("dir/obj.bin"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);
  auto info = store().Head(bucket(), K("dir/obj.bin"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, data.size());
  EXPECT_FALSE(info->etag.empty());
  EXPECT_EQ(info->key, K("dir/obj.bin"));

  // Overwrite replaces, and the ETag changes with the content.
  ASSERT_TRUE(store().Put(bucket(), K("dir/obj.bin"), "short").ok());
  EXPECT_EQ(*ReadToString(store(), bucket(), K("dir/obj.bin")), "short");
  EXPECT_NE(store().Head(bucket(), K("dir/obj.bin"))->etag, info->etag);
}

TEST_P(ConformanceTest, ListBucketsShowsTheTestBucket) {
  auto buckets = store().ListBuckets();
  if (bucket().empty()) {  // file: paths, no buckets
    ASSERT_FALSE(buckets.ok());
    EXPECT_EQ(buckets.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(buckets.status().message().find("give a path"), std::string::npos);
    return;
  }
  ASSERT_TRUE(buckets.ok()) << buckets.status().ToString();
  EXPECT_TRUE(std::is_sorted(buckets->begin(), buckets->end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  auto mine = std::find_if(buckets->begin(), buckets->end(),
                           [&](const BucketInfo& b) { return b.name == bucket(); });
  ASSERT_NE(mine, buckets->end());
  if (store().scheme() == "s3") {
    EXPECT_EQ(mine->creation_date.substr(0, 2), "20");
  }
}

// Content-Type and Content-Encoding stored by Put come back from Head and with every read
// (stores that keep no metadata, file, return them empty).
TEST_P(ConformanceTest, PutMetadataComesBackFromHeadAndReads) {
  ASSERT_TRUE(store()
                  .Put(bucket(), K("meta"), "compressed?",
                       PutOptions{.content_type = "text/csv", .content_encoding = "gzip"})
                  .ok());
  auto info = store().Head(bucket(), K("meta"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  class InfoSink final : public ReadSink {
   public:
    Status Write(const char* d, size_t n) override {
      bytes.append(d, n);
      return Status::Ok();
    }
    void Reset() override { bytes.clear(); }
    void OnObject(const ObjectInfo& i) override {
      ++calls;
      seen = i;
    }
    std::string bytes;
    ObjectInfo seen;
    int calls = 0;
  } sink;
  ASSERT_TRUE(store().ReadRange(bucket(), K("meta"), 2, 4, &sink, {}).ok());
  EXPECT_EQ(sink.bytes, "mpre");
  if (GetParam() == "file") {
    EXPECT_EQ(info->content_encoding, "");
    return;
  }
  EXPECT_EQ(info->content_type, "text/csv");
  EXPECT_EQ(info->content_encoding, "gzip");
  ASSERT_EQ(sink.calls, 1);
  EXPECT_EQ(sink.seen.content_type, "text/csv");
  EXPECT_EQ(sink.seen.content_encoding, "gzip");
  EXPECT_EQ(sink.seen.size, 11u);
  EXPECT_EQ(sink.seen.etag, info->etag);
}

TEST_P(ConformanceTest, EmptyObject) {
  ASSERT_TRUE(store().Put(bucket(), K("empty"), "").ok());
  EXPECT_EQ(store().Head(bucket(), K("empty"))->size, 0u);
  EXPECT_EQ(*ReadToString(store(), bucket(), K("empty")), "");
  auto all = ListAll(store(), bucket(), K(""));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].size, 0u);
}

TEST_P(ConformanceTest, RangedReads) {
  std::string data = RandomBytes(5000, 2);
  ASSERT_TRUE(store().Put(bucket(), K("r"), data).ok());
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 0, 1), data.substr(0, 1));
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 1234, 100), data.substr(1234, 100));
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 4990, 100), data.substr(4990));  // cut at end
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 5000, 10), "");                  // at the end
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 9000, 10), "");  // past the end
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 100, 0), "");
  EXPECT_EQ(*ReadToString(store(), bucket(), K("r"), 4000), data.substr(4000));  // to the end
}

TEST_P(ConformanceTest, MissingKeyIsNotFound) {
  auto h = store().Head(bucket(), K("nope"));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
  auto r = ReadToString(store(), bucket(), K("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope"), std::string::npos) << r.status().message();
}

TEST_P(ConformanceTest, IfMatchDetectsChangedObject) {
  ASSERT_TRUE(store().Put(bucket(), K("v"), "version one").ok());
  auto etag = store().Head(bucket(), K("v"))->etag;
  EXPECT_EQ(*ReadToString(store(), bucket(), K("v"), 0, UINT64_MAX, {etag}), "version one");
  ASSERT_TRUE(store().Put(bucket(), K("v"), "version two!").ok());
  auto r = ReadToString(store(), bucket(), K("v"), 0, UINT64_MAX, {etag});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPreconditionFailed) << r.status().ToString();
}

TEST_P(ConformanceTest, ListPagesInOrderWithDelimiter) {
  std::vector<std::string> keys = {"a/1", "a/2", "a/b/3", "b", "c/4", "c0", "d"};
  for (const auto& k : keys) ASSERT_TRUE(store().Put(bucket(), K(k), k).ok());
  ListOptions small;
  small.page_size = 2;
  auto lister = store().List(bucket(), K(""), small);
  ASSERT_TRUE(lister.ok());
  std::vector<std::string> seen;
  int pages = 0;
  ListPage page;
  while (true) {
    auto more = (*lister)->Next(&page);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ++pages;
    EXPECT_LE(page.objects.size(), 2u);
    for (auto& o : page.objects) seen.push_back(o.key.substr(tb_.prefix.size()));
  }
  EXPECT_EQ(seen, keys);
  EXPECT_GE(pages, 4);

  // Prefix filter.
  auto under_a = ListAll(store(), bucket(), K("a/"));
  ASSERT_TRUE(under_a.ok());
  EXPECT_EQ(under_a->size(), 3u);

  // Delimiter groups "directories".
  ListOptions dir;
  dir.delimiter = "/";
  auto top = store().List(bucket(), K(""), dir);
  ASSERT_TRUE(top.ok());
  std::vector<std::string> objects, prefixes;
  while (*(*top)->Next(&page)) {
    for (auto& o : page.objects) objects.push_back(o.key.substr(tb_.prefix.size()));
    for (auto& p : page.common_prefixes) prefixes.push_back(p.substr(tb_.prefix.size()));
  }
  EXPECT_EQ(objects, (std::vector<std::string>{"b", "c0", "d"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"a/", "c/"}));

  // start_after skips.
  ListOptions after;
  after.start_after = K("b");
  auto rest = ListAll(store(), bucket(), K(""), after);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[0].key, K("c/4"));
}

TEST_P(ConformanceTest, DeleteBatchAndPrefix) {
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store().Put(bucket(), K("del/" + std::to_string(i)), "x").ok());
  }
  ASSERT_TRUE(store().Put(bucket(), K("keep"), "x").ok());
  ASSERT_TRUE(store().DeleteObjects(bucket(), {K("del/0"), K("del/1"), K("missing")}).ok());
  EXPECT_EQ(ListAll(store(), bucket(), K("del/"))->size(), 28u);
  auto n = DeletePrefix(store(), bucket(), K("del/"));
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 28u);
  EXPECT_TRUE(ListAll(store(), bucket(), K("del/"))->empty());
  EXPECT_TRUE(store().Head(bucket(), K("keep")).ok());
}

TEST_P(ConformanceTest, WriterRoundTripAboveMultipartThreshold) {
  // 13 MiB in uneven writes: several parts on s3 (5 MiB parts in the test configuration).
  std::string data = RandomBytes(13 << 20, 3);
  auto writer = store().OpenWriter(bucket(), K("big.bin"));
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (size_t off = 0; off < data.size(); off += 777777) {
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(off, 777777)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(store().Head(bucket(), K("big.bin"))->size, data.size());
  auto got = ReadToString(store(), bucket(), K("big.bin"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(auth::Sha256Hex(*got), auth::Sha256Hex(data));
}

// Every request of an upload, those its parts make on threads of their own too, counts into the
// counters of the thread that writes (quarry/request_counters.h): a job's stats hold its uploads.
TEST_P(ConformanceTest, WriterCountsEveryRequestIntoTheWritersCounters) {
  const std::string data = RandomBytes(13 << 20, 8);  // several parts (5 MiB in the tests)
  const StoreStats before = store().stats();
  auto counters = std::make_shared<RequestCounters>();
  {
    CountRequestsInto scope(counters);
    auto writer = store().OpenWriter(bucket(), K("counted.bin"));
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE((*writer)->Write(data).ok());
    ASSERT_TRUE((*writer)->Close().ok());
  }
  const StoreStats after = store().stats();
  if (after.requests == before.requests) GTEST_SKIP() << GetParam() << " makes no requests";
  const RequestCounts counted = ReadCounts(*counters);
  EXPECT_EQ(counted.requests, after.requests - before.requests);
  EXPECT_EQ(counted.bytes_sent, after.bytes_sent - before.bytes_sent);
  EXPECT_GE(counted.bytes_sent, data.size());
}

// Bytes given through Room()/Commit() and through Write() of whole parts and more: the object
// is what was written, also though the caller scribbles over each buffer as soon as Write
// returns (a writer that still sent from it would store the scribbles).
TEST_P(ConformanceTest, WriterTakesRoomsAndWholeBuffersAndLetsGoOfThemOnReturn) {
  const std::string data = RandomBytes((17 << 20) + 12345, 6);
  auto writer = store().OpenWriter(bucket(), K("rooms.bin"));
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  size_t at = 0;
  auto write = [&](size_t n) {
    std::string piece = data.substr(at, n);
    Status s = (*writer)->Write(piece);
    std::fill(piece.begin(), piece.end(), '!');
    at += n;
    return s;
  };
  auto fill_rooms = [&](size_t n) {
    std::mt19937 rng(7);
    while (n > 0) {
      auto room = (*writer)->Room();
      if (!room.ok()) return room.status();
      if (room->empty()) return Internal("an empty room");
      const size_t k = std::min({n, room->size(), size_t{1} + rng() % (3 << 20)});
      std::memcpy(room->data(), data.data() + at, k);
      QUARRY_RETURN_IF_ERROR((*writer)->Commit(k));
      at += k;
      n -= k;
    }
    return Status::Ok();
  };
  ASSERT_TRUE(write(1 << 20).ok());
  ASSERT_TRUE(fill_rooms(3 << 20).ok());
  ASSERT_TRUE(write(11 << 20).ok());  // fills the part begun, then whole parts, then a tail
  ASSERT_TRUE(fill_rooms(1 << 20).ok());
  ASSERT_TRUE(write(data.size() - at).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto got = ReadToString(store(), bucket(), K("rooms.bin"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), data.size());
  EXPECT_EQ(auth::Sha256Hex(*got), auth::Sha256Hex(data));
}

// An empty object, and one of a single Write below any threshold, round-trip too.
TEST_P(ConformanceTest, WriterOfNothingOrLittleStoresThat) {
  for (const std::string& data : {std::string(), std::string("small")}) {
    auto writer = store().OpenWriter(bucket(), K("little"));
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(data).ok());
    ASSERT_TRUE((*writer)->Close().ok());
    EXPECT_EQ(ReadToString(store(), bucket(), K("little")).value_or("<error>"), data);
  }
}

TEST_P(ConformanceTest, AbandonedWriterLeavesNothing) {
  {
    auto writer = store().OpenWriter(bucket(), K("abandoned"));
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Write(RandomBytes(6 << 20, 4)).ok());
  }
  EXPECT_EQ(store().Head(bucket(), K("abandoned")).status().code(), StatusCode::kNotFound);
}

TEST_P(ConformanceTest, ParallelReadDeliversPartsInOrder) {
  std::string data = RandomBytes(3'000'001, 5);
  ASSERT_TRUE(store().Put(bucket(), K("p"), data).ok());
  ParallelReadOptions options;
  options.part_size = 100'000;
  options.max_in_flight = 6;
  std::string got;
  auto n =
      ParallelRead(store(), bucket(), K("p"), 0, data.size(), options, [&](std::string_view part) {
        got.append(part);
        return Status::Ok();
      });
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(got == data);
  // A window in the middle.
  got.clear();
  ASSERT_TRUE(
      ParallelRead(store(), bucket(), K("p"), 12345, 456789, options, [&](std::string_view part) {
        got.append(part);
        return Status::Ok();
      }).ok());
  EXPECT_TRUE(got == data.substr(12345, 456789));
}

// Reads of unknown size: one request when the object is small, parallel parts when not.
TEST_P(ConformanceTest, ReadObjectOfUnknownSize) {
  std::string data = RandomBytes(1'000'003, 9);
  ASSERT_TRUE(store().Put(bucket(), K("big"), data).ok());
  ASSERT_TRUE(store().Put(bucket(), K("small"), "tiny").ok());
  ASSERT_TRUE(store().Put(bucket(), K("empty"), "").ok());
  ParallelReadOptions options;
  options.part_size = 100'000;
  auto read = [&](const std::string& name, uint64_t start, std::optional<uint64_t> stop) {
    auto got = ReadObject(store(), bucket(), K(name), start, stop, options);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::string("<error>");
  };
  EXPECT_TRUE(read("big", 0, std::nullopt) == data);
  EXPECT_TRUE(read("big", 99'999, 700'001) == data.substr(99'999, 600'002));
  EXPECT_TRUE(read("big", 900'000, 5'000'000) == data.substr(900'000));
  EXPECT_TRUE(read("big", 2'000'000, std::nullopt).empty());
  EXPECT_EQ(read("small", 0, std::nullopt), "tiny");
  EXPECT_EQ(read("small", 1, 3), "in");
  EXPECT_EQ(read("empty", 0, std::nullopt), "");
  auto missing = ReadObject(store(), bucket(), K("nope"), 0, std::nullopt, options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// ReadObjectInto asks for memory once, of the range's size, and fills exactly that.
TEST_P(ConformanceTest, ReadObjectIntoAllocatesOnceTheSizeOfTheRange) {
  std::string data = RandomBytes(1'000'003, 10);
  ASSERT_TRUE(store().Put(bucket(), K("big"), data).ok());
  ParallelReadOptions options;
  options.part_size = 100'000;
  auto read = [&](uint64_t start, std::optional<uint64_t> stop) {
    std::vector<uint64_t> asked;
    std::string memory;
    auto n = ReadObjectInto(store(), bucket(), K("big"), start, stop, options,
                            [&](uint64_t size) -> Result<char*> {
                              asked.push_back(size);
                              memory.assign(static_cast<size_t>(size), '?');
                              return memory.data();
                            });
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(asked.size(), 1u);
    EXPECT_EQ(n.value_or(0), memory.size());
    return memory;
  };
  EXPECT_TRUE(read(0, std::nullopt) == data);
  EXPECT_TRUE(read(50'000, 50'001) == data.substr(50'000, 1));
  EXPECT_TRUE(read(123'456, 900'000) == data.substr(123'456, 900'000 - 123'456));
  EXPECT_TRUE(read(999'000, 5'000'000) == data.substr(999'000));
  EXPECT_TRUE(read(1'000'003, std::nullopt).empty());
  EXPECT_TRUE(read(7, 7).empty());
  auto refused = ReadObjectInto(store(), bucket(), K("big"), 0, std::nullopt, options,
                                [](uint64_t) -> Result<char*> { return IoError("no memory"); });
  EXPECT_EQ(refused.status().message(), "no memory");
}

// The parallel listing over sub-prefixes hands out exactly the plain listing, in order.
TEST_P(ConformanceTest, FanOutListingEqualsThePlainListing) {
  std::vector<std::string> names = {"t/a.txt", "t/b0", "t/z"};
  for (int i = 0; i < 9; ++i) names.push_back("t/b/" + std::to_string(i));
  for (int i = 0; i < 5; ++i) names.push_back("t/c/" + std::to_string(i));
  for (int i = 0; i < 3; ++i) names.push_back("t/c/n/" + std::to_string(i));
  for (const auto& n : names) ASSERT_TRUE(store().Put(bucket(), K(n), "x").ok());
  auto plain = ListAll(store(), bucket(), K("t/"));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(plain->size(), names.size());
  auto lister = ListFanOut(store(), bucket(), K("t/"), {.max_parallel = 3, .page_size = 6});
  ASSERT_TRUE(lister.ok());
  std::vector<std::string> got;
  ListPage page;
  while (true) {
    auto more = (*lister)->Next(&page);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    for (auto& o : page.objects) got.push_back(o.key);
  }
  std::vector<std::string> want;
  for (auto& o : *plain) want.push_back(o.key);
  EXPECT_EQ(got, want);
}

TEST_P(ConformanceTest, CopyBetweenKeys) {
  std::string data = RandomBytes(9 << 20, 6);
  ASSERT_TRUE(store().Put(bucket(), K("src"), data).ok());
  ParallelReadOptions options;
  options.part_size = 2 << 20;
  ASSERT_TRUE(
      CopyObject(store(), bucket(), K("src"), data.size(), store(), bucket(), K("dst"), options)
          .ok());
  EXPECT_TRUE(*ReadToString(store(), bucket(), K("dst")) == data);
}

TEST_P(ConformanceTest, KeysAreNeverChanged) {
  // Characters that URL handling tends to mangle; file keys must also be valid paths.
  std::vector<std::string> names = {"sp ace", "plus+sign", "pct%41",
                                    "eq=val", "tilde~",    "amp&x",
                                    "hash#x", "q?x",       "uni\xc3\xa9\xe2\x82\xac"};
  for (const auto& n : names) ASSERT_TRUE(store().Put(bucket(), K(n), n).ok()) << n;
  auto all = ListAll(store(), bucket(), K(""));
  ASSERT_TRUE(all.ok());
  std::set<std::string> listed;
  for (auto& o : *all) listed.insert(o.key.substr(tb_.prefix.size()));
  for (const auto& n : names) {
    EXPECT_TRUE(listed.count(n)) << "not listed: " << n;
    auto got = ReadToString(store(), bucket(), K(n));
    ASSERT_TRUE(got.ok()) << n << ": " << got.status().ToString();
    EXPECT_EQ(*got, n);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ConformanceTest,
                         ::testing::Values("mem", "file", "s3", "gs", "az"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace quarry
