// Record boundaries of line-aligned partitions, found in the object's bytes as they are read.
//
// The contract is quarry/line_aligner.h's: a partition with nominal range [a, b) holds the data
// [RecordStartAtOrAfter(a), RecordStartAtOrAfter(b)). These find both ends with no request of
// their own where the bytes are streamed anyway (the first record start in the bytes read from
// just before `a`, the end of the last record in the bytes read past `b`); ScanRecordStart reads
// what it needs when nothing is streamed there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "quarry/line_aligner.h"
#include "quarry/object_store.h"
#include "quarry/plan.h"
#include "quarry/status.h"

namespace quarry {

// Looks for the smallest record start >= x in bytes fed in order from from(), taking only one
// that is at most `bound` (the search is over once the bytes fed reach `bound`).
class RecordStartScan {
 public:
  // x > 0 (0 is always a record start).
  RecordStartScan(std::string separator, uint64_t x, uint64_t bound);

  // Where the bytes to feed begin: |SEP| bytes before x (0 at the least), since the first
  // separator that starts there ends at the first record start >= x.
  uint64_t from() const { return from_; }

  // Feeds bytes [offset, offset + data.size()), contiguous with those fed before (the first
  // feed starts at from()). True once the search is over: a record start was seen, or the
  // bytes reached `bound`; found() tells the outcome. Feeds after that are not looked at.
  bool Feed(std::string_view data, uint64_t offset);

  // The record start once seen, if it is at most `bound`; nullopt otherwise.
  std::optional<uint64_t> found() const { return found_; }

 private:
  uint64_t from_;
  SeparatorFinder finder_;
  uint64_t bound_;
  bool over_ = false;
  std::optional<uint64_t> found_;
};

// Finds where a line-aligned partition's data ends, RecordStartAtOrAfter(stop), in the bytes
// streamed from its data's start on.
class RecordEndFinder {
 public:
  // For a partition with nominal stop `stop` of an object of `object_size` bytes, whose data
  // starts at `data_start` (a record start; `stop` or past it when no record starts in the
  // partition).
  RecordEndFinder(std::string separator, uint64_t data_start, uint64_t stop, uint64_t object_size);

  // The end when it is known without reading: data_start when no record starts in the
  // partition, the object's size when the partition reaches it; nullopt otherwise.
  std::optional<uint64_t> known_end() const { return known_end_; }

  // The first byte the search must see: a stream restarted past it restarts here instead.
  uint64_t scan_from() const { return scan_from_; }

  // Starts looking afresh, for a stream restarted at or before scan_from().
  void Restart();

  // Feeds bytes [offset, offset + data.size()), contiguous with those fed since the finder was
  // made or restarted (the first feed starts at or before scan_from()). Returns the end once
  // the separator that makes it was seen.
  std::optional<uint64_t> Feed(std::string_view data, uint64_t offset) {
    return finder_.Feed(data, offset);
  }

 private:
  std::optional<uint64_t> known_end_;
  uint64_t scan_from_ = 0;
  SeparatorFinder finder_;
};

// The smallest record start >= x in the object that `p` describes (separator p.newline),
// looking only at separators that end at most at `bound`; nullopt when there is none there.
// Reads in ranges growing from kFirstPastStopRead to the part size, each pinned to p.etag, and
// adds the bytes read to *fetched. Fails as a read does.
Result<std::optional<uint64_t>> ScanRecordStart(ObjectStore& store, const Partition& p, uint64_t x,
                                                uint64_t bound, uint64_t* fetched);

}  // namespace quarry
