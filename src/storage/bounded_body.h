// Internal to the storage backends: a ReadSink seen as the HTTP client's BodySink.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "http/http_client.h"
#include "quarry/object_store.h"

namespace quarry {

// The body of one ranged GET, delivered to `sink`, of at most `length` bytes (UINT64_MAX: no
// bound). Every attempt of the request starts over (`sink->Reset()`, written() back to 0).
//
// - More bytes than `length` means the object grew since it was listed: the transfer stops
//   with `grew()`'s status and no byte past the bound reaches the sink.
// - `describe(head)` turns each attempt's reply headers into the ObjectInfo the sink is told
//   (`OnObject`); an error instead (e.g. a version other than the pinned one) stops the
//   transfer before any of that reply's bytes reach the sink, and is what the writes return.
// - Bytes go through the sink's own memory (Room/Commit) when it receives in place.
//
// Holds references to `sink` and the functions' captures: it lives on the stack of the read.
class BoundedBody {
 public:
  BoundedBody(ReadSink* sink, uint64_t length, std::function<Status()> grew,
              std::function<Result<ObjectInfo>(const http::HttpResponse& head)> describe);
  BoundedBody(const BoundedBody&) = delete;
  BoundedBody& operator=(const BoundedBody&) = delete;

  http::BodySink* body() { return &body_; }
  // Bytes of the current attempt delivered to the sink.
  uint64_t written() const { return written_; }

 private:
  ReadSink* sink_;
  uint64_t length_;
  uint64_t written_ = 0;
  std::function<Status()> grew_;
  std::function<Result<ObjectInfo>(const http::HttpResponse&)> describe_;
  std::optional<Status> refused_;  // this attempt's reply is not to be delivered
  http::BodySink body_;
};

}  // namespace quarry
