#include "quarry/data_stream.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>

#include "partition/compression.h"
#include "quarry/line_aligner.h"
#include "quarry/object_ops.h"
#include "quarry/streaming_read.h"

namespace quarry {
namespace {

constexpr uint64_t kFirstPastStopRead = uint64_t{64} * 1024;

// The smallest request a read makes after a seek (or at a fresh start): smaller ones cost a
// round trip for little.
constexpr uint64_t kMinRead = uint64_t{64} * 1024;

// Reads up to this long run on the consumer's thread when they are all that is left or all that
// was asked for (the consumer would wait for them anyway).
constexpr uint64_t kReadHereMax = 1 << 20;

// A forward seek at most this far, to bytes already requested, reads its way there instead of
// dropping the requests in flight (they are arriving anyway).
constexpr uint64_t kSkipByReadingMax = 1 << 20;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

// Reads [from, limit) of an object in order, with requests sized to how it is consumed. It asks
// for nothing until the first Next(); then for what the consumer's read wants (at least
// kMinRead), and nothing more. Once a read starts where every requested byte was consumed, the
// access is sequential: it keeps `readahead` requests in flight, each twice as long as the last
// (or as long as the read wants), up to `part_size`. A consumer that wants everything
// (SIZE_MAX) gets part_size requests in flight at once. Past `bulk_until` (the tail of a
// line-aligned partition, whose length is unknown) it reads on demand in ranges that start small
// and double up to part_size. The head request is handed out while it arrives, so consumption
// overlaps the transfer.
class RangeFetcher {
 public:
  RangeFetcher(std::shared_ptr<ObjectStore> store, const Partition& p, uint64_t from,
               uint64_t limit, uint64_t bulk_until)
      : store_(std::move(store)),
        bucket_(p.bucket),
        key_(p.key),
        read_{p.etag, p.size},
        part_size_(std::max<uint64_t>(1, p.options.part_size)),
        readahead_(static_cast<size_t>(std::max(1, p.options.readahead))),
        window_(static_cast<size_t>(std::max<uint64_t>(1, p.options.read_window))),
        next_(from),
        limit_(limit),
        bulk_until_(std::min(bulk_until, limit)) {}

  // Notes that the consumer starts a read at offset `from` (at most position(): the bytes in
  // between were handed out already) that wants the bytes up to `end` (UINT64_MAX: all). The
  // requests Next() makes are sized by it. A read that starts where the requested bytes end goes
  // on in order: readahead begins.
  void BeginRead(uint64_t from, uint64_t end) {
    if (launched_ && from >= next_) sequential_ = true;
    want_end_ = std::max(end, from + 1);
  }

  // Takes the access as sequential from here: the next requests are part_size long, readahead
  // of them in flight (for a scan, which need not ramp up).
  void AssumeSequential() {
    sequential_ = true;
    last_length_ = part_size_;
  }

  // The next bytes in order, valid until the next call; empty at the limit (or where the object
  // ended). Part buffers come from the read buffer pool, so consumed parts' memory serves later
  // reads. Reads still in flight when the fetcher goes are abandoned.
  Result<std::string_view> Next() {
    while (true) {
      if (!in_flight_.empty() && consumed_ == in_flight_.front()->length()) {
        in_flight_.pop_front();  // handed out in full
        consumed_ = 0;
      }
      if (in_flight_.empty() && next_ >= limit_) return std::string_view();
      const uint64_t want_end = std::max(want_end_, position() + 1);
      Schedule(want_end);
      StreamingRead& head = *in_flight_.front();
      QUARRY_ASSIGN_OR_RETURN(auto data, head.Next(consumed_, StreamingRead::kConsumeBatch));
      if (!data.empty()) {
        consumed_ += data.size();
        bytes_ += data.size();
        return data;
      }
      if (consumed_ < head.length()) {
        // The object is shorter than planned: it ends inside this part.
        limit_ = std::min(limit_, head.offset() + consumed_);
        bulk_until_ = std::min(bulk_until_, limit_);
      }
      in_flight_.pop_front();
      consumed_ = 0;
      if (!in_flight_.empty() && in_flight_.front()->offset() >= limit_) {
        return std::string_view();
      }
    }
  }

  uint64_t bytes() const { return bytes_; }

  // Offset of the next byte Next() hands out.
  uint64_t position() const {
    return in_flight_.empty() ? next_ : in_flight_.front()->offset() + consumed_;
  }
  // End of the bytes requested so far.
  uint64_t requested_end() const { return next_; }

  // Keeps the memory of the last Next()'s view allocated (see StreamingRead::buffer_owner).
  std::shared_ptr<const void> HeadOwner() const {
    return in_flight_.empty() ? nullptr : in_flight_.front()->buffer_owner();
  }

  // The Content-Encoding of the response that the last bytes came from ("" if none).
  std::string HeadContentEncoding() const {
    return in_flight_.empty() ? std::string() : in_flight_.front()->content_encoding();
  }

 private:
  // Launches the requests the access calls for; at least one when none is in flight.
  void Schedule(uint64_t want_end) {
    while (in_flight_.size() < readahead_ && next_ < limit_) {
      if (!in_flight_.empty()) {
        if (next_ >= bulk_until_) break;               // past the bulk range: on demand only
        if (!sequential_ && next_ >= want_end) break;  // nothing beyond what was asked for
      }
      Launch(NextLength(want_end), want_end);
    }
  }

  uint64_t NextLength(uint64_t want_end) {
    if (next_ >= bulk_until_) {
      const uint64_t len = std::min(past_read_, limit_ - next_);
      past_read_ = std::min(past_read_ * 2, part_size_);
      return len;
    }
    const uint64_t wanted = want_end > next_ ? want_end - next_ : 0;
    uint64_t len = sequential_ ? std::max(last_length_ * 2, wanted) : std::max(wanted, kMinRead);
    len = std::min({len, part_size_, bulk_until_ - next_});
    last_length_ = len;
    // A small rest (typically the bytes past the nominal stop) rides with this request rather
    // than costing one of its own.
    if (bulk_until_ - next_ - len <= std::min(kFirstPastStopRead, part_size_ / 8)) {
      len = bulk_until_ - next_;
    }
    return len;
  }

  // Starts reading [next_, next_ + len) in the background; a small read that is all there is
  // to read, or all the consumer asked for, runs right here (the consumer would wait for it
  // anyway), saving a thread.
  void Launch(uint64_t len, uint64_t want_end) {
    const bool last = next_ + len >= limit_ || (!sequential_ && next_ + len >= want_end);
    const bool here = in_flight_.empty() && last && len <= kReadHereMax;
    in_flight_.push_back(
        std::make_unique<StreamingRead>(*store_, bucket_, key_, next_, len, read_, window_, here));
    next_ += len;
    launched_ = true;
  }

  std::shared_ptr<ObjectStore> store_;
  std::string bucket_, key_;
  ReadOptions read_;
  uint64_t part_size_;
  size_t readahead_;
  size_t window_;  // bytes each read holds at a time
  uint64_t next_, limit_, bulk_until_;
  uint64_t past_read_ = kFirstPastStopRead;
  bool launched_ = false;
  bool sequential_ = false;   // a read started where the requested bytes ended
  uint64_t want_end_ = 0;     // where the consumer's current read wants to get to
  uint64_t last_length_ = 0;  // of the last request below bulk_until_
  uint64_t bytes_ = 0;
  uint64_t consumed_ = 0;  // bytes of the head part handed out
  std::deque<std::unique_ptr<StreamingRead>> in_flight_;
};

class PartitionStream final : public DataStream {
 public:
  // With `exact_range`, the data is the partition's nominal range as stored, whatever the plan
  // options say (OpenByteRange).
  PartitionStream(std::shared_ptr<ObjectStore> store, Partition p, bool exact_range)
      : store_(std::move(store)), p_(std::move(p)), exact_range_(exact_range) {
    if (!p_.newline.empty()) separator_ = p_.newline;
  }

  Status Init() {
    const bool whole = !exact_range_ && p_.total_parts == 1 && p_.start == 0 && p_.stop == p_.size;
    QUARRY_RETURN_IF_ERROR(whole ? InitWhole() : InitRanged());
    // Line mode is for reading records in order: its reads from the start go to part-size
    // readahead at once (a seek later sizes its requests as any other).
    if (!p_.newline.empty() && !decoding_ && fetcher_) {
      fetcher_->AssumeSequential();
    }
    return Status::Ok();
  }

  Result<size_t> Read(char* buf, size_t n) override {
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

  Result<std::string_view> ReadChunk(size_t max) override {
    BeginRead(max);
    return NextChunk(max);
  }

  Result<SharedChunk> ReadSharedChunk(size_t max) override {
    QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadChunk(max));
    if (chunk.empty()) return SharedChunk{};
    // cur_ points into the decoder's output or into the fetcher's head part.
    if (decoding_) return SharedChunk{chunk, decoded_};
    return SharedChunk{chunk, fetcher_->HeadOwner()};
  }

  Result<std::string> ReadLine() override {
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

  uint64_t Tell() const override { return chunk_pos_ + cur_pos_; }

  Status Seek(uint64_t pos) override {
    if (pos >= chunk_pos_ && pos <= chunk_pos_ + cur_.size()) {
      cur_pos_ = static_cast<size_t>(pos - chunk_pos_);
      return Status::Ok();
    }
    if (decoding_ || (!data_end_ && ds_ + pos > p_.stop)) {
      // Compressed data cannot be entered in the middle, and past the nominal stop the data's
      // end is not known yet: go there by reading.
      if (pos < Tell()) QUARRY_RETURN_IF_ERROR(Init());
      return Skip(pos - Tell());
    }
    uint64_t abs = ds_ + pos;
    if (data_end_) abs = std::min(abs, *data_end_);
    const uint64_t here = ds_ + Tell();
    if (abs > here && abs - here <= kSkipByReadingMax && fetcher_ &&
        abs < fetcher_->requested_end()) {
      return Skip(abs - here);  // those bytes are on their way already
    }
    uint64_t restart = abs;
    if (!data_end_ && end_finder_ && abs > end_scan_from_) restart = end_scan_from_;
    QUARRY_RETURN_IF_ERROR(StartRanged(restart));
    return Skip(abs - restart);
  }

  std::optional<uint64_t> Size() const override {
    if (decoding_) {
      if (!source_done_) return std::nullopt;
      return chunk_pos_ + cur_.size();
    }
    if (!data_end_) return std::nullopt;
    return *data_end_ - ds_;
  }

  const std::optional<std::string>& header() const override { return header_; }
  const std::string& separator() const override { return separator_; }
  uint64_t bytes_fetched() const override {
    return fetched_before_ + (fetcher_ ? fetcher_->bytes() : 0);
  }

 private:
  // Whole object: its first bytes tell whether it is compressed. Compressed data is decoded in
  // order; other data is the byte range [0, size) (after the header, its first record), whose
  // seeks are ranged reads.
  Status InitWhole() {
    Reset();
    decoding_ = false;
    decoder_.reset();
    source_done_ = false;
    ds_ = 0;
    data_end_ = p_.size;
    if (!p_.options.decompress && !p_.header) return StartRanged(0);
    if (fetcher_) fetched_before_ += fetcher_->bytes();
    fetcher_ = std::make_unique<RangeFetcher>(store_, p_, 0, p_.size, p_.size);
    fetcher_->BeginRead(0, kMinRead);
    QUARRY_ASSIGN_OR_RETURN(auto first, fetcher_->Next());
    fetch_abs_ = first.size();
    Compression compression = Compression::kNone;
    if (p_.options.decompress && !first.empty()) {
      compression = DetectCompression(first, p_.key, fetcher_->HeadContentEncoding());
    }
    if (compression != Compression::kNone) {
      decoding_ = true;
      data_end_.reset();
      QUARRY_ASSIGN_OR_RETURN(decoder_, MakeDecoder(compression, p_.uri));
      std::string& decoded = FreshDecoded();
      QUARRY_RETURN_IF_ERROR(decoder_->Decode(first, &decoded));
      if (first.empty()) QUARRY_RETURN_IF_ERROR(decoder_->Finish());
      cur_ = decoded;
    } else {
      cur_ = first;
    }
    if (p_.header) {
      QUARRY_ASSIGN_OR_RETURN(auto h, ReadLine());
      header_ = std::move(h);
      // Data positions count from the first byte after the header.
      if (!decoding_) ds_ = header_->size();
      chunk_pos_ = 0;
      cur_ = cur_.substr(cur_pos_);
      cur_pos_ = 0;
    }
    return Status::Ok();
  }

  // Part of a split object: find where its first record starts, then stream to its last
  // record's end, found on the fly.
  Status InitRanged() {
    Reset();
    const bool lines = !p_.newline.empty();
    uint64_t header_end = 0;
    if (lines && p_.header) {
      QUARRY_ASSIGN_OR_RETURN(auto h, ScanRecordStart(1, p_.size));
      header_end = h.value_or(p_.size);
      QUARRY_ASSIGN_OR_RETURN(auto text,
                              ReadToString(*store_, p_.bucket, p_.key, 0, header_end, {p_.etag}));
      fetched_before_ += text.size();
      header_ = std::move(text);
    }
    if (!lines) {
      ds_ = p_.start;
      data_end_ = p_.stop;
    } else if (p_.start > 0) {
      return StartAtFirstRecord(header_end);
    } else {
      ds_ = header_end;
      SetDataEnd();
    }
    return StartRanged(ds_);
  }

  // Once ds_ is known: the data's end where it is known already, else where to look for it.
  void SetDataEnd() {
    const uint64_t len = separator_.size();
    if (ds_ >= p_.stop) {
      data_end_ = ds_;  // no record starts in this partition
    } else if (p_.stop >= p_.size) {
      data_end_ = p_.size;
    } else {
      end_scan_from_ = std::max(ds_, p_.stop >= len ? p_.stop - len : 0);
    }
  }

  // Bulk reads go a little past the nominal stop, so the end of the last record usually comes
  // with them instead of with a request of its own once the consumer gets there.
  uint64_t BulkUntil(uint64_t limit) const { return std::min(limit, p_.stop + kFirstPastStopRead); }

  // Starts streaming just before the nominal start and finds the first record start (only one
  // starting before the nominal stop belongs here) in the data as it arrives, rather than with
  // a request of its own ahead of the bulk reads. Data before it is dropped.
  Status StartAtFirstRecord(uint64_t header_end) {
    const uint64_t len = separator_.size();
    const uint64_t from = p_.start >= len ? p_.start - len : 0;
    if (fetcher_) fetched_before_ += fetcher_->bytes();
    fetcher_ = std::make_unique<RangeFetcher>(store_, p_, from, p_.size, BulkUntil(p_.size));
    SeparatorFinder finder(separator_, from);
    std::optional<uint64_t> first;
    std::string_view raw;
    uint64_t at = from;  // offset of raw's first byte
    for (uint64_t next = from; next < p_.stop;) {
      fetcher_->BeginRead(next, next + kMinRead);
      QUARRY_ASSIGN_OR_RETURN(raw, fetcher_->Next());
      if (raw.empty()) break;
      at = next;
      next += raw.size();
      if (auto end = finder.Feed(raw, at)) {
        if (*end <= p_.stop) first = *end;
        break;
      }
    }
    ds_ = std::max(first.value_or(p_.stop), header_end);
    SetDataEnd();
    if (!first || ds_ != *first || ds_ >= p_.stop) return StartRanged(ds_);
    // Go on with this fetcher from the chunk that holds ds_.
    fetch_abs_ = at + raw.size();
    std::string_view data = raw.substr(ds_ - at);
    if (!data_end_) {
      end_finder_.emplace(separator_, end_scan_from_);
      if (auto end = end_finder_->Feed(data, ds_)) {
        data_end_ = *end;
        end_finder_.reset();
      }
    }
    if (data_end_ && *data_end_ - ds_ < data.size()) data = data.substr(0, *data_end_ - ds_);
    cur_ = data;
    cur_pos_ = 0;
    chunk_pos_ = 0;
    return Status::Ok();
  }

  // (Re)starts fetching at absolute offset `abs` (>= ds_); nothing is requested before the next
  // read says how much it wants.
  Status StartRanged(uint64_t abs) {
    if (fetcher_) fetched_before_ += fetcher_->bytes();
    const uint64_t limit = data_end_ ? *data_end_ : p_.size;
    fetcher_ = std::make_unique<RangeFetcher>(store_, p_, abs, limit, BulkUntil(limit));
    if (!data_end_) {
      end_finder_.emplace(separator_, end_scan_from_);
    } else {
      end_finder_.reset();
    }
    fetch_abs_ = abs;
    cur_ = {};
    cur_pos_ = 0;
    chunk_pos_ = abs - ds_;
    return Status::Ok();
  }

  // The smallest record start >= x, looking only at occurrences that end before `bound`;
  // nullopt when there is none there. Reads in growing ranges.
  Result<std::optional<uint64_t>> ScanRecordStart(uint64_t x, uint64_t bound) {
    const uint64_t len = separator_.size();
    uint64_t from = x >= len ? x - len : 0;
    SeparatorFinder finder(separator_, from);
    uint64_t step = kFirstPastStopRead;
    uint64_t at = from;
    while (at < bound) {
      uint64_t n = std::min(step, bound - at);
      step = std::min(step * 2, std::max<uint64_t>(p_.options.part_size, kFirstPastStopRead));
      QUARRY_ASSIGN_OR_RETURN(auto chunk,
                              ReadToString(*store_, p_.bucket, p_.key, at, n, {p_.etag}));
      fetched_before_ += chunk.size();
      if (auto end = finder.Feed(chunk, at)) {
        if (*end <= bound) return std::optional<uint64_t>(*end);
        return std::optional<uint64_t>();
      }
      if (chunk.size() < n) break;
      at += n;
    }
    return std::optional<uint64_t>();
  }

  // An empty buffer for decoded bytes: the last one, unless a shared chunk still holds it.
  std::string& FreshDecoded() {
    if (!decoded_ || decoded_.use_count() > 1) {
      decoded_ = std::make_shared<std::string>();
    } else {
      decoded_->clear();
    }
    return *decoded_;
  }

  void Reset() {
    cur_ = {};
    cur_pos_ = 0;
    chunk_pos_ = 0;
    header_.reset();
    data_end_.reset();
    end_finder_.reset();
  }

  Status Skip(uint64_t n) {
    BeginRead(n);
    while (n > 0) {
      QUARRY_ASSIGN_OR_RETURN(auto chunk, NextChunk(static_cast<size_t>(std::min<uint64_t>(
                                              n, std::numeric_limits<size_t>::max()))));
      if (chunk.empty()) break;
      n -= chunk.size();
    }
    return Status::Ok();
  }

  // Tells the fetcher that a read of up to `want` bytes starts here, which sizes its requests.
  void BeginRead(uint64_t want) {
    if (!fetcher_) return;
    const uint64_t from = decoding_ ? fetcher_->position() : ds_ + Tell();
    fetcher_->BeginRead(from, SaturatingAdd(from, want));
  }

  // Up to `max` bytes of the current chunk, filling it first when it is used up; empty at the
  // end of the data.
  Result<std::string_view> NextChunk(size_t max) {
    if (cur_pos_ == cur_.size()) {
      QUARRY_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return std::string_view();
    }
    std::string_view chunk = cur_.substr(cur_pos_, max);
    cur_pos_ += chunk.size();
    return chunk;
  }

  // Replaces the current chunk with the next one; false at the end of the data.
  Result<bool> Fill() {
    chunk_pos_ += cur_.size();
    cur_ = {};
    cur_pos_ = 0;
    while (cur_.empty()) {
      if (decoding_) {
        if (source_done_) return false;
        QUARRY_ASSIGN_OR_RETURN(auto raw, fetcher_->Next());
        if (raw.empty()) {
          source_done_ = true;
          if (decoder_) QUARRY_RETURN_IF_ERROR(decoder_->Finish());
          return false;
        }
        if (decoder_) {
          std::string& decoded = FreshDecoded();
          QUARRY_RETURN_IF_ERROR(decoder_->Decode(raw, &decoded));
          cur_ = decoded;
        } else {
          cur_ = raw;
        }
        continue;
      }
      if (data_end_ && fetch_abs_ >= *data_end_) return false;
      QUARRY_ASSIGN_OR_RETURN(auto raw, fetcher_->Next());
      if (raw.empty()) {
        data_end_ = fetch_abs_;
        return false;
      }
      const uint64_t off = fetch_abs_;
      fetch_abs_ += raw.size();
      if (end_finder_) {
        if (auto end = end_finder_->Feed(raw, off)) {
          data_end_ = *end;
          end_finder_.reset();
        }
      }
      if (data_end_ && off + raw.size() > *data_end_) raw = raw.substr(0, *data_end_ - off);
      cur_ = raw;
      if (cur_.empty()) return false;
    }
    return true;
  }

  std::shared_ptr<ObjectStore> store_;
  Partition p_;
  std::string separator_ = "\n";
  const bool exact_range_;
  std::optional<std::string> header_;

  // Current chunk of data (a view into the fetcher's head part or decoded_); chunk_pos_ is its
  // position in the partition's data.
  std::string_view cur_;
  std::shared_ptr<std::string> decoded_;
  size_t cur_pos_ = 0;
  uint64_t chunk_pos_ = 0;

  std::unique_ptr<RangeFetcher> fetcher_;
  uint64_t fetched_before_ = 0;

  // A compressed whole object, decoded in order.
  bool decoding_ = false;
  std::unique_ptr<Decoder> decoder_;
  bool source_done_ = false;

  // Otherwise a range of the object: absolute offsets in it.
  uint64_t ds_ = 0;
  std::optional<uint64_t> data_end_;
  uint64_t end_scan_from_ = 0;
  std::optional<SeparatorFinder> end_finder_;
  uint64_t fetch_abs_ = 0;
};

}  // namespace

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

Result<std::unique_ptr<DataStream>> OpenDataStream(std::shared_ptr<ObjectStore> store,
                                                   const Partition& partition) {
  auto stream = std::make_unique<PartitionStream>(std::move(store), partition, false);
  Status s = stream->Init();
  if (!s.ok()) {
    return s.WithContext("opening " + partition.uri + " part " + std::to_string(partition.part));
  }
  return std::unique_ptr<DataStream>(std::move(stream));
}

Result<std::unique_ptr<DataStream>> OpenByteRange(std::shared_ptr<ObjectStore> store,
                                                  const Partition& object, uint64_t start,
                                                  uint64_t stop) {
  if (start > stop || stop > object.size) {
    return InvalidArgument("byte range [" + std::to_string(start) + ", " + std::to_string(stop) +
                           ") of " + object.uri + ": give 0 <= start <= stop <= its size (" +
                           std::to_string(object.size) + ")");
  }
  Partition range = object;
  range.start = start;
  range.stop = stop;
  range.newline.clear();
  range.header = false;
  range.compression = Compression::kNone;
  range.options.decompress = false;
  auto stream = std::make_unique<PartitionStream>(std::move(store), std::move(range), true);
  QUARRY_RETURN_IF_ERROR(stream->Init());
  return std::unique_ptr<DataStream>(std::move(stream));
}

}  // namespace quarry
