// What S3 error replies become: the Status code, what the message names (operation, URI,
// endpoint, credential, the fix), the HTTP status and whether a retry can help.
#include "storage/s3_errors.h"

#include <gtest/gtest.h>

#include <initializer_list>
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

// `s` has `code` and its message holds every one of `texts`.
void ExpectStatus(const Status& s, StatusCode code, std::initializer_list<std::string> texts) {
  EXPECT_EQ(s.code(), code) << s.message();
  for (const auto& text : texts) EXPECT_TRUE(Says(s, text)) << text << " not in: " << s.message();
}

TEST(S3ErrorStatus, MissingBucketAndKeyAreNotFoundNamingThem) {
  Status s = S3ErrorStatus(kContext, "read", "b", "k", Reply(404, "NoSuchBucket"));
  ExpectStatus(s, StatusCode::kNotFound,
               {"read s3://b/k: bucket 'b' does not exist at endpoint http://127.0.0.1:7480"});
  EXPECT_EQ(s.http_status(), 404);
  EXPECT_FALSE(s.retryable());

  // HEAD replies have no body: a bare 404 of a key is a missing object.
  ExpectStatus(S3ErrorStatus(kContext, "stat", "b", "k", Reply(404)), StatusCode::kNotFound,
               {"no object with key 'k' in bucket 'b'"});
}

TEST(S3ErrorStatus, CredentialProblemsArePermissionDeniedNamingTheFix) {
  ExpectStatus(S3ErrorStatus(kContext, "list", "b", "", Reply(403, "SignatureDoesNotMatch")),
               StatusCode::kPermissionDenied,
               {"list s3://b: the server at endpoint", "signature of access key id 'AK'",
                "secret_access_key"});
  ExpectStatus(S3ErrorStatus(kContext, "list", "b", "", Reply(403, "InvalidAccessKeyId")),
               StatusCode::kPermissionDenied, {"access key id 'AK' is unknown"});
  ExpectStatus(S3ErrorStatus(kContext, "read", "b", "k", Reply(400, "ExpiredToken")),
               StatusCode::kPermissionDenied, {"the session of access key id 'AK' was rejected"});
  const S3ErrorContext anonymous{"s3", "http://127.0.0.1:7480", "anonymous access"};
  ExpectStatus(S3ErrorStatus(anonymous, "read", "b", "k", Reply(403)),
               StatusCode::kPermissionDenied, {"anonymous request (no credentials found"});
}

TEST(S3ErrorStatus, AChangedObjectIsPreconditionFailed) {
  ExpectStatus(S3ErrorStatus(kContext, "read", "b", "k", Reply(412, "PreconditionFailed")),
               StatusCode::kPreconditionFailed, {"rerun the job on the new version"});
}

TEST(S3ErrorStatus, OtherRepliesGoByTheirHttpStatus) {
  Status s = S3ErrorStatus(kContext, "read", "b", "k", Reply(503, "SlowDown"));
  ExpectStatus(s, StatusCode::kUnavailable,
               {"HTTP 503 SlowDown: the server's words (gave up after retries) at endpoint"});
  EXPECT_TRUE(s.retryable());

  // S3's RequestTimeout is a 400 worth sending again.
  s = S3ErrorStatus(kContext, "write", "b", "k", Reply(400, "RequestTimeout"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.retryable());

  ExpectStatus(S3ErrorStatus(kContext, "write", "b", "k", Reply(409)), StatusCode::kIoError,
               {"write s3://b/k: HTTP 409 at endpoint"});
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
