// Status and Result<T>: how every fallible call in Quarry reports failure.
//
// Nothing below the bindings and the CLI throws. A Status is either OK or carries a code, a
// message that tells the user what was tried and how to fix it, and facts for the retry layer:
// the HTTP status (0 when none) and whether trying again can help.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace quarry {

enum class StatusCode {
  kOk = 0,
  kNotFound,            // bucket, key, prefix or file does not exist
  kPermissionDenied,    // credentials rejected or missing rights
  kInvalidArgument,     // bad input from the caller: URI, option, range
  kUnavailable,         // endpoint unreachable, throttled, timed out, 5xx
  kPreconditionFailed,  // object changed (ETag mismatch)
  kIoError,             // local I/O failure or malformed reply
  kInternal,            // a bug in Quarry
};

// Short name of a code, e.g. "NotFound".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int http_status = 0, bool retryable = false)
      : code_(code),
        message_(std::move(message)),
        http_status_(http_status),
        retryable_(retryable) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int http_status() const { return http_status_; }
  // True when the same request may succeed if sent again (throttling, 5xx, resets, timeouts).
  bool retryable() const { return retryable_; }

  // Returns a copy whose message is "<context>: <message>"; code and retry facts are kept.
  Status WithContext(std::string_view context) const;

  // "NotFound: <message>" (or "OK").
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int http_status_ = 0;
  bool retryable_ = false;
};

inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status InvalidArgument(std::string msg) {
  return {StatusCode::kInvalidArgument, std::move(msg)};
}
inline Status PermissionDenied(std::string msg) {
  return {StatusCode::kPermissionDenied, std::move(msg)};
}
inline Status Unavailable(std::string msg) {
  return {StatusCode::kUnavailable, std::move(msg), 0, true};
}
inline Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

// Either a value of type T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const& {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  Status status() && { return ok() ? Status() : std::get<Status>(std::move(data_)); }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace quarry

#define QUARRY_CONCAT_INNER(a, b) a##b
#define QUARRY_CONCAT(a, b) QUARRY_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define QUARRY_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::quarry::Status _quarry_status = (expr);        \
    if (!_quarry_status.ok()) return _quarry_status; \
  } while (0)

// `lhs` may be a declaration ("auto x") and `tmp` a name, so neither can be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define QUARRY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

// `QUARRY_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define QUARRY_ASSIGN_OR_RETURN(lhs, expr) \
  QUARRY_ASSIGN_OR_RETURN_IMPL(QUARRY_CONCAT(_quarry_result_, __LINE__), lhs, expr)
