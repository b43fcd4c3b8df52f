#include "quarry/uri.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace quarry {
namespace {

TEST(UriTest, ParsesObjectUris) {
  auto u = ParseUri("s3://bucket/dir/a b+c%41=d//e");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "s3");
  EXPECT_EQ(u->bucket, "bucket");
  EXPECT_EQ(u->key, "dir/a b+c%41=d//e");  // never decoded or normalised
  EXPECT_EQ(u->ToString(), "s3://bucket/dir/a b+c%41=d//e");
  EXPECT_FALSE(u->IsPrefix());

  auto b = ParseUri("cos://bucket");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->key, "");
  EXPECT_TRUE(b->IsPrefix());
  EXPECT_TRUE(ParseUri("s3://bucket/")->IsPrefix());
  EXPECT_TRUE(ParseUri("mem://b/logs/")->IsPrefix());
  EXPECT_EQ(ParseUri("S3://b/k")->scheme, "s3");
}

TEST(UriTest, ParsesLocalPaths) {
  auto f = ParseUri("file:///tmp/x/y.csv");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->scheme, "file");
  EXPECT_EQ(f->key, "tmp/x/y.csv");
  EXPECT_EQ(f->ToString(), "file:///tmp/x/y.csv");

  auto rel = ParseUri("data/in.csv");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ("/" + rel->key, (std::filesystem::current_path() / "data/in.csv").string());
  EXPECT_TRUE(ParseUri("/tmp/dir/")->IsPrefix());
}

TEST(UriTest, RejectsBadInput) {
  for (const char* bad : {"s3:/", "s3://", "s3:///key", "s3:bucket", "file://relative"}) {
    auto r = ParseUri(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
  // Any well-formed scheme parses (lower-cased); the registry says which have a backend.
  auto other = ParseUri("FTP://host/x");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->scheme, "ftp");
}

}  // namespace
}  // namespace quarry
