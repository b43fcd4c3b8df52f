// ChunkStream: what every partition stream shares. The partition's data is handed out chunk by
// chunk from a RangeFetcher over its object; this keeps the current chunk and the position in
// it, and builds Read, ReadChunk, ReadSharedChunk, ReadLine and Tell on top. A stream that
// derives from it says where its next chunk comes from, where in the object its next read
// starts (which sizes the fetcher's requests) and what keeps a chunk's memory allocated.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "partition/range_fetcher.h"
#include "quarry/data_stream.h"

namespace quarry {

class ChunkStream : public DataStream {
 public:
  Result<size_t> Read(char* buf, size_t n) override;
  Result<std::string_view> ReadChunk(size_t max) override;
  Result<SharedChunk> ReadSharedChunk(size_t max) override;
  Result<std::string> ReadLine() override;
  uint64_t Tell() const override { return chunk_pos_ + cur_pos_; }
  const std::optional<std::string>& header() const override { return header_; }
  const std::string& separator() const override { return separator_; }
  uint64_t bytes_fetched() const override;

 protected:
  // The records' separator is p.newline, or "\n" in byte mode.
  ChunkStream(std::shared_ptr<ObjectStore> store, Partition p);

  // The data's next bytes (a view valid until the next call), empty at its end. Called when the
  // current chunk is used up.
  virtual Result<std::string_view> NextData() = 0;
  // The offset in the object that the next read's bytes are fetched from.
  virtual uint64_t FetchOffset() const = 0;
  // Keeps the memory of the current chunk's bytes allocated.
  virtual std::shared_ptr<const void> ChunkOwner() const = 0;

  // Fetches with `next` from here on (nullptr: drops the fetcher, abandoning its reads in
  // flight); bytes_fetched() keeps counting what the one before fetched.
  void ReplaceFetcher(std::unique_ptr<RangeFetcher> next);

  // Makes `chunk`, at position `pos` in the data, the current chunk, read from its first byte.
  void SetChunk(std::string_view chunk, uint64_t pos);
  // Position just past the current chunk.
  uint64_t chunk_end() const { return chunk_pos_ + cur_.size(); }
  // Moves to `pos` if it lies within the current chunk (or just past it); false otherwise.
  bool SeekInChunk(uint64_t pos);
  // Reads on `n` bytes (fewer at the end of the data).
  Status Skip(uint64_t n);
  // Reads the data's first record into header(); data positions count from the byte after it
  // from then on.
  Status TakeHeaderRecord();

  std::shared_ptr<ObjectStore> store_;
  const Partition p_;
  std::unique_ptr<RangeFetcher> fetcher_;  // set before the stream is handed out
  uint64_t fetched_before_ = 0;            // by fetchers replaced, and reads of their own
  std::optional<std::string> header_;

 private:
  // Tells the fetcher that a read of up to `want` bytes starts here, which sizes its requests.
  void BeginRead(uint64_t want);
  // Up to `max` bytes of the current chunk, filling it first when it is used up; empty at the
  // end of the data.
  Result<std::string_view> NextChunk(size_t max);
  // Replaces the current chunk with the next one; false at the end of the data.
  Result<bool> Fill();

  std::string separator_ = "\n";
  // Current chunk of data (a view into the fetcher's head part or a decoded buffer); chunk_pos_
  // is its position in the partition's data.
  std::string_view cur_;
  size_t cur_pos_ = 0;
  uint64_t chunk_pos_ = 0;
};

}  // namespace quarry
