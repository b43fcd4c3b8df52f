// DataStream: a partition's data as a sequential, seekable byte stream.
//
// Memory is bounded: the stream keeps at most `readahead` parts of `part_size` bytes in flight
// (fetched in the background) plus the part being consumed. In line mode it reads past the
// nominal stop only as far as the end of the last record, in growing ranges; no fixed threshold.
// Every read carries If-Match with the planned ETag, so a changed object fails the read
// (PreconditionFailed) instead of mixing versions.
//
// Not thread-safe: one consumer per stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "quarry/plan.h"
#include "quarry/status.h"

namespace quarry {

class DataStream {
 public:
  virtual ~DataStream() = default;

  // Reads up to `n` bytes into `buf`; 0 at the end of the partition's data.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;

  // Reads without copying: a view of the next bytes (at most `max`; at least one unless at the
  // end), empty at the end of the partition's data. The view points into the stream's buffers
  // and is valid until the next call on the stream. Position and Tell() move as with Read.
  virtual Result<std::string_view> ReadChunk(size_t max = SIZE_MAX);

  // Like ReadChunk, and the view's memory stays allocated as long as `owner` is held, also past
  // the next call and the stream's end (for views handed to other languages, whose holders the
  // stream cannot see). Its bytes are only meaningful until the next call: buffers are reused.
  struct SharedChunk {
    std::string_view data;
    std::shared_ptr<const void> owner;
  };
  virtual Result<SharedChunk> ReadSharedChunk(size_t max = SIZE_MAX);

  // The next record including its separator (the plan's newline, or "\n" in byte mode); the last
  // record may lack one. An empty string means the end.
  virtual Result<std::string> ReadLine() = 0;

  // The separator of records for ReadLine and CountRecords: the plan's newline, or "\n".
  virtual const std::string& separator() const = 0;

  // Reads the rest of the data and returns how many records it holds from the current position:
  // separators, plus one for bytes after the last. The bytes are scanned where they were
  // received, never copied out.
  Result<uint64_t> CountRecords();

  // Position within the partition's data (0 = its first byte).
  virtual uint64_t Tell() const = 0;
  // Moves to `pos` within the partition's data (clamped to its end). Compressed streams can only
  // seek forward or back to 0.
  virtual Status Seek(uint64_t pos) = 0;

  // The object's first record when the plan asked for a header, else nullopt.
  virtual const std::optional<std::string>& header() const = 0;

  // Bytes fetched from storage so far (raw, before decompression).
  virtual uint64_t bytes_fetched() const = 0;

  // Reads everything left.
  Result<std::string> ReadAll();

 private:
  std::string chunk_scratch_;  // ReadChunk's buffer for streams that only implement Read
};

// Opens the data of `partition` on `store` (normally through Partition::Open()).
Result<std::unique_ptr<DataStream>> OpenDataStream(std::shared_ptr<ObjectStore> store,
                                                   const Partition& partition);

}  // namespace quarry
