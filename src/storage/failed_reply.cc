#include "storage/failed_reply.h"

namespace quarry {

Status FailedReply::Make(StatusCode code, const std::string& message) const {
  return Status(code, what + ": " + message, http_status, retryable);
}

Status FailedReply::Unrecognised(std::string_view service_code,
                                 std::string_view service_message) const {
  const int st = http_status;
  const StatusCode code = (st >= 500 || st == 429) ? StatusCode::kUnavailable
                          : st == 400              ? StatusCode::kInvalidArgument
                                                   : StatusCode::kIoError;
  std::string detail = "HTTP " + std::to_string(st);
  if (!service_code.empty()) detail += " " + std::string(service_code);
  if (!service_message.empty()) detail += ": " + std::string(service_message);
  if (code == StatusCode::kUnavailable) detail += " (gave up after retries)";
  return Make(code, detail + where);
}

}  // namespace quarry
