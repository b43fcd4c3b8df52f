// S3 backend against the real Ceph RGW: paging, awkward keys, large multipart objects and the
// errors users meet (missing bucket or key, wrong secret, unreachable endpoint).
#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "auth/credentials.h"
#include "auth/sigv4.h"
#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/parallel_for.h"
#include "quarry/registry.h"
#include "storage/backends.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

// Malformed storage options are refused when the store is made, naming the option, the value
// and what is allowed; no request is sent.
TEST(S3OptionsTest, MalformedOptionsAreRefusedNamingThem) {
  struct Case {
    const char* key;
    const char* value;
    const char* says;
  };
  const Case cases[] = {
      {"verify_tls", "banana", "'verify_tls' = 'banana' is not allowed: give true or false"},
      {"receive_in_place", "maybe", "'receive_in_place' = 'maybe'"},
      {"max_attempts", "-3",
       "'max_attempts' = '-3' is not allowed: give a whole number of "
       "attempts per request from 1 to 100"},
      {"max_attempts", "0", "'max_attempts' = '0'"},
      {"read_timeout_ms", "abc", "'read_timeout_ms' = 'abc'"},
      {"connect_timeout_ms", "99999999999999999999", "'connect_timeout_ms'"},
      {"part_size", "1024", "'part_size' = '1024'"},
  };
  for (const auto& c : cases) {
    StorageOptions options = {{"endpoint", "http://127.0.0.1:9"},
                              {"access_key_id", "k"},
                              {"secret_access_key", "s"},
                              {c.key, c.value}};
    auto store = MakeS3Store("s3", options);
    ASSERT_FALSE(store.ok()) << c.key << "=" << c.value;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find(c.says), std::string::npos) << store.status().message();
  }
}

class RgwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("QUARRY_TEST_S3") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_S3=1 with a running RGW (scripts/test-servers start)";
    }
    auto tb = testing_util::MakeTestBucket("s3");
    ASSERT_TRUE(tb.ok()) << tb.status().ToString();
    tb_ = std::move(*tb);
  }
  void TearDown() override {
    if (tb_.store) testing_util::DropTestBucket(tb_);
  }
  // Options of the test server, with overrides.
  static StorageOptions ServerOptions(const StorageOptions& overrides = {}) {
    auto resolved = ResolveStorageOptions("s3", overrides, ConfigEnvironment::Process());
    return *resolved;
  }

  testing_util::TestBucket tb_;
};

TEST_F(RgwTest, ListsThousandsOfKeysAcrossPages) {
  constexpr size_t kKeys = 2500;
  ASSERT_TRUE(ParallelFor(kKeys, 16, [&](size_t i) {
                char key[32];
                std::snprintf(key, sizeof key, "many/%05zu", i);
                return tb_.store->Put(tb_.bucket, key, std::to_string(i));
              }).ok());
  auto lister = tb_.store->List(tb_.bucket, "many/", {});
  ASSERT_TRUE(lister.ok());
  ListPage page;
  size_t pages = 0, count = 0;
  std::string last;
  while (true) {
    auto more = (*lister)->Next(&page);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    ++pages;
    for (const auto& o : page.objects) {
      EXPECT_LT(last, o.key);  // sorted, no duplicates
      last = o.key;
      ++count;
    }
  }
  EXPECT_EQ(count, kKeys);
  EXPECT_EQ(pages, 3u);  // 1000 + 1000 + 500
}

TEST_F(RgwTest, AwkwardKeysRoundTrip) {
  std::vector<std::string> keys = {"with space",    "plus+plus",
                                   "percent%41%2F", "eq=1&amp=2",
                                   "tilde~",        "double//slash",
                                   "//leading",     "question?mark",
                                   "hash#tag",      "unicod\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac",
                                   "dots/../x",     "./dot",
                                   "semi;colon",    "star*",
                                   "quote\"'",      "brackets[1]{2}",
                                   "tab\there",     std::string(900, 'k')};
  for (const auto& k : keys) ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "v:" + k).ok()) << k;
  auto all = ListAll(*tb_.store, tb_.bucket, "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::set<std::string> listed;
  for (const auto& o : *all) listed.insert(o.key);
  EXPECT_EQ(listed.size(), keys.size());
  for (const auto& k : keys) {
    EXPECT_TRUE(listed.count(k)) << "not listed as is: " << k;
    auto got = ReadToString(*tb_.store, tb_.bucket, k);
    ASSERT_TRUE(got.ok()) << k << ": " << got.status().ToString();
    EXPECT_EQ(*got, "v:" + k);
    EXPECT_TRUE(tb_.store->Head(tb_.bucket, k).ok()) << k;
  }
  // Listing by a prefix that itself needs encoding.
  auto under = ListAll(*tb_.store, tb_.bucket, "unicod\xc3\xa9/");
  ASSERT_TRUE(under.ok());
  EXPECT_EQ(under->size(), 1u);
  ASSERT_TRUE(tb_.store->DeleteObjects(tb_.bucket, keys).ok());
  EXPECT_TRUE(ListAll(*tb_.store, tb_.bucket, "")->empty());
}

TEST_F(RgwTest, EmptyBucketListsNothing) {
  auto all = ListAll(*tb_.store, tb_.bucket, "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->empty());
}

TEST_F(RgwTest, LargeMultipartRoundTripByHash) {
  // 70 MiB through the default writer (16 MiB parts): 5 parts, checked by SHA-256.
  auto default_store = StoreForUri(*ParseUri("s3://" + tb_.bucket));
  ASSERT_TRUE(default_store.ok());
  std::mt19937_64 rng(42);
  std::string data(70u << 20, '\0');
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  auto writer = (*default_store)->OpenWriter(tb_.bucket, "large.bin");
  ASSERT_TRUE(writer.ok());
  for (size_t off = 0; off < data.size(); off += 3 << 20) {
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(off, 3 << 20)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  auto info = (*default_store)->Head(tb_.bucket, "large.bin");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, data.size());
  EXPECT_NE(info->etag.find('-'), std::string::npos) << "expected a multipart ETag: " << info->etag;
  std::string got;
  ASSERT_TRUE(ParallelRead(**default_store, tb_.bucket, "large.bin", 0, info->size, {},
                           [&](std::string_view part) {
                             got.append(part);
                             return Status::Ok();
                           })
                  .ok());
  EXPECT_EQ(auth::Sha256Hex(got), auth::Sha256Hex(data));
}

// Resets this process's peak resident memory (VmHWM) to its current resident size; false where
// the kernel does not let a process do so, or where the figure would not be the program's own
// (under AddressSanitizer or ThreadSanitizer, whose shadow memory and quarantine count too).
bool ResetPeakMemory() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return false;
#endif
#endif
  FILE* clear = std::fopen("/proc/self/clear_refs", "w");
  if (clear == nullptr) return false;
  const bool reset = std::fputs("5", clear) >= 0;
  return std::fclose(clear) == 0 && reset;
}

// Peak resident memory of this process in bytes (VmHWM) since it started or was reset.
uint64_t PeakMemory() {
  FILE* status = std::fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kib = 0;
  while (status != nullptr && std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "VmHWM: %" SCNu64 " kB", &kib) == 1) break;
  }
  if (status != nullptr) std::fclose(status);
  return kib << 10;
}

std::string PatternBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  return data;
}

// One Write of a buffer many parts long sends the parts from the buffer itself: the process
// grows by far less than the buffer (a copying writer would grow by all of it), and the object
// is the buffer's bytes although they are overwritten as soon as Write returns.
TEST_F(RgwTest, WriterSendsALargeBufferWithoutCopyingIt) {
  std::string data = PatternBytes((96u << 20) + 4321, 7);  // 19 parts of 5 MiB and a tail
  const std::string expected = auth::Sha256Hex(data);
  auto writer = tb_.store->OpenWriter(tb_.bucket, "from-buffer.bin");
  ASSERT_TRUE(writer.ok());
  const bool measured = ResetPeakMemory();
  const uint64_t before = PeakMemory();
  ASSERT_TRUE((*writer)->Write(data).ok());
  const uint64_t grew = PeakMemory() - before;
  std::fill(data.begin(), data.end(), 'x');
  ASSERT_TRUE((*writer)->Close().ok());
  if (measured) {
    EXPECT_LT(grew, uint64_t{24} << 20) << "the writer copied the buffer";
  }
  auto got = ReadToString(*tb_.store, tb_.bucket, "from-buffer.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), data.size());
  EXPECT_EQ(auth::Sha256Hex(*got), expected);
}

// Bytes streamed through Room()/Commit() (as a file is read) are held in a few part buffers,
// reused from part to part: memory stays near (parts in flight + 1) x part size.
TEST_F(RgwTest, WriterStreamsThroughAFewReusedPartBuffers) {
  constexpr size_t kSize = 120u << 20;
  auto writer = tb_.store->OpenWriter(tb_.bucket, "streamed.bin");
  ASSERT_TRUE(writer.ok());
  const bool measured = ResetPeakMemory();
  const uint64_t before = PeakMemory();
  std::mt19937_64 rng(9);
  auto byte_at = [](size_t i) { return static_cast<char>(i * 131 >> 3); };
  for (size_t done = 0; done < kSize;) {
    auto room = (*writer)->Room();
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    const size_t n = std::min({room->size(), kSize - done, size_t{1} + rng() % (2 << 20)});
    for (size_t i = 0; i < n; ++i) (*room)[i] = byte_at(done + i);
    ASSERT_TRUE((*writer)->Commit(n).ok());
    done += n;
  }
  ASSERT_TRUE((*writer)->Close().ok());
  const uint64_t grew = PeakMemory() - before;
  if (measured) {
    EXPECT_LT(grew, uint64_t{40} << 20) << "5 part buffers of 5 MiB, and the HTTP client's own";
  }
  std::string got;
  ASSERT_TRUE(ParallelRead(*tb_.store, tb_.bucket, "streamed.bin", 0, kSize, {},
                           [&](std::string_view part) {
                             got.append(part);
                             return Status::Ok();
                           })
                  .ok());
  ASSERT_EQ(got.size(), kSize);
  size_t wrong = 0;
  for (size_t i = 0; i < kSize; ++i) wrong += got[i] != byte_at(i);
  EXPECT_EQ(wrong, 0u);
}

// With a threshold above the part size, what stays below it is one PUT; what reaches it, parts.
TEST_F(RgwTest, WriterBelowAThresholdAboveThePartSizeMakesOnePut) {
  auto store = StoreForUri(
      *ParseUri("s3://" + tb_.bucket),
      {{"part_size", std::to_string(5 << 20)}, {"multipart_threshold", std::to_string(12 << 20)}});
  ASSERT_TRUE(store.ok());
  for (size_t size : {size_t{11} << 20, size_t{13} << 20}) {
    const std::string data = PatternBytes(size, size);
    auto writer = (*store)->OpenWriter(tb_.bucket, "t.bin");
    ASSERT_TRUE(writer.ok());
    for (size_t at = 0; at < size; at += 1 << 20) {
      ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(at, 1 << 20)).ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
    auto info = (*store)->Head(tb_.bucket, "t.bin");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->etag.find('-') != std::string::npos, size > (12u << 20)) << info->etag;
    EXPECT_EQ(ReadToString(**store, tb_.bucket, "t.bin").value_or(""), data);
  }
}

TEST_F(RgwTest, MissingBucketNamesBucketAndEndpoint) {
  auto lister = tb_.store->List("quarry-no-such-bucket", "", {});
  ASSERT_TRUE(lister.ok());
  ListPage page;
  auto r = (*lister)->Next(&page);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("bucket 'quarry-no-such-bucket' does not exist"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(tb_.store->endpoint()), std::string::npos);
  auto read = ReadToString(*tb_.store, "quarry-no-such-bucket", "k");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
}

TEST_F(RgwTest, WrongSecretIsPermissionDeniedWithoutTheSecret) {
  const std::string wrong = "Wr0ngSecretThatMustNeverBePrinted";
  auto store = MakeS3Store("s3", ServerOptions({{"secret_access_key", wrong}}));
  ASSERT_TRUE(store.ok());
  auto r = ReadToString(**store, tb_.bucket, "k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  // RGW answers a bad signature with AccessDenied (AWS with SignatureDoesNotMatch): both say
  // which key id was rejected and point at the secret.
  EXPECT_NE(r.status().message().find("quarrytestaccesskey"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("secret"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find(wrong), std::string::npos);
  auto resolved = ServerOptions();
  EXPECT_EQ(r.status().message().find(resolved["secret_access_key"]), std::string::npos);
}

TEST_F(RgwTest, UnknownAccessKeyIsPermissionDenied) {
  auto store = MakeS3Store("s3", ServerOptions({{"access_key_id", "NOSUCHACCESSKEY"}}));
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Head(tb_.bucket, "k");
  ASSERT_FALSE(r.ok());
  // A HEAD has no body to say why; a GET does.
  auto g = ReadToString(**store, tb_.bucket, "k");
  EXPECT_EQ(g.status().code(), StatusCode::kPermissionDenied) << g.status().ToString();
  EXPECT_NE(g.status().message().find("NOSUCHACCESSKEY"), std::string::npos);
}

TEST_F(RgwTest, UnreachableEndpointFailsWithinTimeoutNamingIt) {
  auto store = MakeS3Store(
      "s3", ServerOptions({{"endpoint", "http://127.0.0.1:9"}, {"connect_timeout_ms", "1000"}}));
  ASSERT_TRUE(store.ok());
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*store)->Head("b", "k");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1:9"), std::string::npos) << r.status().message();
  EXPECT_LT(secs, 10.0);
}

TEST_F(RgwTest, ConnectionsAreReused) {
  auto store = MakeS3Store("s3", ServerOptions());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(tb_.bucket, "reuse", "x").ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(ReadToString(**store, tb_.bucket, "reuse").ok());
  // One sequential caller: one connection for all 51 requests (the store is private to the test).
  auto stats = (*store)->stats();
  EXPECT_EQ(stats.requests, 51u);
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.retries, 0u);
}

TEST_F(RgwTest, StsAssumeRoleCredentialsListAndRead) {
  const char* role = std::getenv("QUARRY_TEST_STS_ROLE_ARN");
  if (role == nullptr) GTEST_SKIP() << "no STS role configured";
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "sts/object", "through a role").ok());
  auto opts = ServerOptions({{"role_arn", role}, {"duration_seconds", "900"}});
  const uint64_t before = auth::CredentialFetchCount();
  auto store = MakeS3Store("s3", opts);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto all = ListAll(**store, tb_.bucket, "sts/");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(*ReadToString(**store, tb_.bucket, "sts/object"), "through a role");
  EXPECT_EQ(auth::CredentialFetchCount() - before, 1u);  // one AssumeRole for all requests

  // Shipped to a "worker": the temporary keys are used as they are, no second exchange.
  auto shipped = FetchShippableCredentials("s3", opts);
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_FALSE((*shipped)["token_access_key_id"].empty());
  const uint64_t after_driver = auth::CredentialFetchCount();
  auto worker = MakeS3Store("s3", *shipped);
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ(*ReadToString(**worker, tb_.bucket, "sts/object"), "through a role");
  EXPECT_EQ(auth::CredentialFetchCount(), after_driver);
}

TEST_F(RgwTest, StsWithWrongRoleIsPermissionDeniedNamingIt) {
  auto opts = ServerOptions({{"role_arn", "arn:aws:iam:::role/no-such-role"}});
  auto store = MakeS3Store("s3", opts);
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Head(tb_.bucket, "k");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-role"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find(opts["secret_access_key"]), std::string::npos);
}

TEST_F(RgwTest, VirtualHostAddressingReachesTheBucket) {
  // RGW is configured with `rgw dns name = localhost`: bucket.localhost resolves to loopback.
  auto opts = ServerOptions({{"addressing_style", "virtual"}});
  std::string endpoint = opts["endpoint"];
  auto pos = endpoint.find("127.0.0.1");
  if (pos == std::string::npos) GTEST_SKIP() << "endpoint is not 127.0.0.1";
  opts["endpoint"] = endpoint.replace(pos, 9, "localhost");
  auto store = MakeS3Store("s3", opts);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(tb_.bucket, "vh/key", "virtual").ok());
  EXPECT_EQ(*ReadToString(*tb_.store, tb_.bucket, "vh/key"), "virtual");
  EXPECT_EQ(ListAll(**store, tb_.bucket, "vh/")->size(), 1u);
}

}  // namespace
}  // namespace quarry
