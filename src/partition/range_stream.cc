#include "partition/range_stream.h"

#include <algorithm>
#include <optional>
#include <string>

#include "partition/chunk_stream.h"
#include "partition/record_bounds.h"
#include "quarry/object_ops.h"

namespace quarry {
namespace {

// A forward seek at most this far, to bytes already requested, reads its way there instead of
// dropping the requests in flight (they are arriving anyway).
constexpr uint64_t kSkipByReadingMax = 1 << 20;

class RangeStream final : public ChunkStream {
 public:
  RangeStream(std::shared_ptr<ObjectStore> store, Partition p)
      : ChunkStream(std::move(store), std::move(p)) {}

  void OpenBytes() {
    data_start_ = p_.start;
    data_end_ = p_.stop;
    StartAt(data_start_);
    ExpectReadsInOrder();
  }

  Status OpenWhole(std::unique_ptr<RangeFetcher> fetcher, std::string_view head) {
    data_start_ = 0;
    data_end_ = p_.size;
    ReplaceFetcher(std::move(fetcher));
    fetched_to_ = head.size();
    SetChunk(head, 0);
    if (p_.header) {
      QUARRY_RETURN_IF_ERROR(TakeHeaderRecord());
      data_start_ = header_->size();
    }
    ExpectReadsInOrder();
    return Status::Ok();
  }

  // Reads the header where asked for, finds where the part's data starts, and starts streaming
  // there (again, when called from a seek).
  Status OpenRecords() {
    SetChunk({}, 0);
    header_.reset();
    data_end_.reset();
    record_end_.reset();
    uint64_t header_end = 0;
    if (p_.header) {
      QUARRY_ASSIGN_OR_RETURN(auto h, ScanRecordStart(*store_, p_, 1, p_.size, &fetched_before_));
      header_end = h.value_or(p_.size);
      QUARRY_ASSIGN_OR_RETURN(auto text,
                              ReadToString(*store_, p_.bucket, p_.key, 0, header_end, {p_.etag}));
      fetched_before_ += text.size();
      header_ = std::move(text);
    }
    if (p_.start > 0) {
      QUARRY_RETURN_IF_ERROR(StartAtFirstRecord(header_end));
    } else {
      SetDataStart(header_end);
      StartAt(data_start_);
    }
    ExpectReadsInOrder();
    return Status::Ok();
  }

  Status Seek(uint64_t pos) override {
    if (SeekInChunk(pos)) return Status::Ok();
    if (!data_end_ && data_start_ + pos > p_.stop) {
      // Past the nominal stop the data's end is not known yet: go there by reading (from the
      // part's start again when it lies behind).
      if (pos < Tell()) QUARRY_RETURN_IF_ERROR(OpenRecords());
      return Skip(pos - Tell());
    }
    uint64_t abs = data_start_ + pos;
    if (data_end_) abs = std::min(abs, *data_end_);
    const uint64_t here = data_start_ + Tell();
    if (abs > here && abs - here <= kSkipByReadingMax && abs < fetcher_->requested_end()) {
      return Skip(abs - here);  // those bytes are on their way already
    }
    uint64_t restart = abs;
    if (!data_end_ && record_end_ && abs > record_end_->scan_from()) {
      restart = record_end_->scan_from();
    }
    StartAt(restart);
    return Skip(abs - restart);
  }

  std::optional<uint64_t> Size() const override {
    if (!data_end_) return std::nullopt;
    return *data_end_ - data_start_;
  }

 private:
  // Line mode is for reading records in order: its reads from the start go to part-size
  // readahead at once (a seek later sizes its requests as any other).
  void ExpectReadsInOrder() {
    if (!p_.newline.empty()) fetcher_->AssumeSequential();
  }

  // Bulk reads go a little past the nominal stop, so the end of the last record usually comes
  // with them instead of with a request of its own once the consumer gets there.
  uint64_t BulkUntil(uint64_t limit) const { return std::min(limit, p_.stop + kFirstPastStopRead); }

  // Once the part's data start is known: its end too where it is known already, else where to
  // look for it.
  void SetDataStart(uint64_t start) {
    data_start_ = start;
    record_end_.emplace(separator(), start, p_.stop, p_.size);
    data_end_ = record_end_->known_end();
  }

  // Starts streaming just before the nominal start and finds the first record start (only one
  // starting before the nominal stop belongs here) in the data as it arrives, rather than with
  // a request of its own ahead of the bulk reads. Data before it is dropped.
  Status StartAtFirstRecord(uint64_t header_end) {
    RecordStartScan first_record(separator(), p_.start, p_.stop);
    const uint64_t from = first_record.from();
    ReplaceFetcher(std::make_unique<RangeFetcher>(store_, p_, from, p_.size, BulkUntil(p_.size)));
    std::string_view raw;
    uint64_t at = from;  // offset of raw's first byte
    for (uint64_t next = from; next < p_.stop;) {
      fetcher_->BeginRead(next, next + kMinRead);
      QUARRY_ASSIGN_OR_RETURN(raw, fetcher_->Next());
      if (raw.empty()) break;
      at = next;
      next += raw.size();
      if (first_record.Feed(raw, at)) break;
    }
    const std::optional<uint64_t> first = first_record.found();
    SetDataStart(std::max(first.value_or(p_.stop), header_end));
    if (!first || data_start_ != *first || data_start_ >= p_.stop) {
      StartAt(data_start_);
      return Status::Ok();
    }
    // Go on with this fetcher from the chunk that holds the first record.
    fetched_to_ = at + raw.size();
    std::string_view data = raw.substr(data_start_ - at);
    if (!data_end_) {
      if (auto end = record_end_->Feed(data, data_start_)) data_end_ = *end;
    }
    if (data_end_ && *data_end_ - data_start_ < data.size()) {
      data = data.substr(0, *data_end_ - data_start_);
    }
    SetChunk(data, 0);
    return Status::Ok();
  }

  // (Re)starts fetching at offset `abs` of the object (>= data_start_); nothing is requested
  // before the next read says how much it wants.
  void StartAt(uint64_t abs) {
    const uint64_t limit = data_end_ ? *data_end_ : p_.size;
    ReplaceFetcher(std::make_unique<RangeFetcher>(store_, p_, abs, limit, BulkUntil(limit)));
    if (!data_end_ && record_end_) record_end_->Restart();
    fetched_to_ = abs;
    SetChunk({}, abs - data_start_);
  }

  Result<std::string_view> NextData() override {
    if (data_end_ && fetched_to_ >= *data_end_) return std::string_view();
    QUARRY_ASSIGN_OR_RETURN(auto raw, fetcher_->Next());
    if (raw.empty()) {
      data_end_ = fetched_to_;  // the object ends here
      return raw;
    }
    const uint64_t off = fetched_to_;
    fetched_to_ += raw.size();
    if (!data_end_ && record_end_) {
      if (auto end = record_end_->Feed(raw, off)) data_end_ = *end;
    }
    if (data_end_ && off + raw.size() > *data_end_) raw = raw.substr(0, *data_end_ - off);
    return raw;
  }

  uint64_t FetchOffset() const override { return data_start_ + Tell(); }

  std::shared_ptr<const void> ChunkOwner() const override { return fetcher_->HeadOwner(); }

  // Offsets in the object. The data's end is unknown only in a part of a split object, until
  // record_end_ finds it.
  uint64_t data_start_ = 0;
  std::optional<uint64_t> data_end_;
  std::optional<RecordEndFinder> record_end_;  // in line-aligned parts
  uint64_t fetched_to_ = 0;                    // end of the bytes the fetcher handed out
};

}  // namespace

Result<std::unique_ptr<DataStream>> OpenByteRangeStream(std::shared_ptr<ObjectStore> store,
                                                        const Partition& p) {
  auto stream = std::make_unique<RangeStream>(std::move(store), p);
  stream->OpenBytes();
  return std::unique_ptr<DataStream>(std::move(stream));
}

Result<std::unique_ptr<DataStream>> OpenWholeObjectStream(std::shared_ptr<ObjectStore> store,
                                                          const Partition& p,
                                                          std::unique_ptr<RangeFetcher> fetcher,
                                                          std::string_view head) {
  auto stream = std::make_unique<RangeStream>(std::move(store), p);
  QUARRY_RETURN_IF_ERROR(stream->OpenWhole(std::move(fetcher), head));
  return std::unique_ptr<DataStream>(std::move(stream));
}

Result<std::unique_ptr<DataStream>> OpenRecordRangeStream(std::shared_ptr<ObjectStore> store,
                                                          const Partition& p) {
  auto stream = std::make_unique<RangeStream>(std::move(store), p);
  QUARRY_RETURN_IF_ERROR(stream->OpenRecords());
  return std::unique_ptr<DataStream>(std::move(stream));
}

}  // namespace quarry
