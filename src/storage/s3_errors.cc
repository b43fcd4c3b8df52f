#include "storage/s3_errors.h"

#include "storage/failed_reply.h"
#include "storage/s3_xml.h"

namespace quarry {

Status S3ErrorStatus(const S3ErrorContext& context, std::string_view op, std::string_view bucket,
                     std::string_view key, const http::HttpResponse& reply) {
  auto [code, message] = ParseS3ErrorReply(reply.body);
  std::string uri = std::string(context.scheme) + "://" + std::string(bucket);
  if (!key.empty()) uri += "/" + std::string(key);
  const int st = reply.status;
  const FailedReply failed{std::string(op) + " " + uri, " at endpoint " + context.endpoint, st,
                           IsRetryableS3Reply(reply)};
  const std::string& where = failed.where;
  const std::string& who = context.who;
  if (code == "NoSuchBucket") {
    return failed.Make(StatusCode::kNotFound, "bucket '" + std::string(bucket) +
                                                  "' does not exist" + where +
                                                  ": check the bucket name or create it");
  }
  if (code == "NoSuchKey" || (st == 404 && code.empty() && !key.empty())) {
    return failed.Make(StatusCode::kNotFound, "no object with key '" + std::string(key) +
                                                  "' in bucket '" + std::string(bucket) + "'" +
                                                  where);
  }
  if (code == "SignatureDoesNotMatch") {
    return failed.Make(StatusCode::kPermissionDenied,
                       "the server" + where + " rejected the request signature of " + who +
                           " (SignatureDoesNotMatch): check the secret key (secret_access_key / "
                           "AWS_SECRET_ACCESS_KEY)");
  }
  if (code == "InvalidAccessKeyId") {
    return failed.Make(StatusCode::kPermissionDenied,
                       who + " is unknown" + where +
                           " (InvalidAccessKeyId): check access_key_id / AWS_ACCESS_KEY_ID");
  }
  if (IsExpiredSession(reply)) {
    return failed.Make(StatusCode::kPermissionDenied,
                       "the session of " + who + " was rejected" + where + " (" + code +
                           "), also after fetching a new one: for a fixed session token, get a new "
                           "one (or give role_arn / api_key so that Quarry fetches and refreshes "
                           "tokens itself)");
  }
  if (st == 403 || code == "AccessDenied") {
    const bool anonymous = who == "anonymous access";
    std::string whom = anonymous ? std::string(
                                       "anonymous request (no credentials found: set "
                                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
                                 : who;
    std::string hint = anonymous ? ""
                                 : ": check that the secret key (secret_access_key / "
                                   "AWS_SECRET_ACCESS_KEY) belongs to this access key id, or "
                                   "the token, and that it may use this bucket";
    return failed.Make(
        StatusCode::kPermissionDenied,
        "access denied" + where + " for " + whom + (code.empty() ? "" : " (" + code + ")") + hint);
  }
  if (st == 412) {
    return failed.Make(StatusCode::kPreconditionFailed,
                       "the object changed while it was being read (ETag no longer matches): rerun "
                       "the job on the new version");
  }
  if (st == 404) {
    return failed.Make(StatusCode::kNotFound,
                       "not found" + where + (code.empty() ? "" : " (" + code + ")"));
  }
  if (code == "BucketAlreadyExists") {
    return failed.Make(
        StatusCode::kPermissionDenied,
        "bucket '" + std::string(bucket) + "' already exists and belongs to another user");
  }
  return failed.Unrecognised(code, message);
}

bool IsExpiredSession(const http::HttpResponse& reply) {
  if (reply.status != 400 && reply.status != 401 && reply.status != 403) return false;
  for (const char* code : {"<Code>ExpiredToken</Code>", "<Code>InvalidToken</Code>",
                           "<Code>TokenRefreshRequired</Code>"}) {
    if (reply.body.find(code) != std::string::npos) return true;
  }
  return false;
}

}  // namespace quarry
