#include "partition/range_fetcher.h"

#include <algorithm>

namespace quarry {
namespace {

// Reads up to this long run on the consumer's thread when they are all that is left or all that
// was asked for (the consumer would wait for them anyway).
constexpr uint64_t kReadHereMax = 1 << 20;

}  // namespace

RangeFetcher::RangeFetcher(std::shared_ptr<ObjectStore> store, const Partition& p, uint64_t from,
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

void RangeFetcher::BeginRead(uint64_t from, uint64_t end) {
  if (launched_ && from >= next_) sequential_ = true;
  want_end_ = std::max(end, from + 1);
}

void RangeFetcher::AssumeSequential() {
  sequential_ = true;
  last_length_ = part_size_;
}

Result<std::string_view> RangeFetcher::Next() {
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

void RangeFetcher::Schedule(uint64_t want_end) {
  while (in_flight_.size() < readahead_ && next_ < limit_) {
    if (!in_flight_.empty()) {
      if (next_ >= bulk_until_) break;               // past the bulk range: on demand only
      if (!sequential_ && next_ >= want_end) break;  // nothing beyond what was asked for
    }
    Launch(NextLength(want_end), want_end);
  }
}

uint64_t RangeFetcher::NextLength(uint64_t want_end) {
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

void RangeFetcher::Launch(uint64_t len, uint64_t want_end) {
  const bool last = next_ + len >= limit_ || (!sequential_ && next_ + len >= want_end);
  const bool here = in_flight_.empty() && last && len <= kReadHereMax;
  in_flight_.push_back(
      std::make_unique<StreamingRead>(*store_, bucket_, key_, next_, len, read_, window_, here));
  next_ += len;
  launched_ = true;
}

std::unique_ptr<RangeFetcher> WholeObjectFetcher(std::shared_ptr<ObjectStore> store,
                                                 const Partition& p) {
  return std::make_unique<RangeFetcher>(std::move(store), p, 0, p.size, p.size);
}

Result<std::string_view> FetchHead(RangeFetcher& fetcher) {
  fetcher.BeginRead(0, kMinRead);
  return fetcher.Next();
}

}  // namespace quarry
