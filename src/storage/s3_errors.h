// What the replies of an S3-compatible service mean when they are not answers: a Status for a
// failed reply that names the operation, the URI, the endpoint and the credential, and says how
// to fix it (missing bucket or key, a wrong secret, an expired session, access denied, ...),
// and whether the reply says the session expired. Pure functions of the reply and its context
// (no I/O, never a secret in a message). Internal to the S3 backend (s3_*.cc).
#pragma once

#include <string>
#include <string_view>

#include "http/http_client.h"
#include "quarry/status.h"

namespace quarry {

// Who asked where, for the messages.
struct S3ErrorContext {
  std::string_view scheme;  // "s3", "cos"
  std::string endpoint;     // "https://s3.us-east-1.amazonaws.com"
  std::string who;          // the credential's description ("anonymous access" for none)
};

// The Status of a non-2xx `reply` to operation `op` ("read", "list", "upload part", ...) on
// bucket/key (key "" for the bucket; both "" for the service). Its code: NotFound (no such
// bucket or key), PermissionDenied (signature, unknown key, expired session, access denied, a
// bucket name taken by another user), PreconditionFailed (412: the object changed),
// Unavailable (5xx, 429), InvalidArgument (other 400s), else IoError. It carries the HTTP status
// and whether a retry can help (IsRetryableS3Reply).
Status S3ErrorStatus(const S3ErrorContext& context, std::string_view op, std::string_view bucket,
                     std::string_view key, const http::HttpResponse& reply);

// True for a 400, 401 or 403 whose body's code says the session's token expired or is invalid
// (ExpiredToken, InvalidToken, TokenRefreshRequired): a new credential may help.
bool IsExpiredSession(const http::HttpResponse& reply);

}  // namespace quarry
