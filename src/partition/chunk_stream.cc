#include "partition/chunk_stream.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "quarry/line_aligner.h"

namespace quarry {
namespace {

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

}  // namespace

ChunkStream::ChunkStream(std::shared_ptr<ObjectStore> store, Partition p)
    : store_(std::move(store)), p_(std::move(p)) {
  if (!p_.newline.empty()) separator_ = p_.newline;
}

Result<size_t> ChunkStream::Read(char* buf, size_t n) {
  BeginRead(n);
  size_t done = 0;
  while (done < n) {
    QUARRY_ASSIGN_OR_RETURN(auto chunk, NextChunk(n - done));
    if (chunk.empty()) break;
    std::memcpy(buf + done, chunk.data(), chunk.size());
    done += chunk.size();
  }
  return done;
}

Result<std::string_view> ChunkStream::ReadChunk(size_t max) {
  BeginRead(max);
  return NextChunk(max);
}

Result<DataStream::SharedChunk> ChunkStream::ReadSharedChunk(size_t max) {
  QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadChunk(max));
  if (chunk.empty()) return SharedChunk{};
  return SharedChunk{chunk, ChunkOwner()};
}

Result<std::string> ChunkStream::ReadLine() {
  std::string line;
  const size_t n = separator_.size();
  while (true) {
    if (cur_pos_ == cur_.size()) {
      BeginRead(kMinRead);  // a line longer than that reads on in order
      QUARRY_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return line;
    }
    std::string_view rest = cur_.substr(cur_pos_);
    if (n > 1 && !line.empty()) {
      // A separator may straddle what we hold and the new chunk.
      size_t tail = std::min(line.size(), n - 1);
      std::string joined = line.substr(line.size() - tail);
      joined.append(rest.substr(0, n - 1));
      size_t p = FindSeparator(joined, separator_, 0);
      if (p != std::string_view::npos && p < tail) {
        size_t need = n - (tail - p);
        line.append(rest.substr(0, need));
        cur_pos_ += need;
        return line;
      }
    }
    size_t p = FindSeparator(rest, separator_, 0);
    if (p != std::string_view::npos) {
      line.append(rest.substr(0, p + n));
      cur_pos_ += p + n;
      return line;
    }
    line.append(rest);
    cur_pos_ = cur_.size();
  }
}

uint64_t ChunkStream::bytes_fetched() const {
  return fetched_before_ + (fetcher_ ? fetcher_->bytes() : 0);
}

void ChunkStream::ReplaceFetcher(std::unique_ptr<RangeFetcher> next) {
  if (fetcher_) fetched_before_ += fetcher_->bytes();
  fetcher_ = std::move(next);
}

void ChunkStream::SetChunk(std::string_view chunk, uint64_t pos) {
  cur_ = chunk;
  cur_pos_ = 0;
  chunk_pos_ = pos;
}

bool ChunkStream::SeekInChunk(uint64_t pos) {
  if (pos < chunk_pos_ || pos > chunk_pos_ + cur_.size()) return false;
  cur_pos_ = static_cast<size_t>(pos - chunk_pos_);
  return true;
}

Status ChunkStream::Skip(uint64_t n) {
  BeginRead(n);
  while (n > 0) {
    QUARRY_ASSIGN_OR_RETURN(
        auto chunk,
        NextChunk(static_cast<size_t>(std::min<uint64_t>(n, std::numeric_limits<size_t>::max()))));
    if (chunk.empty()) break;
    n -= chunk.size();
  }
  return Status::Ok();
}

Status ChunkStream::TakeHeaderRecord() {
  QUARRY_ASSIGN_OR_RETURN(auto h, ReadLine());
  header_ = std::move(h);
  SetChunk(cur_.substr(cur_pos_), 0);
  return Status::Ok();
}

void ChunkStream::BeginRead(uint64_t want) {
  if (!fetcher_) return;
  const uint64_t from = FetchOffset();
  fetcher_->BeginRead(from, SaturatingAdd(from, want));
}

Result<std::string_view> ChunkStream::NextChunk(size_t max) {
  if (cur_pos_ == cur_.size()) {
    QUARRY_ASSIGN_OR_RETURN(bool more, Fill());
    if (!more) return std::string_view();
  }
  std::string_view chunk = cur_.substr(cur_pos_, max);
  cur_pos_ += chunk.size();
  return chunk;
}

Result<bool> ChunkStream::Fill() {
  chunk_pos_ += cur_.size();
  cur_ = {};
  cur_pos_ = 0;
  QUARRY_ASSIGN_OR_RETURN(cur_, NextData());
  return !cur_.empty();
}

}  // namespace quarry
