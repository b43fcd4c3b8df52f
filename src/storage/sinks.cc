#include "quarry/sinks.h"

#include <algorithm>
#include <cstring>

namespace quarry {

Status BufferSink::Write(const char* data, size_t size) {
  if (size > capacity_ - size_) {
    return Internal("read returned more bytes than requested");
  }
  std::memcpy(data_ + size_, data, size);
  size_ += size;
  return Status::Ok();
}

Result<std::span<char>> BufferSink::Room() {
  if (size_ == capacity_) return Internal("read returned more bytes than requested");
  return std::span<char>(data_ + size_, capacity_ - size_);
}

Status BufferSink::Commit(size_t size) {
  if (size > capacity_ - size_) return Internal("read returned more bytes than requested");
  size_ += size;
  return Status::Ok();
}

Status CopyIntoRooms(ReadSink& sink, const char* data, size_t size) {
  while (size > 0) {
    QUARRY_ASSIGN_OR_RETURN(std::span<char> room, sink.Room());
    const size_t n = std::min(size, room.size());
    std::memcpy(room.data(), data, n);
    QUARRY_RETURN_IF_ERROR(sink.Commit(n));
    data += n;
    size -= n;
  }
  return Status::Ok();
}

}  // namespace quarry
