// Sinks: the ReadSinks every caller of ObjectStore::ReadRange needs (into a string, into a fixed
// buffer received in place), and CopyIntoRooms, which hands bytes already in memory to a sink
// that receives in place.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "quarry/object_store.h"

namespace quarry {

// A ReadSink that appends to a string, and keeps what the response said about the object.
class StringSink final : public ReadSink {
 public:
  explicit StringSink(std::string* out) : out_(out), base_(out->size()) {}
  Status Write(const char* data, size_t size) override {
    out_->append(data, size);
    return Status::Ok();
  }
  void Reset() override { out_->resize(base_); }
  void OnObject(const ObjectInfo& info) override { info_ = info; }
  // Unset until a response carried bytes, and for stores whose reads say nothing.
  const std::optional<ObjectInfo>& info() const { return info_; }

 private:
  std::string* out_;
  size_t base_;
  std::optional<ObjectInfo> info_;
};

// A ReadSink over a fixed buffer, received into in place where the backend can; fails if more
// than its capacity arrives.
class BufferSink final : public ReadSink {
 public:
  BufferSink(char* data, size_t capacity) : data_(data), capacity_(capacity) {}
  Status Write(const char* data, size_t size) override;
  void Reset() override { size_ = 0; }
  bool ReceivesInPlace() const override { return true; }
  Result<std::span<char>> Room() override;
  Status Commit(size_t size) override;
  size_t size() const { return size_; }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
};

// Hands `size` bytes to a sink that receives in place, copying them into the rooms it offers
// (for sources whose bytes are already in memory).
Status CopyIntoRooms(ReadSink& sink, const char* data, size_t size);

}  // namespace quarry
