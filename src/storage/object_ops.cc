#include "quarry/object_ops.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "quarry/parallel_for.h"
#include "quarry/sinks.h"
#include "quarry/streaming_read.h"

namespace quarry {

Result<std::string> ReadToString(ObjectStore& store, std::string_view bucket, std::string_view key,
                                 uint64_t offset, uint64_t length, const ReadOptions& options) {
  std::string out;
  if (length != UINT64_MAX && length <= (64ull << 20)) out.reserve(length);
  StringSink sink(&out);
  QUARRY_RETURN_IF_ERROR(store.ReadRange(bucket, key, offset, length, &sink, options).status());
  return out;
}

Status ReadRanges(std::span<const RangeRead> reads, const ReadRangesOptions& options) {
  // Each range as requests of at most part_size bytes, all of them in one pool: a batch of
  // small objects and a few large ranges keep the same number of requests in flight.
  struct Request {
    const RangeRead* range;
    uint64_t start;
    uint64_t stop;
  };
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  std::vector<Request> requests;
  for (const RangeRead& r : reads) {
    if (r.stop < r.start || r.store == nullptr || (r.out == nullptr && r.stop > r.start)) {
      return InvalidArgument("ReadRanges: range [" + std::to_string(r.start) + ", " +
                             std::to_string(r.stop) + ") of '" + std::string(r.key) +
                             "' has no store, no room, or ends before it starts");
    }
    for (uint64_t at = r.start; at < r.stop; at += std::min(part, r.stop - at)) {
      requests.push_back({&r, at, std::min(r.stop, at + part)});
    }
  }
  return ParallelFor(requests.size(), std::max(1, options.concurrency), [&](size_t i) -> Status {
    const Request& q = requests[i];
    const RangeRead& r = *q.range;
    const uint64_t length = q.stop - q.start;
    BufferSink sink(r.out + (q.start - r.start), length);
    QUARRY_ASSIGN_OR_RETURN(uint64_t got,
                            r.store->ReadRange(r.bucket, r.key, q.start, length, &sink, r.options));
    if (got != length || sink.size() != length) {
      return Status(StatusCode::kPreconditionFailed,
                    "'" + std::string(r.key) + "' ended at byte " + std::to_string(q.start + got) +
                        " where bytes up to " + std::to_string(q.stop) +
                        " were asked for: the object is shorter than its listing said (it "
                        "changed since); plan it again");
    }
    return Status::Ok();
  });
}

Result<uint64_t> DeletePrefix(ObjectStore& store, std::string_view bucket,
                              std::string_view prefix) {
  QUARRY_ASSIGN_OR_RETURN(auto lister, store.List(bucket, prefix, {}));
  uint64_t count = 0;
  ListPage page;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(bool more, lister->Next(&page));
    if (!more) break;
    std::vector<std::string> keys;
    keys.reserve(page.objects.size());
    for (auto& o : page.objects) {
      // Never a key the listing should not have given: deleting reaches only the prefix.
      if (o.key.starts_with(prefix)) keys.push_back(std::move(o.key));
    }
    if (keys.empty()) continue;
    QUARRY_RETURN_IF_ERROR(store.DeleteObjects(bucket, keys));
    count += keys.size();
  }
  return count;
}

namespace {

// The first read of ReadObjectInto. The reply's first bytes go straight to the caller's memory,
// allocated when they arrive, from the object's size the reply told (OnObject) just before; a
// store that tells nothing has them staged instead, for ReadObjectInto to place after a Head.
class FirstReadSink final : public ReadSink {
 public:
  // `length` bytes asked for from `start`, at most `limit` wanted (UINT64_MAX: to the end).
  FirstReadSink(uint64_t start, uint64_t length, uint64_t limit, const AllocateForRead& allocate)
      : start_(start), length_(length), limit_(limit), allocate_(allocate) {}

  bool ReceivesInPlace() const override { return true; }
  void OnObject(const ObjectInfo& info) override { info_ = info; }
  Status Write(const char* data, size_t size) override { return CopyIntoRooms(*this, data, size); }
  void Reset() override { size_ = 0; }

  Result<std::span<char>> Room() override {
    if (dest_ == nullptr) QUARRY_RETURN_IF_ERROR(Place());
    if (info_ && placed_ && info_->size != placed_for_size_) {
      // A retry reached another version of the object than the memory was sized for.
      return Status(StatusCode::kPreconditionFailed,
                    "the object changed while it was being read: rerun on the new version");
    }
    if (size_ == capacity_) return Internal("read returned more bytes than requested");
    return std::span<char>(dest_ + size_, static_cast<size_t>(capacity_ - size_));
  }
  Status Commit(size_t size) override {
    if (size > capacity_ - size_) return Internal("read returned more bytes than requested");
    size_ += size;
    return Status::Ok();
  }

  // Bytes the range holds in an object of `object_size`.
  uint64_t RangeIn(uint64_t object_size) const {
    return object_size > start_ ? std::min(limit_, object_size - start_) : 0;
  }

  const std::optional<ObjectInfo>& info() const { return info_; }
  bool placed() const { return placed_; }  // dest() is the caller's memory
  char* dest() const { return dest_; }
  uint64_t size() const { return size_; }  // received
  uint64_t total() const { return total_; }

 private:
  Status Place() {
    if (!info_) {
      staging_.resize(static_cast<size_t>(length_));
      dest_ = staging_.data();
      capacity_ = length_;
      return Status::Ok();
    }
    total_ = RangeIn(info_->size);
    QUARRY_ASSIGN_OR_RETURN(dest_, allocate_(total_));
    placed_ = true;
    placed_for_size_ = info_->size;
    capacity_ = std::min(length_, total_);
    return Status::Ok();
  }

  const uint64_t start_, length_, limit_;
  const AllocateForRead& allocate_;
  std::optional<ObjectInfo> info_;
  std::string staging_;
  char* dest_ = nullptr;
  uint64_t capacity_ = 0, size_ = 0, total_ = 0;
  bool placed_ = false;
  uint64_t placed_for_size_ = 0;
};

Status ChangedWhileRead(ObjectStore& store, std::string_view bucket, std::string_view key) {
  return Status(StatusCode::kPreconditionFailed,
                "read " + std::string(store.scheme()) + "://" + std::string(bucket) + "/" +
                    std::string(key) +
                    ": the object changed while it was being read (its size is not what the "
                    "first reply said): rerun on the new version");
}

}  // namespace

Result<uint64_t> ReadObjectInto(ObjectStore& store, std::string_view bucket, std::string_view key,
                                uint64_t start, std::optional<uint64_t> stop,
                                const ParallelReadOptions& options,
                                const AllocateForRead& allocate) {
  const uint64_t limit = stop ? (*stop > start ? *stop - start : 0) : UINT64_MAX;
  if (limit == 0) {
    QUARRY_RETURN_IF_ERROR(allocate(0).status());
    return uint64_t{0};
  }
  const uint64_t first = std::min(limit, std::max<uint64_t>(1, options.part_size));
  FirstReadSink sink(start, first, limit, allocate);
  QUARRY_ASSIGN_OR_RETURN(uint64_t got,
                          store.ReadRange(bucket, key, start, first, &sink, options.read));
  if (sink.dest() == nullptr) {  // no bytes: the range starts at or past the end
    QUARRY_RETURN_IF_ERROR(allocate(0).status());
    return uint64_t{0};
  }
  char* dest = sink.dest();
  uint64_t total = sink.total();
  ObjectInfo info = sink.info().value_or(ObjectInfo{});
  if (!sink.placed()) {
    // Staged: the size comes from the reply's length when the object ended, else from a Head.
    if (got < first) {
      total = got;
    } else {
      QUARRY_ASSIGN_OR_RETURN(info, store.Head(bucket, key));
      total = sink.RangeIn(info.size);
      if (total < got) return ChangedWhileRead(store, bucket, key);
    }
    QUARRY_ASSIGN_OR_RETURN(char* placed, allocate(total));
    if (got > 0) std::memcpy(placed, sink.dest(), static_cast<size_t>(got));
    dest = placed;
  } else if (got < std::min(first, total)) {
    return ChangedWhileRead(store, bucket, key);
  }
  if (got == total) return total;
  ParallelReadOptions rest = options;
  if (rest.read.if_match.empty()) rest.read.if_match = info.etag;
  rest.read.object_size = info.size;
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const uint64_t parts = (total - got - 1) / part + 1;
  QUARRY_RETURN_IF_ERROR(ParallelFor(parts, options.max_in_flight, [&](size_t i) -> Status {
    const uint64_t at = got + i * part, len = std::min(part, total - at);
    BufferSink placed(dest + at, static_cast<size_t>(len));
    QUARRY_ASSIGN_OR_RETURN(uint64_t n,
                            store.ReadRange(bucket, key, start + at, len, &placed, rest.read));
    if (n < len) return ChangedWhileRead(store, bucket, key);
    return Status::Ok();
  }));
  return total;
}

Result<std::string> ReadObject(ObjectStore& store, std::string_view bucket, std::string_view key,
                               uint64_t start, std::optional<uint64_t> stop,
                               const ParallelReadOptions& options) {
  std::string data;
  QUARRY_RETURN_IF_ERROR(
      ReadObjectInto(store, bucket, key, start, stop, options, [&](uint64_t size) -> Result<char*> {
        data.resize(static_cast<size_t>(size));
        return data.data();
      }).status());
  return data;
}

Result<uint64_t> ParallelRead(ObjectStore& store, std::string_view bucket, std::string_view key,
                              uint64_t offset, uint64_t length, const ParallelReadOptions& options,
                              const std::function<Status(std::string_view part)>& consume) {
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const size_t window = static_cast<size_t>(std::max(1, options.max_in_flight));
  // Part buffers come from the read buffer pool, so their memory is reused from part to part.
  std::deque<std::unique_ptr<StreamingRead>> in_flight;
  uint64_t next = 0;      // where the next read starts, relative to offset
  uint64_t consumed = 0;  // bytes handed to consume
  size_t from = 0;        // bytes of the first read in flight handed to consume
  while (true) {
    while (in_flight.size() < window && next < length) {
      const uint64_t len = std::min(part, length - next);
      in_flight.push_back(
          std::make_unique<StreamingRead>(store, bucket, key, offset + next, len, options.read));
      next += len;
    }
    if (in_flight.empty()) break;
    StreamingRead& head = *in_flight.front();
    QUARRY_ASSIGN_OR_RETURN(auto data, head.Next(from, StreamingRead::kConsumeBatch));
    if (!data.empty()) {
      from += data.size();
      consumed += data.size();
      QUARRY_RETURN_IF_ERROR(consume(data));
      continue;
    }
    // A short read means the object ended early (it shrank): stop rather than read holes.
    const bool short_read = from < head.length();
    in_flight.pop_front();
    from = 0;
    if (short_read) break;
  }
  return consumed;
}

Result<uint64_t> ParallelReadAt(
    ObjectStore& store, std::string_view bucket, std::string_view key, uint64_t offset,
    uint64_t length, const ParallelReadOptions& options,
    const std::function<Status(uint64_t position, std::string_view data)>& consume) {
  const uint64_t part = std::max<uint64_t>(1, options.part_size);
  const uint64_t parts = length == 0 ? 0 : (length - 1) / part + 1;
  std::atomic<bool> failed{false};  // reads still running stop at their next bytes
  std::mutex mu;
  uint64_t end = length;  // guarded by mu

  class AtSink final : public ReadSink {
   public:
    AtSink(uint64_t start, const std::function<Status(uint64_t, std::string_view)>& consume,
           const std::atomic<bool>& failed)
        : start_(start), position_(start), consume_(consume), failed_(failed) {}
    Status Write(const char* data, size_t size) override {
      if (failed_.load(std::memory_order_relaxed)) return Internal("read cancelled");
      Status s = consume_(position_, std::string_view(data, size));
      position_ += size;
      return s;
    }
    void Reset() override { position_ = start_; }

   private:
    uint64_t start_, position_;
    const std::function<Status(uint64_t, std::string_view)>& consume_;
    const std::atomic<bool>& failed_;
  };

  QUARRY_RETURN_IF_ERROR(ParallelFor(parts, options.max_in_flight, [&](size_t i) -> Status {
    const uint64_t start = i * part, len = std::min(part, length - i * part);
    AtSink sink(start, consume, failed);
    auto got = store.ReadRange(bucket, key, offset + start, len, &sink, options.read);
    if (!got.ok()) {
      // Only the first failure counts; reads it stopped report nothing of their own.
      if (failed.exchange(true)) return Status::Ok();
      return got.status();
    }
    if (*got < len) {
      std::lock_guard<std::mutex> lock(mu);
      end = std::min(end, start + *got);  // the object ended early
    }
    return Status::Ok();
  }));
  return end;
}

Status CopyObject(ObjectStore& src, std::string_view src_bucket, std::string_view src_key,
                  uint64_t size, ObjectStore& dst, std::string_view dst_bucket,
                  std::string_view dst_key, const ParallelReadOptions& options) {
  if (size <= options.part_size) {
    QUARRY_ASSIGN_OR_RETURN(auto data,
                            ReadToString(src, src_bucket, src_key, 0, UINT64_MAX, options.read));
    return dst.Put(dst_bucket, dst_key, data);
  }
  QUARRY_ASSIGN_OR_RETURN(auto writer, dst.OpenWriter(dst_bucket, dst_key));
  QUARRY_RETURN_IF_ERROR(
      ParallelRead(src, src_bucket, src_key, 0, size, options, [&](std::string_view part) {
        return writer->Write(part);
      }).status());
  return writer->Close();
}

}  // namespace quarry
