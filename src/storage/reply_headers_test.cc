#include "storage/reply_headers.h"

#include <gtest/gtest.h>

namespace quarry {
namespace {

http::HttpResponse Reply(http::HeaderList headers) {
  http::HttpResponse reply;
  reply.status = 200;
  reply.headers = std::move(headers);
  return reply;
}

TEST(ReplyHeadersTest, HttpDatesBecomeIsoAndOtherTextStaysAsItIs) {
  EXPECT_EQ(HttpDateToIso("Wed, 21 Oct 2015 07:28:00 GMT"), "2015-10-21T07:28:00.000Z");
  EXPECT_EQ(HttpDateToIso("Sun, 06 Nov 1994 08:49:37 GMT"), "1994-11-06T08:49:37.000Z");
  EXPECT_EQ(HttpDateToIso("2015-10-21T07:28:00Z"), "2015-10-21T07:28:00Z");
  EXPECT_EQ(HttpDateToIso(""), "");
}

TEST(ReplyHeadersTest, ARangeHeaderNamesTheFirstAndLastByteOrTheRest) {
  EXPECT_EQ(ByteRangeHeader(0, 1), "bytes=0-0");
  EXPECT_EQ(ByteRangeHeader(100, 50), "bytes=100-149");
  EXPECT_EQ(ByteRangeHeader(7, UINT64_MAX), "bytes=7-");
}

TEST(ReplyHeadersTest, AWholeObjectReadIsFromZeroToTheEndAsFarAsTheCallerKnows) {
  EXPECT_TRUE(ReadsWholeObject(0, UINT64_MAX, std::nullopt));
  EXPECT_TRUE(ReadsWholeObject(0, 10, 10));
  EXPECT_TRUE(ReadsWholeObject(0, 11, 10));
  EXPECT_FALSE(ReadsWholeObject(0, 9, 10));
  EXPECT_FALSE(ReadsWholeObject(0, 10, std::nullopt));  // the size is not known
  EXPECT_FALSE(ReadsWholeObject(1, UINT64_MAX, 10));
}

TEST(ReplyHeadersTest, TheSizeIsContentRangesTotalElseTheLength) {
  EXPECT_EQ(ObjectSizeFromHeaders(
                Reply({{"content-range", "bytes 0-99/12345"}, {"content-length", "100"}})),
            12345u);
  EXPECT_EQ(ObjectSizeFromHeaders(Reply({{"content-length", "100"}})), 100u);
  EXPECT_EQ(
      ObjectSizeFromHeaders(Reply({{"content-length", "100"}, {"x-stored", "400"}}), "x-stored"),
      400u);
  EXPECT_EQ(ObjectSizeFromHeaders(Reply({})), 0u);
}

TEST(ReplyHeadersTest, InfoHoldsWhatTheHeadersSay) {
  ObjectInfo info =
      InfoFromHeaders("a/b.csv", Reply({{"etag", "\"abc\""},
                                        {"last-modified", "Wed, 21 Oct 2015 07:28:00 GMT"},
                                        {"content-type", "text/csv"},
                                        {"content-encoding", "gzip"},
                                        {"content-length", "42"}}));
  EXPECT_EQ(info.key, "a/b.csv");
  EXPECT_EQ(info.etag, "abc");
  EXPECT_EQ(info.last_modified, "2015-10-21T07:28:00.000Z");
  EXPECT_EQ(info.content_type, "text/csv");
  EXPECT_EQ(info.content_encoding, "gzip");
  EXPECT_EQ(info.size, 42u);
}

}  // namespace
}  // namespace quarry
