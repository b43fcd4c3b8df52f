#include "storage/s3_xml.h"

#include <gtest/gtest.h>

#include <string>

namespace quarry {
namespace {

TEST(ParseListObjectsV2, ReadsKeysSizesEtagsPrefixesAndContinuation) {
  const std::string body =
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>logs%2F</Prefix><EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated><NextContinuationToken>t/1+&amp;</NextContinuationToken>
  <Contents><Key>logs/a%20b+c%2Bd</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;0123abc&quot;</ETag><Size>18446744073709551615</Size></Contents>
  <Contents><Key>logs/%E2%82%AC%</Key><Size>x</Size><ETag>plain</ETag></Contents>
  <CommonPrefixes><Prefix>logs/sub%2F/</Prefix></CommonPrefixes>
</ListBucketResult>)";
  auto parsed = ParseListObjectsV2(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->page.objects.size(), 2u);
  EXPECT_EQ(parsed->page.objects[0].key, "logs/a b c+d");
  EXPECT_EQ(parsed->page.objects[0].size, UINT64_MAX);
  EXPECT_EQ(parsed->page.objects[0].etag, "0123abc");
  EXPECT_EQ(parsed->page.objects[0].last_modified, "2026-01-02T03:04:05.000Z");
  EXPECT_EQ(parsed->page.objects[1].key, "logs/\xE2\x82\xAC%");  // a lone '%' stays
  EXPECT_EQ(parsed->page.objects[1].size, 0u);
  EXPECT_EQ(parsed->page.objects[1].etag, "plain");
  ASSERT_EQ(parsed->page.common_prefixes.size(), 1u);
  EXPECT_EQ(parsed->page.common_prefixes[0], "logs/sub//");
  EXPECT_TRUE(parsed->truncated);
  EXPECT_EQ(parsed->next_continuation_token, "t/1+&");  // the token is never decoded
}

TEST(ParseListObjectsV2, KeysAreNotDecodedWithoutUrlEncoding) {
  auto parsed = ParseListObjectsV2(
      "<ListBucketResult><Contents><Key>a%20b+c</Key></Contents></ListBucketResult>");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->page.objects.size(), 1u);
  EXPECT_EQ(parsed->page.objects[0].key, "a%20b+c");
  EXPECT_FALSE(parsed->truncated);
}

TEST(ParseListObjectsV2, KeepsAKeyOfOnlyWhiteSpace) {
  // S3 allows such keys; losing them would list "" and then read the wrong object.
  auto parsed = ParseListObjectsV2(
      "<ListBucketResult><Contents><Key> \t </Key><Size>3</Size></Contents>"
      "<CommonPrefixes><Prefix>  </Prefix></CommonPrefixes></ListBucketResult>");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->page.objects.size(), 1u);
  EXPECT_EQ(parsed->page.objects[0].key, " \t ");
  ASSERT_EQ(parsed->page.common_prefixes.size(), 1u);
  EXPECT_EQ(parsed->page.common_prefixes[0], "  ");
}

TEST(ParseListObjectsV2, ReadsTheBodyAsUtf8WhateverItDeclares) {
  // Keys are compared with what was written byte for byte; no guessed conversion may change them.
  auto parsed = ParseListObjectsV2(
      "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><ListBucketResult><Contents><Key>caf\xC3\xA9"
      "</Key></Contents></ListBucketResult>");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->page.objects.size(), 1u);
  EXPECT_EQ(parsed->page.objects[0].key, "caf\xC3\xA9");
}

TEST(ParseListObjectsV2, MalformedXmlIsAnIoErrorAndOtherDocumentsAreEmpty) {
  auto malformed = ParseListObjectsV2("<ListBucketResult><Contents>");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), StatusCode::kIoError);
  EXPECT_FALSE(malformed.status().message().empty());
  auto other = ParseListObjectsV2("<Error><Code>x</Code></Error>");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->page.objects.empty());
  EXPECT_FALSE(other->truncated);
}

TEST(ParseS3ErrorReply, ReadsCodeAndMessage) {
  auto reply = ParseS3ErrorReply(
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &lt;k&gt; does not "
      "exist</Message><RequestId>1</RequestId></Error>");
  EXPECT_EQ(reply.code, "NoSuchKey");
  EXPECT_EQ(reply.message, "The key <k> does not exist");
}

TEST(ParseS3ErrorReply, EmptyForBodiesThatAreNotS3Errors) {
  for (const char* body : {"", "<html><body>502 Bad Gateway</body></html>", "<Error><Code>",
                           "Service Unavailable", "<Other><Code>x</Code></Other>"}) {
    auto reply = ParseS3ErrorReply(body);
    EXPECT_EQ(reply.code, "") << body;
    EXPECT_EQ(reply.message, "") << body;
  }
}

TEST(XmlEscape, WhatItWritesParsesBackToTheSameBytes) {
  const std::string text = "a&b<c>d\"e'f\tg\nh\ri\r\nj\x01k\x1f\x7f\xC3\xA9";
  const std::string escaped = XmlEscape(text);
  EXPECT_EQ(escaped.find('\r'), std::string::npos);
  auto reply = ParseS3ErrorReply("<Error><Code>" + escaped + "</Code></Error>");
  EXPECT_EQ(reply.code, text);
}

TEST(IsRetryableS3Reply, AddsS3sRequestTimeoutToTheStatusesEveryServiceRetries) {
  auto reply = [](int status, std::string body) {
    http::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  };
  for (int s : {429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableS3Reply(reply(s, "")));
  EXPECT_TRUE(IsRetryableS3Reply(reply(400, "<Error><Code>RequestTimeout</Code></Error>")));
  EXPECT_FALSE(IsRetryableS3Reply(reply(400, "<Error><Code>InvalidArgument</Code></Error>")));
  EXPECT_FALSE(IsRetryableS3Reply(reply(403, "<Error><Code>RequestTimeout</Code></Error>")));
  EXPECT_FALSE(IsRetryableS3Reply(reply(400, "not xml RequestTimeout")));
}

TEST(XmlCanCarry, RefusesTheControlCharactersXml10Forbids) {
  EXPECT_TRUE(XmlCanCarry("plain/key with spaces & <tags>"));
  EXPECT_TRUE(XmlCanCarry("tab\tnewline\ncr\r\xC3\xA9\x7f"));
  EXPECT_FALSE(XmlCanCarry("nl/e\x1b[31m"));
  EXPECT_FALSE(XmlCanCarry(std::string("a\0b", 3)));
  EXPECT_FALSE(XmlCanCarry("\x01"));
  EXPECT_FALSE(XmlCanCarry("\x1f"));
}

TEST(UrlDecode, DecodesPercentEscapesAndPlus) {
  EXPECT_EQ(UrlDecode("a%2Fb%2fc+d"), "a/b/c d");
  EXPECT_EQ(UrlDecode("%"), "%");
  EXPECT_EQ(UrlDecode("%4"), "%4");
  EXPECT_EQ(UrlDecode("%zz%41"), "%zzA");
  EXPECT_EQ(UrlDecode("%00"), std::string(1, '\0'));
}

TEST(StripQuotes, RemovesOnlyAPairOfSurroundingQuotes) {
  EXPECT_EQ(StripQuotes("\"abc\""), "abc");
  EXPECT_EQ(StripQuotes("\"abc"), "\"abc");
  EXPECT_EQ(StripQuotes("\""), "\"");
  EXPECT_EQ(StripQuotes("\"\""), "");
}

}  // namespace
}  // namespace quarry
