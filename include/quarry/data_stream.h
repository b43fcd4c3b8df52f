// DataStream: a partition's data as a sequential, seekable byte stream.
//
// Requests follow the access. After opening or a seek, a read asks for what it wants (at least
// 64 KiB) and nothing more; once reads go on past what was asked for, the access is sequential
// and the stream keeps `readahead` requests in flight, each twice as long as the last, up to
// `part_size`. A read of everything (ReadAll, CountRecords, ReadChunk without a limit) goes to
// that readahead at once. So random access (Parquet footers and column chunks, zip members)
// moves about the bytes it reads, and a scan moves them in long requests.
//
// Memory is bounded: at most `readahead` requests in flight (fetched in the background), each
// holding at most `read_window` bytes at a time. In line mode the stream reads past the nominal
// stop only as far as the end of the last record, in growing ranges; no fixed threshold.
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
  // Moves to `pos` within the partition's data (clamped to its end). Requests nothing by itself:
  // the next read asks for what it wants from there (a short forward seek to bytes already on
  // their way reads through them instead). Compressed streams can only seek forward (by
  // decoding) or back to 0 (starting over); in line mode, a position past the nominal stop is
  // reached by reading while the data's end is not known yet.
  virtual Status Seek(uint64_t pos) = 0;

  // The length of the partition's data when it is known without reading on: always in byte mode
  // and for uncompressed whole objects; in line mode once the end of the last record was found
  // (at once when the partition ends at the object's end); for compressed data once it was read
  // to its end. nullopt otherwise.
  virtual std::optional<uint64_t> Size() const = 0;

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

// Opens bytes [start, stop) of the object that `object` describes (its uri, bucket, key, size,
// etag, and the read tuning in its options) on `store`, as stored: no records, no header, no
// decoding, whatever the options say. Requests nothing until the first read. InvalidArgument
// unless start <= stop <= object.size.
Result<std::unique_ptr<DataStream>> OpenByteRange(std::shared_ptr<ObjectStore> store,
                                                  const Partition& object, uint64_t start,
                                                  uint64_t stop);

}  // namespace quarry
