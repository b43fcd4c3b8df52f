// Where S3 requests go (path style, virtual host, the service, the bucket itself), the one
// place that decides it for signed requests and presigned URLs alike.
#include "storage/s3_request.h"

#include <gtest/gtest.h>

namespace quarry {
namespace {

S3Settings Endpoint(bool virtual_hosting) {
  S3Settings s;
  s.scheme = "s3";
  s.endpoint_scheme = "http";
  s.endpoint_host = "127.0.0.1:7480";
  s.virtual_hosting = virtual_hosting;
  return s;
}

TEST(S3AddressOf, PathStyleNamesTheBucketInThePathAndEncodesTheKey) {
  const S3Address a = S3AddressOf(Endpoint(false), "b", "dir/a b+c%", false);
  EXPECT_EQ(a.host, "127.0.0.1:7480");
  EXPECT_EQ(a.path, "/b/dir/a%20b%2Bc%25");
}

TEST(S3AddressOf, VirtualHostNamesTheBucketInTheHost) {
  const S3Address a = S3AddressOf(Endpoint(true), "b", "dir/k", false);
  EXPECT_EQ(a.host, "b.127.0.0.1:7480");
  EXPECT_EQ(a.path, "/dir/k");
  // The bucket itself: the root of its host.
  const S3Address bucket = S3AddressOf(Endpoint(true), "b", "", true);
  EXPECT_EQ(bucket.host, "b.127.0.0.1:7480");
  EXPECT_EQ(bucket.path, "/");
}

TEST(S3AddressOf, TheBucketItselfHasNoTrailingSlashInPathStyle) {
  EXPECT_EQ(S3AddressOf(Endpoint(false), "b", "", true).path, "/b");
  // An object whose key is empty is not the bucket.
  EXPECT_EQ(S3AddressOf(Endpoint(false), "b", "", false).path, "/b/");
  // A key on a bucket request (none of the store's own) still names the object.
  EXPECT_EQ(S3AddressOf(Endpoint(false), "b", "k", true).path, "/b/k");
}

TEST(S3AddressOf, NoBucketIsTheServiceItself) {
  for (bool virtual_hosting : {false, true}) {
    const S3Address a = S3AddressOf(Endpoint(virtual_hosting), "", "", true);
    EXPECT_EQ(a.host, "127.0.0.1:7480");
    EXPECT_EQ(a.path, "/");
  }
}

TEST(S3MetadataHeaders, CarryTheTypeAndEncodingGiven) {
  EXPECT_TRUE(S3MetadataHeaders({}).empty());
  PutOptions options;
  options.content_type = "text/csv";
  options.content_encoding = "gzip";
  const http::HeaderList want = {{"content-type", "text/csv"}, {"content-encoding", "gzip"}};
  EXPECT_EQ(S3MetadataHeaders(options), want);
}

}  // namespace
}  // namespace quarry
