// The partitioning contract, checked against a reference model on every backend (mem, file, s3
// on the real RGW, gs on fake-gcs-server): each partition's data is exactly the records that start
// in its nominal range, whole; their concatenation (after the header) is the object.
#include "quarry/data_stream.h"

#include <bzlib.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <random>
#include <utility>

#include "quarry/local_executor.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

// Reference model: records of `data` split after every occurrence of `sep`.
std::vector<std::pair<uint64_t, std::string>> Records(const std::string& data,
                                                      const std::string& sep) {
  std::vector<std::pair<uint64_t, std::string>> out;
  size_t start = 0;
  while (start < data.size()) {
    size_t p = data.find(sep, start);
    size_t end = p == std::string::npos ? data.size() : p + sep.size();
    out.emplace_back(start, data.substr(start, end - start));
    start = end;
  }
  return out;
}

std::string ExpectedData(const std::string& data, const std::string& sep, bool header, uint64_t a,
                         uint64_t b) {
  if (sep.empty()) return data.substr(a, b - a);
  std::string out;
  auto records = Records(data, sep);
  for (size_t i = header ? 1 : 0; i < records.size(); ++i) {
    if (records[i].first >= a && records[i].first < b) out += records[i].second;
  }
  return out;
}

// Records the plain way: pieces between separators; an empty last piece is no record.
uint64_t RecordsBySplitting(const std::string& data, const std::string& sep) {
  uint64_t records = 0;
  for (size_t at = 0; at < data.size(); ++records) {
    const size_t p = data.find(sep, at);
    if (p == std::string::npos) return records + 1;
    at = p + sep.size();
  }
  return records;
}

class PartitionContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "s3" && std::getenv("QUARRY_TEST_S3") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_S3=1 with a running RGW (scripts/test-servers start)";
    }
    if (GetParam() == "gs" && std::getenv("QUARRY_TEST_GS") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_GS=1 with a running fake-gcs-server (scripts/test-servers)";
    }
    if (GetParam() == "az" && std::getenv("QUARRY_TEST_AZ") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_AZ=1 with Azurite running (scripts/test-servers start)";
    }
    auto tb = testing_util::MakeTestBucket(GetParam());
    ASSERT_TRUE(tb.ok()) << tb.status().ToString();
    tb_ = std::move(*tb);
  }
  void TearDown() override {
    if (tb_.store) testing_util::DropTestBucket(tb_);
  }
  std::string Uri(const std::string& name) {
    return tb_.store->scheme() == "file" ? "file:///" + tb_.prefix + name
                                         : GetParam() + "://" + tb_.bucket + "/" + name;
  }
  void Put(const std::string& name, const std::string& data) {
    ASSERT_TRUE(tb_.store->Put(tb_.bucket, tb_.prefix + name, data).ok());
  }

  // Plans `name` with the options and checks every partition against the model.
  void Check(const std::string& name, const std::string& data, const PlanOptions& options,
             bool use_readline = false) {
    SCOPED_TRACE("size=" + std::to_string(data.size()) +
                 " chunk_size=" + std::to_string(options.chunk_size) +
                 " chunk_number=" + std::to_string(options.chunk_number) +
                 " sep_len=" + std::to_string(options.newline.size()) +
                 " header=" + std::to_string(options.header));
    const std::string sep = options.newline;
    const bool header = options.header;
    auto plan = Plan::Build({Uri(name)}, options);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    auto parts = plan->All();
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    auto ranges = NominalRanges(data.size(), options.chunk_size, options.chunk_number);
    ASSERT_EQ(parts->size(), ranges.size());
    std::string joined;
    std::optional<std::string> seen_header;
    for (size_t i = 0; i < parts->size(); ++i) {
      const Partition& p = (*parts)[i];
      EXPECT_EQ(p.part, i);
      EXPECT_EQ(p.total_parts, ranges.size());
      EXPECT_EQ(p.start, ranges[i].first);
      EXPECT_EQ(p.stop, ranges[i].second);
      auto stream = p.Open();
      ASSERT_TRUE(stream.ok()) << stream.status().ToString();
      std::string got;
      if (use_readline) {
        int guard = 0;
        while (true) {
          auto line = (*stream)->ReadLine();
          ASSERT_TRUE(line.ok()) << line.status().ToString();
          if (line->empty()) break;
          got += *line;
          ASSERT_LT(++guard, 100000) << "ReadLine does not end";
        }
        // At the end, reads stay at the end.
        auto again = (*stream)->ReadLine();
        ASSERT_TRUE(again.ok());
        EXPECT_TRUE(again->empty());
      } else {
        auto all = (*stream)->ReadAll();
        ASSERT_TRUE(all.ok()) << all.status().ToString();
        got = *all;
      }
      EXPECT_EQ(got, ExpectedData(data, sep, header, p.start, p.stop)) << "part " << i;
      EXPECT_EQ((*stream)->Tell(), got.size());
      if (!use_readline) {
        // The same partition's records counted without handing the bytes out.
        auto again = p.Open();
        ASSERT_TRUE(again.ok()) << again.status().ToString();
        auto records = (*again)->CountRecords();
        ASSERT_TRUE(records.ok()) << records.status().ToString();
        EXPECT_EQ(*records, RecordsBySplitting(got, sep.empty() ? "\n" : sep)) << "part " << i;
      }
      if (header) {
        ASSERT_TRUE((*stream)->header().has_value());
        if (seen_header) {
          EXPECT_EQ(*seen_header, *(*stream)->header());
        }
        seen_header = *(*stream)->header();
      } else {
        EXPECT_FALSE((*stream)->header().has_value());
      }
      joined += got;
    }
    EXPECT_EQ(seen_header.value_or("") + joined, data);
  }

  testing_util::TestBucket tb_;
};

std::string RandomText(std::mt19937& rng, size_t size, const std::string& sep, bool trailing) {
  // Dense in separators and their bytes, so boundaries straddle chunk edges often.
  std::string alphabet = "xyz" + sep + sep;
  std::string s;
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  while (s.size() < size) s.push_back(alphabet[pick(rng)]);
  s.resize(size);
  if (trailing && size >= sep.size()) s.replace(size - sep.size(), sep.size(), sep);
  return s;
}

TEST_P(PartitionContractTest, RandomObjectsAllChunkingsMatchTheModel) {
  std::mt19937 rng(1234);
  const bool remote = GetParam() == "s3" || GetParam() == "gs" || GetParam() == "az";
  const std::vector<std::string> seps = {"\n", "\r\n", "\x1e", "|#"};
  const int objects = remote ? 8 : 40;
  for (int o = 0; o < objects; ++o) {
    const std::string& sep = seps[o % seps.size()];
    size_t size = std::uniform_int_distribution<size_t>(0, remote ? 60 : 120)(rng);
    bool trailing = o % 3 == 0;
    std::string data = RandomText(rng, size, sep, trailing);
    std::string name = "obj" + std::to_string(o);
    Put(name, data);
    for (bool header : {false, true}) {
      for (uint64_t c = 1; c <= size + 1; c += remote ? 7 : 1) {
        PlanOptions opt;
        opt.newline = sep;
        opt.header = header;
        opt.chunk_size = c;
        if (c % 4 < 2) {
          opt.part_size = 3;  // tiny ranged reads: many boundaries inside each partition
        } else {
          opt.read_window = 4;  // one request per partition, through a tiny ring
        }
        Check(name, data, opt, /*use_readline=*/c % 2 == 0);
        if (HasFatalFailure()) return;
      }
      for (uint64_t n : {uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{7}, size + 2}) {
        PlanOptions opt;
        opt.newline = sep;
        opt.header = header;
        opt.chunk_number = n;
        opt.part_size = 5;
        Check(name, data, opt);
        if (HasFatalFailure()) return;
      }
    }
    // Byte mode: exactly the nominal ranges.
    PlanOptions bytes;
    bytes.chunk_size = 1 + size / 3;
    Check(name, data, bytes);
  }
}

TEST_P(PartitionContractTest, PinnedCases) {
  struct Case {
    std::string name, data, sep;
    uint64_t chunk;
  };
  const std::string long_record = std::string(1000, 'L') + "\n";
  std::vector<Case> cases = {
      {"empty", "", "\n", 4},
      {"one-byte", "x", "\n", 1},
      {"one-sep", "\n", "\n", 1},
      {"exactly-one-chunk", "abc\ndef\n", "\n", 8},
      {"last-chunk-one-byte", "abc\ndef\ng", "\n", 4},
      {"no-trailing-separator", "a\nbb\nccc", "\n", 2},
      {"record-ten-chunks-long", "a\n" + long_record + "b\n", "\n", 100},
      {"chunk-size-one", "ab\nc\n\nd", "\n", 1},
      {"crlf-split-between-cr-and-lf", "abc\r\ndef\r\ngh", "\r\n", 4},
      {"separator-straddles-boundary", "ab|#cd|#ef", "|#", 3},
      {"starts-with-separators", "\n\n\nabc\n", "\n", 2},
      {"consecutive-separators", "a\n\n\n\nb\n\n", "\n", 3},
      {"lone-cr-is-data", "a\rb\r\nc\r", "\r\n", 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Put(c.name, c.data);
    for (bool header : {false, true}) {
      for (bool readline : {false, true}) {
        PlanOptions opt;
        opt.newline = c.sep;
        opt.header = header;
        opt.chunk_size = c.chunk;
        opt.part_size = 7;
        Check(c.name, c.data, opt, readline);
      }
    }
  }
  // chunk_number larger than the object: one partition per byte, never more.
  Put("small", "a\nb\n");
  auto plan = Plan::Build({Uri("small")}, {.chunk_number = 10, .newline = "\n"});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->All()->size(), 4u);
}

TEST_P(PartitionContractTest, SeekAndTellWithinPartition) {
  std::string data;
  for (int i = 0; i < 200; ++i) data += "record-" + std::to_string(i) + "\n";
  Put("seek", data);
  auto plan = Plan::Build({Uri("seek")}, {.chunk_size = 500, .newline = "\n", .part_size = 64});
  auto parts = plan->All();
  ASSERT_TRUE(parts.ok());
  const Partition& p = (*parts)[1];
  auto s = p.Open();
  ASSERT_TRUE(s.ok());
  std::string all = *(*s)->ReadAll();
  ASSERT_GT(all.size(), 100u);
  for (uint64_t pos : {uint64_t{10}, uint64_t{0}, all.size() - 3, uint64_t{250}, all.size()}) {
    ASSERT_TRUE((*s)->Seek(pos).ok());
    EXPECT_EQ((*s)->Tell(), pos);
    char buf[5];
    auto n = (*s)->Read(buf, 5);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(std::string(buf, *n), all.substr(pos, 5)) << pos;
  }
  // Seeking on a fresh stream past the nominal stop (the data's end not known yet).
  auto fresh = p.Open();
  ASSERT_TRUE((*fresh)->Seek(all.size() - 2).ok());
  EXPECT_EQ(*(*fresh)->ReadAll(), all.substr(all.size() - 2));
}

TEST_P(PartitionContractTest, ChangedObjectFailsTheRead) {
  Put("changing", std::string(10000, 'a'));
  auto plan = Plan::Build({Uri("changing")}, {.chunk_size = 4000});
  auto parts = plan->All();
  ASSERT_TRUE(parts.ok());
  Put("changing", std::string(10000, 'b'));
  auto s = (*parts)[1].Open();
  Status st = s.ok() ? (*s)->ReadAll().status() : s.status();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kPreconditionFailed) << st.ToString();
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
  return out;
}

std::string Bzip2(const std::string& in) {
  unsigned int len = static_cast<unsigned>(in.size() + in.size() / 100 + 600);
  std::string out(len, '\0');
  BZ2_bzBuffToBuffCompress(out.data(), &len, const_cast<char*>(in.data()),
                           static_cast<unsigned>(in.size()), 9, 0, 0);
  out.resize(len);
  return out;
}

TEST_P(PartitionContractTest, CompressedObjectsAreWholeAndDecoded) {
  std::string text = "name,value\n";
  for (int i = 0; i < 5000; ++i)
    text += "row" + std::to_string(i) + "," + std::to_string(i * 7) + "\n";
  // Names without suffixes: recognised by magic bytes. One with a suffix and concatenated members.
  std::vector<std::pair<std::string, std::string>> objects = {
      {"data-gzip", Gzip(text)},
      {"data-zstd", Zstd(text)},
      {"data-bzip2", Bzip2(text)},
      {"two-members.gz", Gzip(text.substr(0, 1000)) + Gzip(text.substr(1000))}};
  for (const auto& [name, blob] : objects) {
    SCOPED_TRACE(name);
    Put(name, blob);
    auto plan = Plan::Build(
        {Uri(name)}, {.chunk_size = 1000, .newline = "\n", .header = true, .part_size = 4096});
    ASSERT_TRUE(plan.ok());
    auto parts = plan->All();
    ASSERT_TRUE(parts.ok()) << parts.status().ToString();
    ASSERT_EQ(parts->size(), 1u) << "compressed objects are never split";
    auto s = (*parts)[0].Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(*(*s)->header(), "name,value\n");
    auto rest = (*s)->ReadAll();
    ASSERT_TRUE(rest.ok()) << rest.status().ToString();
    EXPECT_TRUE(*rest == text.substr(11));
    // decompress=False: raw bytes, split as any object.
    auto raw = Plan::Build({Uri(name)}, {.chunk_size = 1000, .decompress = false});
    auto raw_parts = raw->All();
    ASSERT_TRUE(raw_parts.ok());
    std::string joined;
    for (auto& p : *raw_parts) joined += *(*p.Open())->ReadAll();
    EXPECT_TRUE(joined == blob);
  }
  // A truncated gzip object fails loudly.
  Put("cut.gz", Gzip(text).substr(0, 500));
  auto plan = Plan::Build({Uri("cut.gz")}, {});
  auto s = (*plan->All())[0].Open();
  Status st = s.ok() ? (*s)->ReadAll().status() : s.status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ends early"), std::string::npos) << st.ToString();
}

std::string Zlib(const std::string& in) {
  uLongf len = compressBound(in.size());
  std::string out(len, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &len, reinterpret_cast<const Bytef*>(in.data()),
            in.size(), 6);
  out.resize(len);
  return out;
}

// Magic bytes first, then the key's suffix, then the Content-Encoding stored with the object.
// Shared chunks keep their memory after the next read and after the stream is gone (the
// sanitizer presets turn a dangling view into a failure); read at once, they are the data.
TEST_P(PartitionContractTest, SharedChunksOutliveTheStream) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",shared\n";
  Put("plain.csv", text);
  Put("packed.gz", Gzip(text));
  for (const char* name : {"plain.csv", "packed.gz"}) {
    SCOPED_TRACE(name);
    auto plan = Plan::Build({Uri(name)}, {.chunk_size = 30000,
                                          .newline = "\n",
                                          .part_size = 8192,
                                          .readahead = 2,
                                          .read_window = 4096});
    ASSERT_TRUE(plan.ok());
    auto parts = plan->All();
    ASSERT_TRUE(parts.ok());
    std::vector<DataStream::SharedChunk> held;
    std::string joined;
    for (auto& p : *parts) {
      auto s = p.Open();
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      while (true) {
        auto chunk = (*s)->ReadSharedChunk(1000);
        ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
        if (chunk->data.empty()) break;
        EXPECT_LE(chunk->data.size(), 1000u);
        joined.append(chunk->data);
        held.push_back(std::move(*chunk));
      }
    }
    EXPECT_TRUE(joined == text);
    size_t total = 0;
    for (const auto& c : held) {
      ASSERT_NE(c.owner, nullptr);
      total += static_cast<size_t>(std::count(c.data.begin(), c.data.end(), '\0')) + c.data.size();
    }
    EXPECT_GE(total, text.size());  // every view's memory can still be read
  }
}

TEST_P(PartitionContractTest, CompressionFromMagicThenSuffixThenContentEncoding) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "line" + std::to_string(i) + "\n";
  auto read_whole = [&](const std::string& name) -> Result<std::string> {
    QUARRY_ASSIGN_OR_RETURN(auto plan,
                            Plan::Build({Uri(name)}, {.chunk_size = 1000, .newline = "\n"}));
    QUARRY_ASSIGN_OR_RETURN(auto parts, plan.All());
    if (parts.size() != 1)
      return Internal(name + " was split into " + std::to_string(parts.size()));
    QUARRY_ASSIGN_OR_RETURN(auto stream, parts[0].Open());
    return stream->ReadAll();
  };
  // The magic bytes win over a suffix that names another format.
  Put("really-zstd.gz", Zstd(text));
  auto got = read_whole("really-zstd.gz");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == text);
  // A suffix whose bytes carry no magic is decoded by it, and fails loudly if they are not.
  Put("plain.gz", text);
  got = read_whole("plain.gz");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("decompress=False"), std::string::npos)
      << got.status().ToString();
  if (GetParam() == "file") return;  // files keep no Content-Encoding
  // No magic, no suffix: a zlib stream stored with Content-Encoding: deflate.
  ASSERT_TRUE(tb_.store
                  ->Put(tb_.bucket, tb_.prefix + "table", Zlib(text),
                        PutOptions{.content_type = "text/csv", .content_encoding = "deflate"})
                  .ok());
  got = read_whole("table");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == text);
  // Read raw when asked: split like any object, bytes as stored.
  auto raw = Plan::Build({Uri("table")}, {.chunk_size = 100, .decompress = false});
  ASSERT_TRUE(raw.ok());
  EXPECT_GT(raw->All()->size(), 1u);
}

TEST_P(PartitionContractTest, LocalExecutorCountsRecordsInPlanOrder) {
  std::string data;
  for (int i = 0; i < 3000; ++i) data += std::to_string(i) + ",payload\n";
  Put("count.csv", data);
  auto plan = Plan::Build({Uri("count.csv")}, {.chunk_size = 2000, .newline = "\n"});
  ASSERT_TRUE(plan.ok());
  LocalExecutor exec({.threads = 4});
  auto counts = exec.Map<std::pair<uint64_t, uint64_t>>(
      *plan, [](Partition& p) -> Result<std::pair<uint64_t, uint64_t>> {
        QUARRY_ASSIGN_OR_RETURN(auto stream, p.Open());
        uint64_t n = 0;
        while (true) {
          QUARRY_ASSIGN_OR_RETURN(auto line, stream->ReadLine());
          if (line.empty()) break;
          ++n;
        }
        return std::make_pair(p.part, n);
      });
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  uint64_t total = 0;
  for (size_t i = 0; i < counts->size(); ++i) {
    EXPECT_EQ((*counts)[i].first, i);  // plan order
    total += (*counts)[i].second;
  }
  EXPECT_EQ(total, 3000u);

  // A failing partition is named.
  auto plan2 = Plan::Build({Uri("count.csv")}, {.chunk_size = 2000, .newline = "\n"});
  auto failed = exec.Map<int>(*plan2, [](Partition& p) -> Result<int> {
    if (p.part == 3) return InvalidArgument("bad record");
    return 0;
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("partition 3 of " + Uri("count.csv")), std::string::npos)
      << failed.status().message();
}

// The real store of a test, with a record of the ranged reads made through it (what a stream
// asks for, whether or not it consumes all of it).
class RecordingStore final : public testing_util::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  struct Request {
    uint64_t offset, length;
  };
  // The reads made since the last call, in the order they started.
  std::vector<Request> TakeRequests() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(requests_, {});
  }

  Result<uint64_t> ReadRange(std::string_view bucket, std::string_view key, uint64_t offset,
                             uint64_t length, ReadSink* sink, const ReadOptions& options) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({offset, length});
    }
    return inner_->ReadRange(bucket, key, offset, length, sink, options);
  }

 private:
  std::mutex mu_;
  std::vector<Request> requests_;
};

uint64_t Requested(const std::vector<RecordingStore::Request>& requests) {
  uint64_t total = 0;
  for (const auto& r : requests) total += r.length;
  return total;
}

std::string RandomBytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// The planned partition of a whole object (the one partition of a plan without chunking).
Result<Partition> WholePartition(const std::string& uri, PlanOptions options) {
  QUARRY_ASSIGN_OR_RETURN(auto plan, Plan::Build({uri}, std::move(options)));
  QUARRY_ASSIGN_OR_RETURN(auto parts, plan.All());
  if (parts.size() != 1) return Internal(uri + " has " + std::to_string(parts.size()) + " parts");
  return parts[0];
}

std::string ReadN(DataStream& s, size_t n) {
  std::string out(n, '\0');
  auto got = s.Read(out.data(), n);
  if (!got.ok()) return "error: " + got.status().ToString();
  out.resize(*got);
  return out;
}

// A byte range reads what is asked for: nothing at opening or on a seek, one request of what a
// read wants after a seek (at least 64 KiB, cut at the range's end), then growing requests while
// the reads go on in order, never past the range.
TEST_P(PartitionContractTest, ByteRangeRequestsFollowTheReads) {
  const std::string data = RandomBytes(3 << 20, 1);
  Put("range.bin", data);
  auto rec = std::make_shared<RecordingStore>(tb_.store);
  PlanOptions tuning;
  tuning.part_size = 1 << 20;
  auto object = WholePartition(Uri("range.bin"), tuning);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  const uint64_t start = 1000, stop = data.size() - 1000, len = stop - start;
  auto s = OpenByteRange(rec, *object, start, stop);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(rec->TakeRequests().empty()) << "opening requests nothing";
  ASSERT_EQ((*s)->Size(), len);

  // The last 8 bytes: one request of exactly them.
  ASSERT_TRUE((*s)->Seek(len - 8).ok());
  EXPECT_TRUE(rec->TakeRequests().empty()) << "a seek requests nothing";
  EXPECT_EQ(ReadN(**s, 100), data.substr(stop - 8, 8));
  auto r = rec->TakeRequests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].offset, stop - 8);
  EXPECT_EQ(r[0].length, 8u);

  // Back to the start: one request of 64 KiB for a read of 100.
  ASSERT_TRUE((*s)->Seek(10).ok());
  EXPECT_EQ(ReadN(**s, 100), data.substr(start + 10, 100));
  r = rec->TakeRequests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].offset, start + 10);
  EXPECT_EQ(r[0].length, 64u << 10);

  // A short hop forward into those bytes costs nothing more.
  ASSERT_TRUE((*s)->Seek(5000).ok());
  EXPECT_EQ(ReadN(**s, 1000), data.substr(start + 5000, 1000));
  EXPECT_TRUE(rec->TakeRequests().empty());

  // A small read, then one long read on from it (a zip member after its header): the long read
  // asks for the rest it wants, and nothing beyond (no readahead for a single read).
  ASSERT_TRUE((*s)->Seek(2 << 20).ok());
  EXPECT_EQ(ReadN(**s, 30), data.substr(start + (2 << 20), 30));
  EXPECT_TRUE(ReadN(**s, 200 << 10) == data.substr(start + (2 << 20) + 30, 200 << 10));
  r = rec->TakeRequests();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].length, 64u << 10);
  EXPECT_EQ(r[0].length + r[1].length, 30u + (200 << 10));

  // One read of 300 KiB somewhere else: one request of it.
  ASSERT_TRUE((*s)->Seek(1 << 20).ok());
  EXPECT_TRUE(ReadN(**s, 300 << 10) == data.substr(start + (1 << 20), 300 << 10));
  r = rec->TakeRequests();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].length, 300u << 10);

  // Reading on in 64 KiB pieces: requests grow to the part size, cover the rest exactly once.
  std::string rest;
  while (true) {
    std::string piece = ReadN(**s, 64 << 10);
    if (piece.empty()) break;
    rest += piece;
  }
  EXPECT_TRUE(rest ==
              data.substr(start + (1 << 20) + (300 << 10), stop - start - (1 << 20) - (300 << 10)));
  r = rec->TakeRequests();
  // Reads in flight together start in any order.
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(Requested(r), rest.size());
  for (size_t i = 1; i < r.size(); ++i) {
    EXPECT_EQ(r[i].offset, r[i - 1].offset + r[i - 1].length);
    EXPECT_LE(r[i].length, uint64_t{1} << 20);
  }
  EXPECT_EQ(r[1].length, std::min<uint64_t>(r[0].length * 2, 1 << 20));
  EXPECT_EQ((*s)->Tell(), len);

  // Bad ranges are refused, naming the object and the allowed values.
  auto bad = OpenByteRange(rec, *object, 10, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("start <= stop"), std::string::npos);
  EXPECT_FALSE(OpenByteRange(rec, *object, 0, data.size() + 1).ok());
  // An empty range reads nothing and asks for nothing.
  auto empty = OpenByteRange(rec, *object, 7, 7);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ReadN(**empty, 10), "");
  EXPECT_TRUE(rec->TakeRequests().empty());
}

// A whole uncompressed object is a byte range once its first bytes showed no compression: seeks
// anywhere, backward too, are ranged reads, and its size is known without reading to the end.
TEST_P(PartitionContractTest, WholeObjectSeeksAreRangedReads) {
  std::string text = "id,value\n";
  while (text.size() < (2 << 20)) text += std::to_string(text.size()) + ",whole\n";
  Put("whole.csv", text);
  auto rec = std::make_shared<RecordingStore>(tb_.store);
  for (bool header : {false, true}) {
    SCOPED_TRACE(header);
    PlanOptions options;
    if (header) {
      options.newline = "\n";
      options.header = true;
    }
    auto p = WholePartition(Uri("whole.csv"), options);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    rec->TakeRequests();
    auto s = OpenDataStream(rec, *p);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto r = rec->TakeRequests();
    ASSERT_EQ(r.size(), 1u) << "one request for the first bytes";
    EXPECT_EQ(r[0].length, 64u << 10);
    const uint64_t skip = header ? 9 : 0;
    ASSERT_EQ((*s)->Size(), text.size() - skip);
    const std::string data = text.substr(skip);
    ASSERT_TRUE((*s)->Seek(data.size() - 8).ok());
    EXPECT_EQ(ReadN(**s, 100), data.substr(data.size() - 8));
    ASSERT_TRUE((*s)->Seek(100000).ok());
    EXPECT_EQ(ReadN(**s, 50), data.substr(100000, 50));
    ASSERT_TRUE((*s)->Seek(3).ok());
    EXPECT_EQ(ReadN(**s, 50), data.substr(3, 50));
    r = rec->TakeRequests();
    ASSERT_EQ(r.size(), 3u) << "one request per seek";
    EXPECT_EQ(r[0].offset, text.size() - 8);
    EXPECT_EQ(r[1].offset, skip + 100000);
    EXPECT_EQ(r[2].offset, skip + 3);
    EXPECT_EQ(r[0].length, 8u);  // cut at the end
    EXPECT_EQ(r[1].length, 64u << 10);
    EXPECT_EQ(r[2].length, 64u << 10);
    ASSERT_TRUE((*s)->Seek(0).ok());
    EXPECT_TRUE(*(*s)->ReadAll() == data);
  }
}

// Reading everything goes to part-size requests, `readahead` of them in flight, at once.
TEST_P(PartitionContractTest, ReadingEverythingRequestsWholeParts) {
  const std::string data = RandomBytes(5 << 20, 2);
  Put("all.bin", data);
  auto rec = std::make_shared<RecordingStore>(tb_.store);
  PlanOptions options;
  options.part_size = 1 << 20;
  options.decompress = false;
  auto p = WholePartition(Uri("all.bin"), options);
  ASSERT_TRUE(p.ok());
  auto s = OpenDataStream(rec, *p);
  ASSERT_TRUE(s.ok());
  auto all = (*s)->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(*all == data);
  auto r = rec->TakeRequests();
  ASSERT_EQ(r.size(), 5u);
  for (const auto& one : r) EXPECT_EQ(one.length, uint64_t{1} << 20);
}

// Line mode reads records in order: after the first record is found, reads of any size go to
// part-size requests at once; a seek sizes its requests by the read, as in byte mode.
TEST_P(PartitionContractTest, LineModeScansInPartSizeRequests) {
  std::string text;
  while (text.size() < (6 << 20)) text += std::to_string(text.size()) + ",a line of a scan\n";
  Put("scan.csv", text);
  auto rec = std::make_shared<RecordingStore>(tb_.store);
  auto plan =
      Plan::Build({Uri("scan.csv")},
                  {.chunk_size = 4 << 20, .newline = "\n", .part_size = 1 << 20, .readahead = 2});
  ASSERT_TRUE(plan.ok());
  auto parts = plan->All();
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  std::string joined;
  for (const auto& p : *parts) {
    auto s = OpenDataStream(rec, p);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    while (true) {
      std::string piece = ReadN(**s, 4096);
      if (piece.empty()) break;
      joined += piece;
    }
    auto r = rec->TakeRequests();
    std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
    ASSERT_GE(r.size(), 2u);
    // The first request found the first record (part 1) or the start; every other one up to
    // the last is a whole part.
    for (size_t i = 1; i + 1 < r.size(); ++i) EXPECT_EQ(r[i].length, uint64_t{1} << 20) << i;
    if (p.part == 0) {
      // A seek then sizes the request by its read.
      ASSERT_TRUE((*s)->Seek(1000).ok());
      EXPECT_EQ(ReadN(**s, 10), text.substr(1000, 10));
      r = rec->TakeRequests();
      ASSERT_EQ(r.size(), 1u);
      EXPECT_EQ(r[0].length, 64u << 10);
    }
  }
  EXPECT_TRUE(joined == text);
}

// Compressed data has no size before its end, and seeks back by starting over.
TEST_P(PartitionContractTest, CompressedSizeShowsAtTheEnd) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",packed\n";
  Put("size.gz", Gzip(text));
  auto p = WholePartition(Uri("size.gz"), {});
  ASSERT_TRUE(p.ok());
  auto s = p->Open();
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE((*s)->Size().has_value());
  ASSERT_TRUE((*s)->Seek(1000).ok());
  EXPECT_EQ(ReadN(**s, 10), text.substr(1000, 10));
  ASSERT_TRUE((*s)->Seek(10).ok());
  EXPECT_EQ(ReadN(**s, 10), text.substr(10, 10));
  ASSERT_TRUE((*s)->Seek(uint64_t{1} << 40).ok());
  EXPECT_EQ((*s)->Tell(), text.size());
  EXPECT_EQ((*s)->Size(), text.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, PartitionContractTest,
                         ::testing::Values("mem", "file", "s3", "gs", "az"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace quarry
