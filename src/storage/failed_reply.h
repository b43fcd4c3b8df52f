// FailedReply: the parts of a backend's error mapping (reply → Status) that are the same for
// every service over HTTP: the message's shape ("<op> <uri>: <what happened> at endpoint <url>"),
// the HTTP status and retryability it carries, and the Status of a reply that none of the
// backend's own rules recognised. Pure functions. Internal to the storage backends.
#pragma once

#include <string>
#include <string_view>

#include "quarry/status.h"

namespace quarry {

struct FailedReply {
  std::string what;   // the operation and its URI: "read s3://bucket/key"
  std::string where;  // " at endpoint https://host", put after the facts in messages
  int http_status = 0;
  bool retryable = false;  // whether sending the request again can help

  // A Status of `code` saying "<what>: <message>", with the reply's HTTP status and retryability.
  Status Make(StatusCode code, const std::string& message) const;

  // The Status of a reply no rule of the backend recognised, by its HTTP status: Unavailable for
  // 5xx and 429 (the retries are spent: "gave up after retries"), InvalidArgument for 400,
  // IoError for the rest. The message: "HTTP <status>[ <service_code>][: <service_message>]"
  // and `where`; the service's words are left out when empty.
  Status Unrecognised(std::string_view service_code, std::string_view service_message) const;
};

}  // namespace quarry
