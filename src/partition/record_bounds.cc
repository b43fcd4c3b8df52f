#include "partition/record_bounds.h"

#include <algorithm>

#include "partition/range_fetcher.h"
#include "quarry/object_ops.h"

namespace quarry {

RecordStartScan::RecordStartScan(std::string separator, uint64_t x, uint64_t bound)
    : from_(x >= separator.size() ? x - separator.size() : 0),
      finder_(std::move(separator), from_),
      bound_(bound) {}

bool RecordStartScan::Feed(std::string_view data, uint64_t offset) {
  if (over_) return true;
  if (auto end = finder_.Feed(data, offset)) {
    if (*end <= bound_) found_ = *end;
    over_ = true;
  } else if (offset + data.size() >= bound_) {
    over_ = true;
  }
  return over_;
}

RecordEndFinder::RecordEndFinder(std::string separator, uint64_t data_start, uint64_t stop,
                                 uint64_t object_size)
    : scan_from_(std::max(data_start, stop >= separator.size() ? stop - separator.size() : 0)),
      finder_(std::move(separator), scan_from_) {
  if (data_start >= stop) {
    known_end_ = data_start;  // no record starts in the partition
  } else if (stop >= object_size) {
    known_end_ = object_size;
  }
}

void RecordEndFinder::Restart() { finder_ = SeparatorFinder(finder_.separator(), scan_from_); }

Result<std::optional<uint64_t>> ScanRecordStart(ObjectStore& store, const Partition& p, uint64_t x,
                                                uint64_t bound, uint64_t* fetched) {
  RecordStartScan scan(p.newline, x, bound);
  uint64_t step = kFirstPastStopRead;
  for (uint64_t at = scan.from(); at < bound;) {
    const uint64_t n = std::min(step, bound - at);
    step = std::min(step * 2, std::max<uint64_t>(p.options.part_size, kFirstPastStopRead));
    QUARRY_ASSIGN_OR_RETURN(auto chunk, ReadToString(store, p.bucket, p.key, at, n, {p.etag}));
    *fetched += chunk.size();
    if (scan.Feed(chunk, at)) break;
    if (chunk.size() < n) break;  // the object ends here
    at += n;
  }
  return scan.found();
}

}  // namespace quarry
