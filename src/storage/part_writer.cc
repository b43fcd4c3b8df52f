#include "storage/part_writer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "quarry/request_counters.h"

namespace quarry {

PartWriter::Target PartWriter::TargetOf(std::string_view scheme, std::string bucket,
                                        std::string key, PutOptions options) {
  std::string uri = std::string(scheme) + "://" + bucket + "/" + key;
  return {.uri = std::move(uri),
          .bucket = std::move(bucket),
          .key = std::move(key),
          .options = std::move(options)};
}

PartWriter::Shape PartWriter::ShapeOf(uint64_t part_size, uint64_t multipart_threshold,
                                      size_t parts_in_flight) {
  return {.part_size = static_cast<size_t>(part_size),
          .threshold = std::max<uint64_t>(1, multipart_threshold),
          .parts_in_flight = parts_in_flight};
}

PartWriter::PartWriter(Target target, Shape shape) : target_(std::move(target)), shape_(shape) {}

// The futures of std::async wait for their parts as they go.
PartWriter::~PartWriter() = default;

void PartWriter::Discard() {
  if (!closed_) Abort();
}

Status PartWriter::Write(std::string_view data) {
  QUARRY_RETURN_IF_ERROR(CheckWritable());
  Status status;
  // Known from here on: the object reaches the threshold, so the upload can start now and the
  // parts of `data` go without a copy.
  if (!started_ && written_ + data.size() >= shape_.threshold) status = Start();
  while (status.ok() && !data.empty()) {
    if (started_ && filling_.size == 0 && data.size() >= shape_.part_size) {
      status = SendPart({}, data.substr(0, shape_.part_size));
      data.remove_prefix(shape_.part_size);
      written_ += shape_.part_size;
      continue;
    }
    auto room = Room();
    if (!room.ok()) {
      status = room.status();
      break;
    }
    const size_t n = std::min(room->size(), data.size());
    std::memcpy(room->data(), data.data(), n);
    data.remove_prefix(n);
    status = Commit(n);
  }
  Status borrowed = WaitForBorrowedParts();
  return Failed(status.ok() ? borrowed : status);
}

Result<std::span<char>> PartWriter::Room() {
  QUARRY_RETURN_IF_ERROR(CheckWritable());
  if (!filling_.data) filling_ = TakeBuffer();
  return std::span<char>(filling_.data.get() + filling_.size, shape_.part_size - filling_.size);
}

Status PartWriter::Commit(size_t size) {
  QUARRY_RETURN_IF_ERROR(CheckWritable());
  if (!filling_.data || size > shape_.part_size - filling_.size) {
    return Internal("writing " + target_.uri + ": Commit of more than its Room() offered");
  }
  filling_.size += size;
  written_ += size;
  Status status;
  if (!started_ && written_ >= shape_.threshold) status = Start();
  if (status.ok() && filling_.size == shape_.part_size) {
    if (!started_) {
      held_.push_back(std::move(filling_));
    } else {
      status = SendFilled();
    }
    filling_ = {};
  }
  return Failed(status);
}

Status PartWriter::Close() {
  if (closed_) return failure_;
  closed_ = true;
  if (!failure_.ok()) {
    Abort();
    return failure_;
  }
  Status status = Finish();
  if (!status.ok()) Abort();
  return Failed(status);
}

Status PartWriter::SendRest() { return filling_.size > 0 ? SendFilled() : Status::Ok(); }

Status PartWriter::WaitForParts() {
  while (!in_flight_.empty()) QUARRY_RETURN_IF_ERROR(FinishOldest());
  return Status::Ok();
}

Status PartWriter::CheckWritable() const {
  if (closed_) return InvalidArgument("write after close of " + target_.uri);
  return failure_;
}

Status PartWriter::Failed(Status s) {
  if (!s.ok() && failure_.ok()) failure_ = s;
  return s;
}

// From here on the object goes up in parts: the full buffers held so far go first.
Status PartWriter::Start() {
  QUARRY_RETURN_IF_ERROR(StartUpload());
  started_ = true;
  std::vector<PartBuffer> held = std::move(held_);
  held_.clear();
  for (auto& b : held) QUARRY_RETURN_IF_ERROR(SendPart(std::move(b), {}));
  return Status::Ok();
}

Status PartWriter::Finish() {
  if (started_) return CompleteUpload();
  // Below the threshold: one request, from the one buffer when the bytes are in one.
  if (held_.empty()) return PutWhole(filling_.view());
  std::string body;
  body.reserve(static_cast<size_t>(written_));
  for (const auto& b : held_) body.append(b.view());
  body.append(filling_.view());
  return PutWhole(body);
}

void PartWriter::Abort() {
  while (!in_flight_.empty()) (void)FinishOldest();
  AbortUpload();
}

PartWriter::PartBuffer PartWriter::TakeBuffer() {
  if (spare_.empty()) return {std::make_unique_for_overwrite<char[]>(shape_.part_size), 0};
  PartBuffer b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

Status PartWriter::SendFilled() {
  PartBuffer b = std::move(filling_);
  filling_ = {};
  return SendPart(std::move(b), {});
}

// Uploads `owned` or, when it is empty, `borrowed` as the next part, once fewer than
// parts_in_flight parts are in flight.
Status PartWriter::SendPart(PartBuffer owned, std::string_view borrowed) {
  while (in_flight_.size() >= shape_.parts_in_flight) QUARRY_RETURN_IF_ERROR(FinishOldest());
  // The bytes do not move with the buffer: the view stays valid while `owned` lives.
  const std::string_view bytes = owned.data ? owned.view() : borrowed;
  const size_t index = parts_++;
  const uint64_t offset = sent_;
  sent_ += bytes.size();
  auto done = std::async(std::launch::async,
                         [this, index, offset, bytes, counters = CurrentRequestCountersShared()] {
                           CountRequestsInto count(counters);
                           return UploadPart(index, offset, bytes);
                         });
  in_flight_.push_back({std::move(done), std::move(owned)});
  return Status::Ok();
}

// Waits for the oldest part in flight; its buffer, if it had one, becomes free.
Status PartWriter::FinishOldest() {
  InFlight part = std::move(in_flight_.front());
  in_flight_.pop_front();
  Status s = part.done.get();
  if (part.owned.data) {
    part.owned.size = 0;
    spare_.push_back(std::move(part.owned));
  }
  return s;
}

// Waits until no part in flight reads the caller's memory (finishing the owned ones sent
// before them too: parts finish about in order anyway). All are waited for, also on error.
Status PartWriter::WaitForBorrowedParts() {
  Status first;
  while (std::any_of(in_flight_.begin(), in_flight_.end(),
                     [](const InFlight& p) { return !p.owned.data; })) {
    Status s = FinishOldest();
    if (first.ok()) first = s;
  }
  return first;
}

}  // namespace quarry
