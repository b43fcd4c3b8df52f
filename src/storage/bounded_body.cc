#include "storage/bounded_body.h"

#include <algorithm>
#include <utility>

namespace quarry {

BoundedBody::BoundedBody(ReadSink* sink, uint64_t length, std::function<Status()> grew,
                         std::function<Result<ObjectInfo>(const http::HttpResponse& head)> describe)
    : sink_(sink), length_(length), grew_(std::move(grew)), describe_(std::move(describe)) {
  body_.write = [this](const char* data, size_t size) -> Status {
    if (refused_) return *refused_;
    if (size > length_ - written_) return grew_();
    written_ += size;
    return sink_->Write(data, size);
  };
  body_.reset = [this] {
    written_ = 0;
    refused_.reset();
    sink_->Reset();
  };
  body_.head = [this](const http::HttpResponse& head) {
    Result<ObjectInfo> info = describe_(head);
    if (!info.ok()) {
      refused_ = info.status();
      return;
    }
    sink_->OnObject(*info);
  };
  if (sink_->ReceivesInPlace()) {
    body_.room = [this]() -> Result<std::span<char>> {
      if (refused_) return *refused_;
      if (written_ == length_) return grew_();
      QUARRY_ASSIGN_OR_RETURN(std::span<char> room, sink_->Room());
      return room.first(static_cast<size_t>(std::min<uint64_t>(room.size(), length_ - written_)));
    };
    body_.commit = [this](size_t size) {
      written_ += size;
      return sink_->Commit(size);
    };
  }
}

}  // namespace quarry
