// Shared Key and service SAS signing against values computed independently: the expected
// signatures below come from the Shared Key policy and the SAS generator of the azure-storage-blob
// Python package (12.31.1) run on the same requests, key and times; the string to sign is written
// out by hand from the Blob service's documented layout.
#include "auth/azure_shared_key.h"

#include <gtest/gtest.h>

namespace quarry::auth {
namespace {

// base64 of "quarry-shared-key-vector-0123456789abcdef".
constexpr std::string_view kKey = "cXVhcnJ5LXNoYXJlZC1rZXktdmVjdG9yLTAxMjM0NTY3ODlhYmNkZWY=";

std::string DecodedKey() { return *Base64Decode(kKey); }

TEST(AzureSharedKeyTest, Base64RoundTripsAndRefusesWhatIsNot) {
  EXPECT_EQ(DecodedKey(), "quarry-shared-key-vector-0123456789abcdef");
  EXPECT_EQ(Base64Encode(DecodedKey()), kKey);
  for (std::string_view s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode(""), "");
  for (std::string_view bad : {"abc", "ab$d", "a===", "YQ==YQ=="}) {
    auto r = Base64Decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      // The text is usually a secret: never quoted.
      EXPECT_EQ(r.status().message().find(bad), std::string::npos);
    }
  }
}

TEST(AzureSharedKeyTest, DateIsRfc1123) {
  EXPECT_EQ(AzureDate(1255297753), "Sun, 11 Oct 2009 21:49:13 GMT");
  EXPECT_EQ(AzureDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

// A listing on the path-style endpoint of an emulator: the endpoint's path is part of the
// resource, query values are signed decoded, sorted by name.
TEST(AzureSharedKeyTest, ListRequestMatchesTheReferenceSignature) {
  AzureSignableRequest r;
  r.method = "GET";
  r.encoded_path = "/quarryacct/data/a%20b%2Bc";
  r.query = {{"restype", "container"}, {"comp", "list"}, {"prefix", "x/y"}, {"maxresults", "2"}};
  r.headers = {{"x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"}, {"x-ms-version", "2021-08-06"}};
  EXPECT_EQ(SharedKeyStringToSign(r, "quarryacct"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\n"
            "x-ms-version:2021-08-06\n"
            "/quarryacct/quarryacct/data/a%20b%2Bc\n"
            "comp:list\nmaxresults:2\nprefix:x/y\nrestype:container");
  EXPECT_EQ(SharedKeyAuthorization(r, "quarryacct", DecodedKey()),
            "SharedKey quarryacct:bqoyzuzoFoXY9MZvv7Xn5SBCVnzuQLMvspgO5zHr5tc=");
}

// A block upload with a body and the standard headers: length, type and If-Match are signed in
// their places; x-ms-* headers in byte order whatever order they were given in; header names in
// any case.
TEST(AzureSharedKeyTest, PutBlockWithHeadersMatchesTheReferenceSignature) {
  AzureSignableRequest r;
  r.method = "PUT";
  r.encoded_path = "/data/big.bin";
  r.query = {{"comp", "block"}, {"blockid", "YmxvY2stMDAwMDAx"}};
  r.headers = {{"x-ms-version", "2021-08-06"},
               {"Content-Type", "text/csv"},
               {"X-Ms-Date", "Tue, 03 Feb 2026 04:05:06 GMT"},
               {"if-match", "\"0x8D\""},
               {"x-ms-range", "bytes=0-9"},
               {"x-ms-blob-type", "BlockBlob"}};
  r.content_length = 11;
  EXPECT_EQ(SharedKeyStringToSign(r, "quarryacct"),
            "PUT\n\n\n11\n\ntext/csv\n\n\n\"0x8D\"\n\n\n\n"
            "x-ms-blob-type:BlockBlob\n"
            "x-ms-date:Tue, 03 Feb 2026 04:05:06 GMT\n"
            "x-ms-range:bytes=0-9\n"
            "x-ms-version:2021-08-06\n"
            "/quarryacct/data/big.bin\n"
            "blockid:YmxvY2stMDAwMDAx\ncomp:block");
  EXPECT_EQ(SharedKeyAuthorization(r, "quarryacct", DecodedKey()),
            "SharedKey quarryacct:4VTVcMhywkr2eDDJdb3cEGCrNRQ09QZFM72iFNBaicE=");
}

// A length of 0 signs as an empty line (versions from 2015-02-21 on).
TEST(AzureSharedKeyTest, EmptyBodySignsAnEmptyLength) {
  AzureSignableRequest r;
  r.method = "DELETE";
  r.encoded_path = "/data";
  r.query = {{"restype", "container"}};
  r.headers = {{"x-ms-date", "Tue, 03 Feb 2026 04:05:06 GMT"}, {"x-ms-version", "2021-08-06"}};
  r.content_length = 0;
  EXPECT_EQ(SharedKeyAuthorization(r, "quarryacct", DecodedKey()),
            "SharedKey quarryacct:mXI3yB2DYMJqNjKlaQuoe72EaEF1eRitu+J52Fgo9r0=");
  r.content_length = 1;
  EXPECT_NE(SharedKeyAuthorization(r, "quarryacct", DecodedKey()),
            "SharedKey quarryacct:mXI3yB2DYMJqNjKlaQuoe72EaEF1eRitu+J52Fgo9r0=");
}

TEST(AzureSharedKeyTest, RepeatedQueryNamesJoinSorted) {
  AzureSignableRequest r;
  r.method = "GET";
  r.encoded_path = "/c";
  r.query = {{"Include", "snapshots"}, {"include", "metadata"}};
  const std::string s = SharedKeyStringToSign(r, "a");
  EXPECT_TRUE(s.ends_with("/a/c\ninclude:metadata,snapshots")) << s;
}

TEST(AzureSharedKeyTest, ServiceSasMatchesTheReferenceToken) {
  BlobSasRequest r;
  r.account = "quarryacct";
  r.container = "data";
  r.blob = "dir/a b+c.txt";
  r.permissions = "r";
  r.expiry = 1772600767;  // 2026-03-04T05:06:07Z
  r.version = "2026-10-06";
  const std::string sas = BlobServiceSas(r, DecodedKey());
  // The reference token has the same fields in another order: compare them one by one.
  for (std::string_view part : {"se=2026-03-04T05%3A06%3A07Z", "sp=r", "sv=2026-10-06", "sr=b",
                                "sig=QUfo35H1fk6672F8EgLTy6F18NGBj23lun6%2FSBjDbUY%3D"}) {
    EXPECT_NE(sas.find(part), std::string::npos) << part << " not in " << sas;
  }
}

TEST(AzureSharedKeyTest, SasTokenLosesItsQuestionMark) {
  EXPECT_EQ(NormalizeSasToken("?sv=1&sig=x"), "sv=1&sig=x");
  EXPECT_EQ(NormalizeSasToken("  sv=1&sig=x\n"), "sv=1&sig=x");
  EXPECT_EQ(NormalizeSasToken(""), "");
}

}  // namespace
}  // namespace quarry::auth
