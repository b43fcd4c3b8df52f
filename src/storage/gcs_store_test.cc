// gs backend against fake-gcs-server: pages, awkward keys, generation pinning, resumable uploads
// of many chunks, the errors users meet; and service-account credentials (an RS256 JWT
// exchanged for an OAuth2 token at a token endpoint of the test, which checks the signature
// with the key's public half and counts the exchanges).
#include "storage/gcs_store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "auth/google_oauth.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/parallel_for.h"
#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

using Json = nlohmann::json;

std::string PatternBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(n, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  return data;
}

// Starts a new peak-memory measurement; false where the peak cannot be reset or says nothing
// useful (sanitizers' shadow memory counts in it).
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

// The process's peak resident memory since the last reset, in bytes.
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

std::string Base64UrlDecode(std::string_view in) {
  std::string s(in);
  for (auto& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (s.size() % 4 != 0) s += '=';
  std::string out(s.size(), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  size_t pad = 0;
  while (pad < s.size() && s[s.size() - 1 - pad] == '=') ++pad;
  out.resize(out.size() - std::min(out.size(), pad));
  return out;
}

std::string FormValue(const std::string& body, const std::string& name) {
  for (size_t at = 0; at < body.size();) {
    size_t end = body.find('&', at);
    if (end == std::string::npos) end = body.size();
    std::string pair = body.substr(at, end - at);
    if (pair.starts_with(name + "=")) {
      std::string v = pair.substr(name.size() + 1), out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
          out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    at = end + 1;
  }
  return {};
}

TEST(GcsOptionsTest, MalformedOptionsAreRefusedNamingThem) {
  struct Case {
    const char* key;
    const char* value;
    const char* says;
  };
  const Case cases[] = {
      {"verify_tls", "banana", "'verify_tls' = 'banana' is not allowed: give true or false"},
      {"anonymous", "perhaps", "'anonymous' = 'perhaps'"},
      {"max_attempts", "0", "'max_attempts' = '0'"},
      {"part_size", "1000000", "multiples of 262144 bytes (256 KiB), e.g. 1048576"},
      {"part_size", "1024", "'part_size' = '1024'"},
      {"endpoint", "ftp://x", "must start with http:// or https://"},
  };
  for (const auto& c : cases) {
    StorageOptions options = {{"endpoint", "http://127.0.0.1:9"}};
    options[c.key] = c.value;
    auto store = MakeGcsStore(options);
    ASSERT_FALSE(store.ok()) << c.key << "=" << c.value;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find(c.says), std::string::npos) << store.status().message();
  }
}

// STORAGE_EMULATOR_HOST is "host:port" or a URL; without a scheme, local hosts mean http.
TEST(GcsOptionsTest, EndpointWithoutSchemeIsHttpForLocalHosts) {
  EXPECT_EQ((*MakeGcsStore({{"endpoint", "127.0.0.1:4443"}}))->endpoint(), "http://127.0.0.1:4443");
  EXPECT_EQ((*MakeGcsStore({{"endpoint", "localhost:4443/"}}))->endpoint(),
            "http://localhost:4443");
  EXPECT_EQ((*MakeGcsStore({{"endpoint", "gcs.example.com"}}))->endpoint(),
            "https://gcs.example.com");
  EXPECT_EQ((*MakeGcsStore({}))->endpoint(), "https://storage.googleapis.com");
}

// The spec's sources: the standard variables, then QUARRY_GS_<KEY> before them.
TEST(GcsOptionsTest, EnvironmentVariablesResolveToKeys) {
  std::map<std::string, std::string> vars = {{"STORAGE_EMULATOR_HOST", "127.0.0.1:4443"},
                                             {"GOOGLE_APPLICATION_CREDENTIALS", "/keys/sa.json"},
                                             {"GOOGLE_CLOUD_PROJECT", "proj-a"},
                                             {"QUARRY_GS_PROJECT", "proj-b"},
                                             {"QUARRY_GS_PART_SIZE", "524288"}};
  ConfigEnvironment env{[&](const std::string& k) -> std::optional<std::string> {
                          auto it = vars.find(k);
                          if (it == vars.end()) return std::nullopt;
                          return it->second;
                        },
                        "", "/nonexistent"};
  auto o = ResolveStorageOptions("gs", {}, env);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ((*o)["endpoint"], "127.0.0.1:4443");
  EXPECT_EQ((*o)["credentials_path"], "/keys/sa.json");
  EXPECT_EQ((*o)["project"], "proj-b");
  EXPECT_EQ((*o)["part_size"], "524288");
  auto bad = ResolveStorageOptions("gs", {{"credential_path", "x"}}, env);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("credentials_path"), std::string::npos)
      << bad.status().message();
}

class GcsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("QUARRY_TEST_GS") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_GS=1 with a running fake-gcs-server (scripts/test-servers)";
    }
    auto tb = testing_util::MakeTestBucket("gs");
    ASSERT_TRUE(tb.ok()) << tb.status().ToString();
    tb_ = std::move(*tb);
  }
  void TearDown() override {
    if (tb_.store) testing_util::DropTestBucket(tb_);
  }
  // The test server's options (from STORAGE_EMULATOR_HOST), with overrides.
  static StorageOptions ServerOptions(const StorageOptions& overrides = {}) {
    return *ResolveStorageOptions("gs", overrides, ConfigEnvironment::Process());
  }
  ObjectStore& store() { return *tb_.store; }
  const std::string& bucket() { return tb_.bucket; }

  testing_util::TestBucket tb_;
};

TEST_F(GcsTest, ListsMoreThanAThousandKeysAcrossPages) {
  constexpr size_t kKeys = 1234;
  ASSERT_TRUE(ParallelFor(kKeys, 16, [&](size_t i) {
                char key[32];
                std::snprintf(key, sizeof key, "many/%05zu", i);
                return store().Put(bucket(), key, std::to_string(i));
              }).ok());
  for (int page_size : {1000, 97}) {
    ListOptions options;
    options.page_size = page_size;
    auto lister = store().List(bucket(), "many/", options);
    ASSERT_TRUE(lister.ok());
    std::vector<std::string> keys;
    size_t pages = 0;
    ListPage page;
    while (true) {
      auto more = (*lister)->Next(&page);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      ++pages;
      EXPECT_LE(page.objects.size(), static_cast<size_t>(page_size));
      for (auto& o : page.objects) keys.push_back(o.key);
    }
    ASSERT_EQ(keys.size(), kKeys) << "page_size " << page_size;
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), kKeys);
    EXPECT_GE(pages, (kKeys + page_size - 1) / page_size);
  }
  // Common prefixes across pages come once each.
  ListOptions dirs;
  dirs.delimiter = "/";
  dirs.page_size = 2;
  for (const char* k : {"d/a/1", "d/a/2", "d/b/1", "d/c/1", "d/c/2", "d/x", "d/y", "d/z"}) {
    ASSERT_TRUE(store().Put(bucket(), k, "v").ok());
  }
  auto lister = store().List(bucket(), "d/", dirs);
  ASSERT_TRUE(lister.ok());
  std::vector<std::string> objects, prefixes;
  ListPage page;
  while (*(*lister)->Next(&page)) {
    for (auto& o : page.objects) objects.push_back(o.key);
    for (auto& p : page.common_prefixes) prefixes.push_back(p);
  }
  EXPECT_EQ(objects, (std::vector<std::string>{"d/x", "d/y", "d/z"}));
  EXPECT_EQ(prefixes, (std::vector<std::string>{"d/a/", "d/b/", "d/c/"}));
}

TEST_F(GcsTest, AwkwardKeysRoundTrip) {
  const std::vector<std::string> keys = {
      "sp ace/a b.txt", "plus+sign",  "pct%41%2F",   "uni/\xc3\xa9t\xc3\xa9/\xe2\x82\xac.csv",
      "double//slash",  "/leading",   "trailing/ ",  "q?x#y&z=1",
      "dots/../up",     "semi;colon", "tilde~star*", "emoji\xf0\x9f\x98\x80"};
  for (const auto& k : keys) ASSERT_TRUE(store().Put(bucket(), k, "v:" + k).ok()) << k;
  auto all = ListAll(store(), bucket(), "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::set<std::string> listed;
  for (const auto& o : *all) listed.insert(o.key);
  for (const auto& k : keys) {
    EXPECT_TRUE(listed.count(k)) << "not listed: " << k;
    auto info = store().Head(bucket(), k);
    ASSERT_TRUE(info.ok()) << k << ": " << info.status().ToString();
    EXPECT_EQ(info->key, k);
    EXPECT_EQ(info->size, k.size() + 2);
    EXPECT_EQ(ReadToString(store(), bucket(), k).value_or("<error>"), "v:" + k);
  }
  // A prefix with awkward bytes lists exactly its keys.
  auto under = ListAll(store(), bucket(), "sp ace/");
  ASSERT_TRUE(under.ok());
  ASSERT_EQ(under->size(), 1u);
  EXPECT_EQ((*under)[0].key, "sp ace/a b.txt");
  ASSERT_TRUE(store().DeleteObjects(bucket(), keys).ok());
  EXPECT_TRUE(ListAll(store(), bucket(), "")->empty());
}

// Names GCS cannot store are refused before any request.
TEST_F(GcsTest, NonUtf8KeyIsInvalidArgument) {
  Status s = store().Put(bucket(), "bad\xff", "x");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("must be UTF-8"), std::string::npos) << s.message();
}

// The ETag of a gs object is its generation; a read pinned to it fails once the object is
// replaced, whichever way the bytes are received, and also for an empty object.
TEST_F(GcsTest, ReadsPinnedToAGenerationFailWhenTheObjectChanges) {
  ASSERT_TRUE(store().Put(bucket(), "v", "version one").ok());
  auto first = store().Head(bucket(), "v");
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->etag.empty());
  EXPECT_TRUE(std::all_of(first->etag.begin(), first->etag.end(), ::isdigit)) << first->etag;
  auto listed = ListAll(store(), bucket(), "v");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].etag, first->etag);
  EXPECT_EQ(ReadToString(store(), bucket(), "v", 0, UINT64_MAX, {first->etag}).value_or(""),
            "version one");
  EXPECT_EQ(ReadToString(store(), bucket(), "v", 8, 3, {first->etag}).value_or(""), "one");

  ASSERT_TRUE(store().Put(bucket(), "v", "version two").ok());
  auto second = store().Head(bucket(), "v");
  ASSERT_NE(second->etag, first->etag);
  auto stale = ReadToString(store(), bucket(), "v", 0, UINT64_MAX, {first->etag});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_NE(stale.status().message().find("gs://" + bucket() + "/v"), std::string::npos);
  EXPECT_NE(stale.status().message().find("rerun"), std::string::npos);
  // Through the parallel reader (its sinks receive in place) the same.
  auto parallel_read = [&](const std::string& etag) -> Result<std::string> {
    ParallelReadOptions parallel;
    parallel.part_size = 4;
    parallel.read.if_match = etag;
    std::string got;
    QUARRY_RETURN_IF_ERROR(
        ParallelRead(store(), bucket(), "v", 0, 11, parallel, [&](std::string_view part) {
          got.append(part);
          return Status::Ok();
        }).status());
    return got;
  };
  EXPECT_EQ(parallel_read(first->etag).status().code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(parallel_read(second->etag).value_or("<error>"), "version two");

  ASSERT_TRUE(store().Put(bucket(), "e", "").ok());
  auto empty = store().Head(bucket(), "e");
  ASSERT_TRUE(store().Put(bucket(), "e", "").ok());
  auto changed_empty = ReadToString(store(), bucket(), "e", 0, UINT64_MAX, {empty->etag});
  EXPECT_EQ(changed_empty.status().code(), StatusCode::kPreconditionFailed);
}

// A resumable upload of many 256 KiB chunks (uneven writes, rooms, an exact multiple with its
// empty last chunk) stores exactly the bytes written, checked by SHA-256, with its metadata.
TEST_F(GcsTest, ResumableUploadOfManyChunksRoundTripsBySha256) {
  auto small_chunks = StoreForUri(*ParseUri("gs://" + bucket()),
                                  {{"part_size", "262144"}, {"multipart_threshold", "262144"}});
  ASSERT_TRUE(small_chunks.ok()) << small_chunks.status().ToString();
  ObjectStore& s = **small_chunks;
  for (size_t size : {(size_t{5} << 20) + 12345, size_t{4} << 20, size_t{262144}}) {
    SCOPED_TRACE(size);
    const std::string data = PatternBytes(size, size);
    auto writer = s.OpenWriter(bucket(), "chunks.bin", {.content_type = "application/x-test"});
    ASSERT_TRUE(writer.ok());
    std::mt19937 rng(3);
    size_t at = 0;
    while (at < size) {
      const size_t n = std::min(size - at, size_t{1} + rng() % 700000);
      if (rng() % 2 == 0) {
        ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(at, n)).ok());
        at += n;
      } else {
        auto room = (*writer)->Room();
        ASSERT_TRUE(room.ok());
        const size_t k = std::min(n, room->size());
        std::memcpy(room->data(), data.data() + at, k);
        ASSERT_TRUE((*writer)->Commit(k).ok());
        at += k;
      }
    }
    ASSERT_TRUE((*writer)->Close().ok());
    auto info = s.Head(bucket(), "chunks.bin");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->size, size);
    EXPECT_EQ(info->content_type, "application/x-test");
    auto got = ReadToString(s, bucket(), "chunks.bin");
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(auth::Sha256Hex(*got), auth::Sha256Hex(data));
  }
}

// Memory stays bounded whatever the object's size: bytes streamed through Room()/Commit() go
// through two reused chunk buffers, and one Write of a large buffer sends its whole chunks from
// that buffer without a copy.
TEST_F(GcsTest, WriterMemoryIsTwoChunksWhateverTheSize) {
  auto store = StoreForUri(
      *ParseUri("gs://" + bucket()),
      {{"part_size", std::to_string(2 << 20)}, {"multipart_threshold", std::to_string(2 << 20)}});
  ASSERT_TRUE(store.ok());
  constexpr size_t kSize = 64u << 20;
  auto byte_at = [](size_t i) { return static_cast<char>(i * 131 >> 3); };
  auto writer = (*store)->OpenWriter(bucket(), "streamed.bin");
  ASSERT_TRUE(writer.ok());
  const bool measured = ResetPeakMemory();
  uint64_t before = PeakMemory();
  std::mt19937_64 rng(9);
  for (size_t done = 0; done < kSize;) {
    auto room = (*writer)->Room();
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    const size_t n = std::min({room->size(), kSize - done, size_t{1} + rng() % (1 << 20)});
    for (size_t i = 0; i < n; ++i) (*room)[i] = byte_at(done + i);
    ASSERT_TRUE((*writer)->Commit(n).ok());
    done += n;
  }
  ASSERT_TRUE((*writer)->Close().ok());
  if (measured) {
    EXPECT_LT(PeakMemory() - before, uint64_t{16} << 20) << "2 chunk buffers of 2 MiB and curl's";
  }
  std::string expected(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) expected[i] = byte_at(i);
  EXPECT_EQ(auth::Sha256Hex(ReadToString(**store, bucket(), "streamed.bin").value_or("")),
            auth::Sha256Hex(expected));

  std::string data = PatternBytes((48u << 20) + 4321, 7);
  const std::string sha = auth::Sha256Hex(data);
  auto from_buffer = (*store)->OpenWriter(bucket(), "from-buffer.bin");
  ASSERT_TRUE(from_buffer.ok());
  ResetPeakMemory();
  before = PeakMemory();
  ASSERT_TRUE((*from_buffer)->Write(data).ok());
  const uint64_t grew = PeakMemory() - before;
  std::fill(data.begin(), data.end(), 'x');  // nothing refers to it once Write returns
  ASSERT_TRUE((*from_buffer)->Close().ok());
  if (measured) {
    EXPECT_LT(grew, uint64_t{12} << 20) << "the writer copied the buffer";
  }
  EXPECT_EQ(auth::Sha256Hex(ReadToString(**store, bucket(), "from-buffer.bin").value_or("")), sha);
}

// Put of a body above the threshold goes up resumable, from the caller's memory.
TEST_F(GcsTest, LargePutRoundTrips) {
  const std::string data = PatternBytes((size_t{11} << 20) + 7, 11);
  ASSERT_TRUE(store().Put(bucket(), "big", data, {.content_encoding = "identity"}).ok());
  auto got = ReadToString(store(), bucket(), "big");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(auth::Sha256Hex(*got), auth::Sha256Hex(data));
}

TEST_F(GcsTest, RewriteCopiesWithinTheService) {
  const std::string data = PatternBytes(300000, 5);
  ASSERT_TRUE(store().Put(bucket(), "src key", data).ok());
  ASSERT_TRUE(GcsRewriteObject(store(), bucket(), "src key", bucket(), "dst/key+1").ok());
  EXPECT_TRUE(ReadToString(store(), bucket(), "dst/key+1").value_or("") == data);
  Status missing = GcsRewriteObject(store(), bucket(), "nope", bucket(), "x");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.ToString();
}

TEST_F(GcsTest, MissingBucketAndKeyAreNamed) {
  auto lister = store().List("quarry-no-such-bucket", "", {});
  ASSERT_TRUE(lister.ok());
  ListPage page;
  auto r = (*lister)->Next(&page);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("bucket 'quarry-no-such-bucket' does not exist at endpoint " +
                                      store().endpoint()),
            std::string::npos)
      << r.status().message();
  auto read = ReadToString(store(), "quarry-no-such-bucket", "k");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("bucket 'quarry-no-such-bucket'"), std::string::npos)
      << read.status().message();
  auto head = store().Head(bucket(), "missing/key");
  EXPECT_EQ(head.status().code(), StatusCode::kNotFound);
  EXPECT_NE(
      head.status().message().find("no object with key 'missing/key' in bucket '" + bucket() + "'"),
      std::string::npos)
      << head.status().message();
  EXPECT_EQ(store().Head(bucket(), "").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GcsTest, BucketsAreCreatedListedAndDeletedOnlyWhenEmpty) {
  EXPECT_TRUE(store().CreateBucket(bucket()).ok()) << "an existing bucket of ours is fine";
  auto buckets = store().ListBuckets();
  ASSERT_TRUE(buckets.ok()) << buckets.status().ToString();
  auto mine = std::find_if(buckets->begin(), buckets->end(),
                           [&](const BucketInfo& b) { return b.name == bucket(); });
  ASSERT_NE(mine, buckets->end());
  EXPECT_EQ(mine->creation_date.substr(0, 2), "20");
  EXPECT_EQ(mine->creation_date.size(), 24u) << mine->creation_date;
  ASSERT_TRUE(store().Put(bucket(), "k", "v").ok());
  Status full = store().DeleteBucket(bucket());
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.message().find("not empty"), std::string::npos) << full.message();
  Status gone = store().DeleteBucket("quarry-no-such-bucket");
  EXPECT_EQ(gone.code(), StatusCode::kNotFound) << gone.ToString();
}

TEST_F(GcsTest, UnreachableEndpointFailsWithinTimeoutNamingIt) {
  auto dead = MakeGcsStore({{"endpoint", "http://127.0.0.1:9"}, {"max_attempts", "2"}});
  ASSERT_TRUE(dead.ok());
  const auto start = std::chrono::steady_clock::now();
  auto h = (*dead)->Head("b", "k");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(h.status().message().find("127.0.0.1:9"), std::string::npos) << h.status().message();
}

// ---- Service-account credentials ----

// A token endpoint of the test: takes the JWT-bearer grant, checks the assertion's RS256
// signature with the service account's public key and its claims, and answers a fresh token
// that lives `ttl` seconds. Counts the exchanges.
class TokenEndpoint {
 public:
  TokenEndpoint(EVP_PKEY* public_key, std::string email, int ttl)
      : key_(public_key), email_(std::move(email)), ttl_(ttl) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 64);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TokenEndpoint() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  int exchanges() const { return exchanges_; }
  int rejected() const { return rejected_; }
  std::string last_token() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_token_;
  }

 private:
  void Serve() {
    while (true) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[8192];
      size_t header_end = std::string::npos, need = 0;
      while (true) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos &&
            (header_end = req.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = req.substr(0, header_end);
          for (auto& ch : lower)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          const auto cl = lower.find("content-length:");
          need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
        }
        if (header_end != std::string::npos && req.size() >= header_end + 4 + need) break;
      }
      const std::string body = header_end == std::string::npos ? "" : req.substr(header_end + 4);
      std::string reply = Answer(body);
      if (::write(c, reply.data(), reply.size()) < 0) ADD_FAILURE() << "token reply not sent";
      ::close(c);
    }
  }

  std::string Answer(const std::string& body) {
    auto reply = [](int status, const Json& j) {
      const std::string text = j.dump();
      return "HTTP/1.1 " + std::to_string(status) +
             " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
             std::to_string(text.size()) + "\r\n\r\n" + text;
    };
    ++exchanges_;
    auto deny = [&](const std::string& why) {
      ++rejected_;
      return reply(400, {{"error", "invalid_grant"}, {"error_description", why}});
    };
    if (FormValue(body, "grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return deny("wrong grant_type");
    }
    const std::string jwt = FormValue(body, "assertion");
    const auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
    if (dot1 == std::string::npos || dot1 == dot2) return deny("not a JWT");
    const std::string signed_part = jwt.substr(0, dot2);
    const std::string signature = Base64UrlDecode(jwt.substr(dot2 + 1));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool valid =
        EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
        EVP_DigestVerify(
            ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
            reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!valid) return deny("Invalid JWT Signature.");
    auto header = Json::parse(Base64UrlDecode(jwt.substr(0, dot1)), nullptr, false);
    auto claims =
        Json::parse(Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)), nullptr, false);
    if (!header.is_object() || header.value("alg", "") != "RS256") return deny("alg");
    const int64_t now = std::time(nullptr);
    if (!claims.is_object() || claims.value("iss", "") != email_ ||
        claims.value("aud", "") != url() ||
        claims.value("scope", "").find("devstorage") == std::string::npos ||
        std::abs(claims.value("iat", int64_t{0}) - now) > 60 ||
        claims.value("exp", int64_t{0}) - claims.value("iat", int64_t{0}) != 3600) {
      return deny("claims");
    }
    const std::string token = "ya29.test-" + std::to_string(exchanges_.load());
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_token_ = token;
    }
    return reply(200, {{"access_token", token}, {"expires_in", ttl_}, {"token_type", "Bearer"}});
  }

  EVP_PKEY* key_;
  std::string email_;
  int ttl_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> exchanges_{0}, rejected_{0};
  mutable std::mutex mu_;
  std::string last_token_;
  std::thread thread_;
};

struct ServiceAccount {
  EVP_PKEY* key = nullptr;  // the pair; the endpoint verifies with its public half
  std::string path;         // the JSON key file
  ~ServiceAccount() {
    EVP_PKEY_free(key);
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

std::string PrivatePem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

void WriteKeyFile(ServiceAccount* sa, const std::string& token_uri, const std::string& pem) {
  sa->path =
      (std::filesystem::temp_directory_path() / testing_util::UniqueName("sa")).string() + ".json";
  const Json file = {{"type", "service_account"},
                     {"project_id", "quarry-test-project"},
                     {"private_key_id", "k1"},
                     {"private_key", pem},
                     {"client_email", "reader@quarry-test-project.iam.gserviceaccount.com"},
                     {"client_id", "1234"},
                     {"token_uri", token_uri}};
  std::ofstream(sa->path) << file.dump(2);
}

class GcsServiceAccountTest : public GcsTest {
 protected:
  void SetUp() override {
    GcsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    sa_.key = EVP_RSA_gen(2048);
    ASSERT_NE(sa_.key, nullptr);
  }
  std::unique_ptr<TokenEndpoint> StartEndpoint(int ttl) {
    auto endpoint = std::make_unique<TokenEndpoint>(sa_.key, kEmail, ttl);
    WriteKeyFile(&sa_, endpoint->url(), PrivatePem(sa_.key));
    return endpoint;
  }
  StorageOptions KeyOptions(const StorageOptions& more = {}) {
    StorageOptions o = ServerOptions({{"credentials_path", sa_.path}});
    for (const auto& [k, v] : more) o[k] = v;
    return o;
  }
  static constexpr const char* kEmail = "reader@quarry-test-project.iam.gserviceaccount.com";
  ServiceAccount sa_;
};

TEST_F(GcsServiceAccountTest, ExchangesASignedJwtOnceForManyRequestsAndThreads) {
  auto endpoint = StartEndpoint(3600);
  auto store = MakeGcsStore(KeyOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const uint64_t fetches_before = CredentialFetchCount();
  ASSERT_TRUE(ParallelFor(64, 16, [&](size_t i) {
                return (*store)->Put(bucket(), "sa/" + std::to_string(i), "x");
              }).ok());
  EXPECT_EQ(ListAll(**store, bucket(), "sa/")->size(), 64u);
  EXPECT_EQ(endpoint->exchanges(), 1);
  EXPECT_EQ(endpoint->rejected(), 0);
  EXPECT_EQ(CredentialFetchCount() - fetches_before, 1u);
}

// The driver exchanges once; a worker's store made from the shipped options makes no exchange
// until the token nears expiry, and then one, whatever the number of threads asking.
TEST_F(GcsServiceAccountTest, ShippedTokenIsUsedThenRefreshedOnceBeforeExpiry) {
  auto endpoint = StartEndpoint(3600);
  auto shipped = FetchGcsShippableCredentials(KeyOptions());
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(endpoint->exchanges(), 1);
  EXPECT_EQ((*shipped)["oauth_token"], endpoint->last_token());
  EXPECT_FALSE((*shipped)["oauth_token_expiration"].empty());
  EXPECT_EQ(RedactedString(*shipped).find(endpoint->last_token()), std::string::npos);
  auto worker = MakeGcsStore(*shipped);
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE((*worker)->Put(bucket(), "w", "x").ok());
  EXPECT_EQ(endpoint->exchanges(), 1) << "the shipped token serves the worker";

  // A token within the refresh margin: one refresh for 16 threads at once.
  StorageOptions near_expiry = *shipped;
  near_expiry["oauth_token_expiration"] = std::to_string(std::time(nullptr) + 100);
  near_expiry["token_refresh_margin"] = "300";
  auto refreshing = MakeGcsStore(near_expiry);
  ASSERT_TRUE(refreshing.ok());
  ASSERT_TRUE(ParallelFor(32, 16, [&](size_t) {
                return (*refreshing)->Head(bucket(), "w").status();
              }).ok());
  EXPECT_EQ(endpoint->exchanges(), 2);
}

// A V4 signed URL reads the object with no credentials, and its signature is the service
// account's over the canonical request the URL describes (checked here with the public key).
TEST_F(GcsServiceAccountTest, PresignedUrlIsSignedByTheServiceAccount) {
  auto endpoint = StartEndpoint(3600);
  auto store = MakeGcsStore(KeyOptions());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Put(bucket(), "signed dir/a+b.txt", "signed bytes").ok());
  auto url = (*store)->PresignGet(bucket(), "signed dir/a+b.txt", 600);
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  const std::string base = (*store)->endpoint() + "/" + bucket() + "/signed%20dir/a%2Bb.txt?";
  ASSERT_EQ(url->rfind(base, 0), 0u) << *url;
  const std::string query = url->substr(base.size());
  const auto sig_at = query.find("&X-Goog-Signature=");
  ASSERT_NE(sig_at, std::string::npos);
  const std::string signed_query = query.substr(0, sig_at);
  std::string signature;
  const std::string hex = query.substr(sig_at + 18);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    signature += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  EXPECT_NE(signed_query.find("X-Goog-Credential=" + auth::UriEncode(kEmail, false) + "%2F"),
            std::string::npos)
      << signed_query;
  EXPECT_NE(signed_query.find("X-Goog-Expires=600"), std::string::npos);
  const auto date_at = signed_query.find("X-Goog-Date=") + 12;
  const std::string datetime = signed_query.substr(date_at, 16);
  const std::string host = (*store)->endpoint().substr((*store)->endpoint().find("://") + 3);
  const std::string canonical = "GET\n/" + bucket() + "/signed%20dir/a%2Bb.txt\n" + signed_query +
                                "\nhost:" + host + "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string to_sign = "GOOG4-RSA-SHA256\n" + datetime + "\n" + datetime.substr(0, 8) +
                              "/auto/storage/goog4_request\n" + auth::Sha256Hex(canonical);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, sa_.key), 1);
  EXPECT_EQ(EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size()),
            1)
      << "the signature does not verify";
  EVP_MD_CTX_free(ctx);
  // Anyone may GET it (the emulator serves path-style URLs; it does not check signatures).
  http::HttpClient anyone;
  auto got = anyone.Send(
      [&](http::HttpRequest* r) {
        r->url = *url;
        return Status::Ok();
      },
      nullptr);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "signed bytes");
  EXPECT_EQ(endpoint->exchanges(), 1) << "the Put's token; signing needs none";

  auto anonymous = (*MakeGcsStore(ServerOptions()))->PresignGet(bucket(), "k", 60);
  EXPECT_EQ(anonymous.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(anonymous.status().message().find("need a service account key"), std::string::npos)
      << anonymous.status().message();
  EXPECT_EQ((*store)->PresignGet(bucket(), "k", 700000).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(GcsServiceAccountTest, RejectedKeyIsPermissionDeniedNamingEndpointNotSecrets) {
  auto endpoint = StartEndpoint(3600);
  // The file's private key is another one than the endpoint knows.
  EVP_PKEY* other = EVP_RSA_gen(2048);
  const std::string other_pem = PrivatePem(other);
  EVP_PKEY_free(other);
  WriteKeyFile(&sa_, endpoint->url(), other_pem);
  auto store = MakeGcsStore(KeyOptions());
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Head(bucket(), "k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find(endpoint->url()), std::string::npos) << m;
  EXPECT_NE(m.find(kEmail), std::string::npos) << m;
  EXPECT_NE(m.find("Invalid JWT Signature"), std::string::npos) << m;
  EXPECT_EQ(m.find("PRIVATE KEY"), std::string::npos) << m;
  EXPECT_EQ(m.find(other_pem.substr(40, 40)), std::string::npos) << m;
  EXPECT_EQ(endpoint->rejected(), 1);
}

TEST_F(GcsServiceAccountTest, MissingOrMalformedKeyFileIsInvalidArgumentNamingIt) {
  auto store = MakeGcsStore(ServerOptions({{"credentials_path", "/nonexistent/key.json"}}));
  ASSERT_TRUE(store.ok());
  auto r = (*store)->Head(bucket(), "k");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("/nonexistent/key.json"), std::string::npos)
      << r.status().message();
  auto endpoint = StartEndpoint(3600);
  WriteKeyFile(&sa_, endpoint->url(), "-----BEGIN PRIVATE KEY-----\nnot a key\n");
  auto bad = MakeGcsStore(KeyOptions());
  ASSERT_TRUE(bad.ok());
  auto b = (*bad)->Head(bucket(), "k");
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("not an RSA key in PEM"), std::string::npos)
      << b.status().message();
  EXPECT_EQ(endpoint->exchanges(), 0);
}

}  // namespace
}  // namespace quarry
