// az:// against Azurite (scripts/test-servers): paging, awkward keys, ETag pinning, block
// uploads, SAS access and the errors users meet (wrong key, bad SAS, missing container,
// unreachable endpoint); and the parts that need no server (options, connection strings, List
// Blobs replies). The Azurite cases need QUARRY_TEST_AZ=1 and fail loudly in CI without it.
#include "storage/azure_store.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "auth/azure_shared_key.h"
#include "auth/sigv4.h"
#include "http/http_client.h"
#include "quarry/list_fanout.h"
#include "quarry/object_ops.h"
#include "quarry/parallel_for.h"
#include "quarry/registry.h"
#include "storage/test_stores.h"

namespace quarry {
namespace {

constexpr const char* kOtherKey = "c29tZSBvdGhlciBrZXkgb2YgdGhlIHJpZ2h0IHNoYXBlIQ==";

TEST(AzureOptionsTest, MalformedOptionsAreRefusedNamingThem) {
  struct Case {
    StorageOptions options;
    const char* says;
  };
  const std::string endpoint = "http://127.0.0.1:9/devstoreaccount1";
  const Case cases[] = {
      {{{"endpoint", endpoint}, {"account_name", "a"}, {"account_key", "not base64!"}},
       "'account_key' of account 'a' is not base64"},
      {{{"endpoint", "ftp://x"}, {"account_name", "a"}}, "must start with http:// or https://"},
      {{{"endpoint", endpoint}, {"part_size", "1000"}}, "'part_size' = '1000'"},
      {{{"endpoint", endpoint}, {"verify_tls", "perhaps"}}, "'verify_tls' = 'perhaps'"},
      {{{"endpoint", endpoint}, {"max_attempts", "0"}}, "'max_attempts' = '0'"},
      {{{"endpoint", "http://127.0.0.1:9"}, {"account_key", kOtherKey}},
       "account_key is set but no account name"},
      {{{"endpoint", endpoint}, {"client_secret", "s3cr3t"}}, "need all three"},
      {{{"connection_string", "AccountName=a;garbage"}}, "connection string part 2"},
      {{}, "no Azure storage account is configured"},
  };
  for (const auto& c : cases) {
    auto store = MakeAzureStore(c.options);
    ASSERT_FALSE(store.ok()) << c.says;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.status().message().find(c.says), std::string::npos) << store.status().message();
    EXPECT_EQ(store.status().message().find("s3cr3t"), std::string::npos);
  }
}

TEST(AzureOptionsTest, ConnectionStringsParseAndChooseTheEndpoint) {
  auto fields = ParseAzureConnectionString(
      "DefaultEndpointsProtocol=http; "
      "AccountName=acc;AccountKey=YWJj==;;BlobEndpoint=http://h:1/p;");
  ASSERT_TRUE(fields.ok()) << fields.status().ToString();
  EXPECT_EQ((*fields)["AccountKey"], "YWJj==");  // '=' inside a value
  EXPECT_EQ((*fields)["AccountName"], "acc");
  EXPECT_EQ((*fields)["BlobEndpoint"], "http://h:1/p");

  auto endpoint_of = [](const StorageOptions& o) {
    auto s = MakeAzureStore(o);
    return s.ok() ? (*s)->endpoint() : s.status().ToString();
  };
  EXPECT_EQ(endpoint_of({{"connection_string", "AccountName=acc;AccountKey=YWJj"}}),
            "https://acc.blob.core.windows.net");
  EXPECT_EQ(endpoint_of({{"connection_string",
                          "DefaultEndpointsProtocol=http;AccountName=acc;AccountKey=YWJj;"
                          "EndpointSuffix=core.chinacloudapi.cn"}}),
            "http://acc.blob.core.chinacloudapi.cn");
  EXPECT_EQ(endpoint_of({{"connection_string", "UseDevelopmentStorage=true"}}),
            "http://127.0.0.1:10000/devstoreaccount1");
  // A key given on its own wins over the connection string's field.
  EXPECT_EQ(endpoint_of({{"connection_string", "AccountName=acc;BlobEndpoint=http://h:1/p/"},
                         {"endpoint", "http://other:2"}}),
            "http://other:2");
  EXPECT_EQ(endpoint_of({{"account_name", "acc"}}), "https://acc.blob.core.windows.net");
  // The account of a path-style endpoint is its first path part.
  EXPECT_EQ(endpoint_of(
                {{"endpoint", "http://127.0.0.1:9/devstoreaccount1/"}, {"account_key", kOtherKey}}),
            "http://127.0.0.1:9/devstoreaccount1");
}

TEST(AzureOptionsTest, SecretsAreRedactedAndTheSpecIsRegistered) {
  auto spec = FindBackend("az");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  for (const auto& key : (*spec)->config.secret_keys) EXPECT_TRUE(IsSecretKey(key)) << key;
  const std::string shown = RedactedString({{"connection_string", "AccountKey=SECRETKEY"},
                                            {"account_key", "SECRETKEY"},
                                            {"sas_token", "sig=SECRETSIG"},
                                            {"account_name", "visible"}});
  EXPECT_EQ(shown.find("SECRET"), std::string::npos) << shown;
  EXPECT_NE(shown.find("visible"), std::string::npos) << shown;
}

TEST(AzureXmlTest, BlobListReplyGivesBlobsPrefixesAndTheMarker) {
  const std::string body =
      "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
      "<EnumerationResults ServiceEndpoint=\"http://h/\" ContainerName=\"c\">"
      "<Prefix>p/</Prefix><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs>"
      "<Blob><Name>p/a b+c%41</Name><Properties>"
      "<Last-Modified>Wed, 21 Oct 2015 07:28:00 GMT</Last-Modified><Etag>0x8D1</Etag>"
      "<Content-Length>12345</Content-Length><Content-Type>text/csv</Content-Type>"
      "<Content-Encoding>gzip</Content-Encoding></Properties></Blob>"
      "<BlobPrefix><Name>p/dir/</Name></BlobPrefix>"
      "<Blob><Name Encoded=\"true\">p/ctl%01x%2B</Name><Properties><Etag>\"0x8D2\"</Etag>"
      "<Content-Length>0</Content-Length></Properties></Blob>"
      "<Blob><Name> </Name><Properties/></Blob>"
      "</Blobs><NextMarker>2!opaque</NextMarker></EnumerationResults>";
  auto page = ParseBlobList(body);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->page.objects.size(), 3u);
  const auto& a = page->page.objects[0];
  EXPECT_EQ(a.key, "p/a b+c%41");  // not encoded: taken as it is
  EXPECT_EQ(a.size, 12345u);
  EXPECT_EQ(a.etag, "0x8D1");
  EXPECT_EQ(a.last_modified, "2015-10-21T07:28:00.000Z");
  EXPECT_EQ(a.content_type, "text/csv");
  EXPECT_EQ(a.content_encoding, "gzip");
  EXPECT_EQ(page->page.objects[1].key, "p/ctl\x01x+");
  EXPECT_EQ(page->page.objects[1].etag, "0x8D2");
  EXPECT_EQ(page->page.objects[2].key, " ");
  EXPECT_EQ(page->page.common_prefixes, std::vector<std::string>{"p/dir/"});
  EXPECT_EQ(page->next_marker, "2!opaque");

  auto last = ParseBlobList("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->page.objects.empty());
  EXPECT_TRUE(last->next_marker.empty());
  auto broken = ParseBlobList("<EnumerationResults><Blobs>");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kIoError);
}

class AzuriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("QUARRY_TEST_AZ") == nullptr) {
      GTEST_SKIP() << "set QUARRY_TEST_AZ=1 with Azurite running (scripts/test-servers start)";
    }
    auto tb = testing_util::MakeTestBucket("az");
    ASSERT_TRUE(tb.ok()) << tb.status().ToString();
    tb_ = std::move(*tb);
  }
  void TearDown() override {
    if (tb_.store) testing_util::DropTestBucket(tb_);
  }
  // Options of the test server, with overrides.
  static StorageOptions ServerOptions(const StorageOptions& overrides = {}) {
    return *ResolveStorageOptions("az", overrides, ConfigEnvironment::Process());
  }
  static std::shared_ptr<ObjectStore> StoreWith(const StorageOptions& overrides) {
    auto store = MakeAzureStore(ServerOptions(overrides));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  testing_util::TestBucket tb_;
};

TEST_F(AzuriteTest, ListsMoreThanAThousandKeysAcrossPages) {
  constexpr size_t kKeys = 1100;
  ASSERT_TRUE(ParallelFor(kKeys, 16, [&](size_t i) {
                char key[32];
                std::snprintf(key, sizeof key, "many/%05zu", i);
                return tb_.store->Put(tb_.bucket, key, std::to_string(i));
              }).ok());
  for (int page_size : {1000, 130}) {
    ListOptions options;
    options.page_size = page_size;
    auto lister = tb_.store->List(tb_.bucket, "many/", options);
    ASSERT_TRUE(lister.ok());
    ListPage page;
    size_t pages = 0, seen = 0;
    std::string last;
    while (true) {
      auto more = (*lister)->Next(&page);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
      ++pages;
      EXPECT_LE(page.objects.size(), static_cast<size_t>(page_size));
      for (const auto& o : page.objects) {
        EXPECT_GT(o.key, last);
        last = o.key;
        ++seen;
      }
    }
    EXPECT_EQ(seen, kKeys);
    EXPECT_EQ(pages, (kKeys + page_size - 1) / page_size);
  }
  // start_after, which the service lacks, skips across pages too.
  ListOptions after;
  after.page_size = 100;
  after.start_after = "many/01049";
  auto rest = ListAll(*tb_.store, tb_.bucket, "many/", after);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  ASSERT_EQ(rest->size(), 50u);
  EXPECT_EQ((*rest)[0].key, "many/01050");
  EXPECT_EQ(*DeletePrefix(*tb_.store, tb_.bucket, "many/"), kKeys);
}

TEST_F(AzuriteTest, AwkwardKeysRoundTrip) {
  const std::vector<std::string> keys = {
      "sp ace/x y",    "plus+sign",    "pct%41%2F",     "uni/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
      "double//slash", "q?x#y&z=1;a",  "tilde~!$'()*,", "trailing.dot.",
      "a/b/../c",      "lead/ space ", "brack[et]"};
  for (const auto& k : keys) ASSERT_TRUE(tb_.store->Put(tb_.bucket, k, "v:" + k).ok()) << k;
  auto all = ListAll(*tb_.store, tb_.bucket, "");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::set<std::string> listed;
  for (const auto& o : *all) listed.insert(o.key);
  for (const auto& k : keys) {
    EXPECT_TRUE(listed.count(k)) << "not listed: " << k;
    auto got = ReadToString(*tb_.store, tb_.bucket, k);
    ASSERT_TRUE(got.ok()) << k << ": " << got.status().ToString();
    EXPECT_EQ(*got, "v:" + k);
    auto info = tb_.store->Head(tb_.bucket, k);
    ASSERT_TRUE(info.ok()) << k << ": " << info.status().ToString();
    EXPECT_EQ(info->size, k.size() + 2);
  }
  // A prefix of awkward characters lists exactly its keys.
  auto under = ListAll(*tb_.store, tb_.bucket, "sp ace/");
  ASSERT_TRUE(under.ok());
  ASSERT_EQ(under->size(), 1u);
  EXPECT_EQ((*under)[0].key, "sp ace/x y");
  auto doubled = ListAll(*tb_.store, tb_.bucket, "double//");
  ASSERT_TRUE(doubled.ok());
  ASSERT_EQ(doubled->size(), 1u);
}

TEST_F(AzuriteTest, ReadsArePinnedToTheETag) {
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "v", "version one").ok());
  auto info = tb_.store->Head(tb_.bucket, "v");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->etag.empty());
  EXPECT_EQ(info->etag.find('"'), std::string::npos);
  EXPECT_EQ(*ReadToString(*tb_.store, tb_.bucket, "v", 8, 3, {info->etag}), "one");
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "v", "version two").ok());
  auto stale = ReadToString(*tb_.store, tb_.bucket, "v", 8, 3, {info->etag});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_NE(stale.status().message().find("az://" + tb_.bucket + "/v"), std::string::npos)
      << stale.status().message();
  EXPECT_NE(stale.status().message().find("changed"), std::string::npos);
}

// 7.5 MiB through 1 MiB blocks: eight Put Block requests and one Put Block List, and what is read
// back is what was written (checked by SHA-256).
TEST_F(AzuriteTest, BlockUploadOfManyBlocksRoundTripsByHash) {
  auto store = StoreWith(
      {{"part_size", std::to_string(1 << 20)}, {"multipart_threshold", std::to_string(1 << 20)}});
  ASSERT_TRUE(store);
  std::mt19937 rng(42);
  std::string data((15 << 19), '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  const uint64_t before = store->stats().requests;
  auto writer =
      store->OpenWriter(tb_.bucket, "blocks.bin", PutOptions{.content_type = "application/x-test"});
  ASSERT_TRUE(writer.ok());
  for (size_t at = 0; at < data.size(); at += 300001) {
    ASSERT_TRUE((*writer)->Write(std::string_view(data).substr(at, 300001)).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ(store->stats().requests - before, 9u);
  auto info = store->Head(tb_.bucket, "blocks.bin");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, data.size());
  EXPECT_EQ(info->content_type, "application/x-test");
  auto got = ReadToString(*store, tb_.bucket, "blocks.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(auth::Sha256Hex(*got), auth::Sha256Hex(data));
}

// A presigned URL is a service SAS: plain HTTP reads the blob with it, and a store given its
// token reads the blob but may not write.
TEST_F(AzuriteTest, SasUrlsAndTokensGrantWhatTheySay) {
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "dir/shared file+1.txt", "for everyone").ok());
  auto url = tb_.store->PresignGet(tb_.bucket, "dir/shared file+1.txt", 600);
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_NE(url->find("sig="), std::string::npos);
  http::HttpClient plain;
  auto resp = plain.Send(
      [&](http::HttpRequest* r) {
        r->url = *url;
        return Status::Ok();
      },
      nullptr);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200) << resp->body;
  EXPECT_EQ(resp->body, "for everyone");

  const std::string token = url->substr(url->find('?'));
  auto sas_store = StoreWith({{"sas_token", token}});
  ASSERT_TRUE(sas_store);
  EXPECT_EQ(ReadToString(*sas_store, tb_.bucket, "dir/shared file+1.txt").value_or("<error>"),
            "for everyone");
  Status write = sas_store->Put(tb_.bucket, "dir/shared file+1.txt", "overwritten");
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.code(), StatusCode::kPermissionDenied) << write.ToString();
  EXPECT_NE(write.message().find("SAS"), std::string::npos) << write.message();
  EXPECT_EQ(write.message().find("sig="), std::string::npos) << write.message();
}

TEST_F(AzuriteTest, BadSasIsPermissionDeniedWithoutTheToken) {
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "x", "x").ok());
  auto url = tb_.store->PresignGet(tb_.bucket, "x", 600);
  ASSERT_TRUE(url.ok());
  std::string token = url->substr(url->find('?') + 1);
  const size_t sig = token.find("sig=") + 4;
  token[sig] = token[sig] == 'A' ? 'B' : 'A';  // a signature that does not match
  auto store = StoreWith({{"sas_token", token}});
  ASSERT_TRUE(store);
  auto r = ReadToString(*store, tb_.bucket, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("sas_token"), std::string::npos) << m;
  EXPECT_EQ(m.find(token.substr(sig, 10)), std::string::npos) << m;
}

TEST_F(AzuriteTest, WrongKeyIsAuthenticationFailedWithoutTheKey) {
  auto store = StoreWith({{"account_key", kOtherKey}});
  ASSERT_TRUE(store);
  for (const auto& status :
       {ListAll(*store, tb_.bucket, "").status(), store->Head(tb_.bucket, "x").status(),
        store->Put(tb_.bucket, "x", "data")}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
    EXPECT_NE(status.message().find("authentication failed"), std::string::npos)
        << status.message();
    EXPECT_NE(status.message().find("account 'devstoreaccount1'"), std::string::npos);
    EXPECT_NE(status.message().find("account_key"), std::string::npos);
    EXPECT_EQ(status.message().find(kOtherKey), std::string::npos);
  }
}

TEST_F(AzuriteTest, MissingContainerAndBlobNameThemAndTheEndpoint) {
  const std::string missing = testing_util::UniqueName("no-such");
  auto listed = ListAll(*tb_.store, missing, "");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.status().code(), StatusCode::kNotFound);
  EXPECT_NE(listed.status().message().find("container '" + missing + "' does not exist"),
            std::string::npos)
      << listed.status().message();
  EXPECT_NE(listed.status().message().find(tb_.store->endpoint()), std::string::npos);
  auto head = tb_.store->Head(missing, "k");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), StatusCode::kNotFound);
  EXPECT_NE(head.status().message().find("container '" + missing + "'"), std::string::npos)
      << head.status().message();
  auto blob = ReadToString(*tb_.store, tb_.bucket, "no/such blob");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.status().code(), StatusCode::kNotFound);
  EXPECT_NE(blob.status().message().find("no blob named 'no/such blob'"), std::string::npos)
      << blob.status().message();
  // Deleting missing blobs is no error; a missing container is.
  EXPECT_TRUE(tb_.store->DeleteObjects(tb_.bucket, {"nope", "nope/2"}).ok());
  EXPECT_EQ(tb_.store->DeleteObjects(missing, {"nope"}).code(), StatusCode::kNotFound);
}

TEST_F(AzuriteTest, ContainersAreCreatedListedAndDeletedOnlyWhenEmpty) {
  EXPECT_TRUE(tb_.store->CreateBucket(tb_.bucket).ok());  // exists already: fine
  auto containers = tb_.store->ListBuckets();
  ASSERT_TRUE(containers.ok()) << containers.status().ToString();
  auto mine = std::find_if(containers->begin(), containers->end(),
                           [&](const BucketInfo& b) { return b.name == tb_.bucket; });
  ASSERT_NE(mine, containers->end());
  EXPECT_EQ(mine->creation_date.substr(0, 2), "20");
  ASSERT_TRUE(tb_.store->Put(tb_.bucket, "keep", "x").ok());
  Status refused = tb_.store->DeleteBucket(tb_.bucket);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("not empty"), std::string::npos) << refused.message();
  EXPECT_TRUE(tb_.store->Head(tb_.bucket, "keep").ok());
}

TEST_F(AzuriteTest, UnreachableEndpointFailsNamingIt) {
  auto store = MakeAzureStore(ServerOptions({{"endpoint", "http://127.0.0.1:9/devstoreaccount1"},
                                             {"max_attempts", "2"},
                                             {"connect_timeout_ms", "500"}}));
  ASSERT_TRUE(store.ok());
  auto r = ListAll(**store, "c", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:9"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace quarry
