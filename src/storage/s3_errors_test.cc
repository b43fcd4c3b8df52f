// What S3 error replies become: the Status code, what the message names (operation, URI,
// endpoint, credential, the fix), the HTTP status and whether a retry can help.
#include "storage/s3_errors.h"

#include <gtest/gtest.h>

#include <string>

namespace quarry {
namespace {

const S3ErrorContext kContext{"s3", "http://127.0.0.1:7480", "access key id 'AK'"};

http::HttpResponse Reply(int status, const std::string& code = "") {
  http::HttpResponse r;
  r.status = status;
  if (!code.empty()) {
    r.body = "<Error><Code>" + code + "</Code><Message>the server's words</Message></Error>";
  }
  return r;
}

bool Says(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(S3ErrorStatus, MissingBucketAndKeyAreNotFoundNamingThem) {
  Status s = S3ErrorStatus(kContext, "read", "b", "k", Reply(404, "NoSuchBucket"));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Says(s, "read s3://b/k: bucket 'b' does not exist at endpoint http://127.0.0.1:7480"))
      << s.message();
  EXPECT_EQ(s.http_status(), 404);
  EXPECT_FALSE(s.retryable());

  // HEAD replies have no body: a bare 404 of a key is a missing object.
  s = S3ErrorStatus(kContext, "stat", "b", "k", Reply(404));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Says(s, "no object with key 'k' in bucket 'b'")) << s.message();
}

TEST(S3ErrorStatus, CredentialProblemsArePermissionDeniedNamingTheFix) {
  Status s = S3ErrorStatus(kContext, "list", "b", "", Reply(403, "SignatureDoesNotMatch"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Says(s, "list s3://b: the server at endpoint")) << s.message();
  EXPECT_TRUE(Says(s, "signature of access key id 'AK'")) << s.message();
  EXPECT_TRUE(Says(s, "secret_access_key")) << s.message();

  s = S3ErrorStatus(kContext, "list", "b", "", Reply(403, "InvalidAccessKeyId"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Says(s, "access key id 'AK' is unknown")) << s.message();

  s = S3ErrorStatus(kContext, "read", "b", "k", Reply(400, "ExpiredToken"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Says(s, "the session of access key id 'AK' was rejected")) << s.message();

  const S3ErrorContext anonymous{"s3", "http://127.0.0.1:7480", "anonymous access"};
  s = S3ErrorStatus(anonymous, "read", "b", "k", Reply(403));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Says(s, "anonymous request (no credentials found")) << s.message();
}

TEST(S3ErrorStatus, AChangedObjectIsPreconditionFailed) {
  Status s = S3ErrorStatus(kContext, "read", "b", "k", Reply(412, "PreconditionFailed"));
  EXPECT_EQ(s.code(), StatusCode::kPreconditionFailed);
  EXPECT_TRUE(Says(s, "rerun the job on the new version")) << s.message();
}

TEST(S3ErrorStatus, OtherRepliesGoByTheirHttpStatus) {
  Status s = S3ErrorStatus(kContext, "read", "b", "k", Reply(503, "SlowDown"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(s.retryable());
  EXPECT_TRUE(Says(s, "HTTP 503 SlowDown: the server's words (gave up after retries) at endpoint"))
      << s.message();

  // S3's RequestTimeout is a 400 worth sending again.
  s = S3ErrorStatus(kContext, "write", "b", "k", Reply(400, "RequestTimeout"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.retryable());

  s = S3ErrorStatus(kContext, "write", "b", "k", Reply(409));
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(Says(s, "write s3://b/k: HTTP 409 at endpoint")) << s.message();
}

TEST(IsExpiredSession, OnlyTokenCodesOfClientErrors) {
  EXPECT_TRUE(IsExpiredSession(Reply(400, "ExpiredToken")));
  EXPECT_TRUE(IsExpiredSession(Reply(403, "InvalidToken")));
  EXPECT_TRUE(IsExpiredSession(Reply(401, "TokenRefreshRequired")));
  EXPECT_FALSE(IsExpiredSession(Reply(403, "AccessDenied")));
  EXPECT_FALSE(IsExpiredSession(Reply(500, "ExpiredToken")));
}

}  // namespace
}  // namespace quarry
