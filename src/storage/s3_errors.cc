#include "storage/s3_errors.h"

#include "storage/s3_xml.h"

namespace quarry {

Status S3ErrorStatus(const S3ErrorContext& context, std::string_view op, std::string_view bucket,
                     std::string_view key, const http::HttpResponse& reply) {
  auto [code, message] = ParseS3ErrorReply(reply.body);
  std::string uri = std::string(context.scheme) + "://" + std::string(bucket);
  if (!key.empty()) uri += "/" + std::string(key);
  const std::string where = " at endpoint " + context.endpoint;
  const std::string& who = context.who;
  const int st = reply.status;
  auto make = [&](StatusCode c, const std::string& msg) {
    return Status(c, std::string(op) + " " + uri + ": " + msg, st, IsRetryableS3Reply(reply));
  };
  if (code == "NoSuchBucket") {
    return make(StatusCode::kNotFound, "bucket '" + std::string(bucket) + "' does not exist" +
                                           where + ": check the bucket name or create it");
  }
  if (code == "NoSuchKey" || (st == 404 && code.empty() && !key.empty())) {
    return make(StatusCode::kNotFound, "no object with key '" + std::string(key) + "' in bucket '" +
                                           std::string(bucket) + "'" + where);
  }
  if (code == "SignatureDoesNotMatch") {
    return make(StatusCode::kPermissionDenied,
                "the server" + where + " rejected the request signature of " + who +
                    " (SignatureDoesNotMatch): check the secret key (secret_access_key / "
                    "AWS_SECRET_ACCESS_KEY)");
  }
  if (code == "InvalidAccessKeyId") {
    return make(StatusCode::kPermissionDenied,
                who + " is unknown" + where +
                    " (InvalidAccessKeyId): check access_key_id / AWS_ACCESS_KEY_ID");
  }
  if (IsExpiredSession(reply)) {
    return make(StatusCode::kPermissionDenied,
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
    return make(StatusCode::kPermissionDenied, "access denied" + where + " for " + whom +
                                                   (code.empty() ? "" : " (" + code + ")") + hint);
  }
  if (st == 412) {
    return make(StatusCode::kPreconditionFailed,
                "the object changed while it was being read (ETag no longer matches): rerun "
                "the job on the new version");
  }
  if (st == 404) {
    return make(StatusCode::kNotFound,
                "not found" + where + (code.empty() ? "" : " (" + code + ")"));
  }
  if (code == "BucketAlreadyExists") {
    return make(StatusCode::kPermissionDenied,
                "bucket '" + std::string(bucket) + "' already exists and belongs to another user");
  }
  StatusCode sc = (st >= 500 || st == 429) ? StatusCode::kUnavailable
                  : st == 400              ? StatusCode::kInvalidArgument
                                           : StatusCode::kIoError;
  std::string detail = "HTTP " + std::to_string(st);
  if (!code.empty()) detail += " " + code;
  if (!message.empty()) detail += ": " + message;
  if (sc == StatusCode::kUnavailable) detail += " (gave up after retries)";
  return make(sc, detail + where);
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
