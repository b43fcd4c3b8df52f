// What every DataStream has on top of its own Read: ReadChunk and ReadSharedChunk by copying,
// CountRecords and ReadAll. The streams themselves: range_stream.cc and decoding_stream.cc,
// chosen in open_stream.cc.
#include "quarry/data_stream.h"

#include <algorithm>
#include <memory>

#include "quarry/line_aligner.h"

namespace quarry {

Result<std::string_view> DataStream::ReadChunk(size_t max) {
  chunk_scratch_.resize(std::min<size_t>(max, size_t{256} * 1024));
  QUARRY_ASSIGN_OR_RETURN(size_t n, Read(chunk_scratch_.data(), chunk_scratch_.size()));
  return std::string_view(chunk_scratch_.data(), n);
}

Result<DataStream::SharedChunk> DataStream::ReadSharedChunk(size_t max) {
  QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadChunk(max));
  auto copy = std::make_shared<std::string>(chunk);
  return SharedChunk{*copy, copy};
}

Result<uint64_t> DataStream::CountRecords() {
  RecordCounter counter(separator());
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadChunk());
    if (chunk.empty()) return counter.records();
    counter.Feed(chunk);
  }
}

Result<std::string> DataStream::ReadAll() {
  std::string out;
  while (true) {
    QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadChunk());
    if (chunk.empty()) return out;
    out.append(chunk);
  }
}

}  // namespace quarry
