// Record boundaries for line-aligned partitions.
//
// Contract (the README's "Partitioning" section says the same for users): with a border-free
// separator SEP, record starts are offset 0 and every offset right after an occurrence of SEP.
// A partition with nominal range [a, b) holds every record whose first byte lies in [a, b),
// whole; so its data is [RecordStartAtOrAfter(a), RecordStartAtOrAfter(b)), where
// RecordStartAtOrAfter(x) is the smallest record start >= x, or the object size S when there is
// none.
//
// Because SEP is border-free (no proper prefix of it equals a suffix), occurrences never overlap
// and can be found by scanning from anywhere: the first occurrence starting at or after x - |SEP|
// ends at the first record start >= x.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "quarry/status.h"

namespace quarry {

// OK when `separator` is non-empty and border-free; otherwise InvalidArgument saying why and
// giving examples of valid ones.
Status ValidateSeparator(std::string_view separator);

// Finds the first occurrence of a separator in a stream of bytes fed in order, across chunk
// boundaries. Positions are absolute offsets in the object.
class SeparatorFinder {
 public:
  // Occurrences starting before `from` are ignored.
  SeparatorFinder(std::string separator, uint64_t from);

  // Feeds bytes [offset, offset + data.size()), contiguous with what was fed before (the first
  // feed may start anywhere at or before `from`). Returns the end offset (just past the
  // separator) of the first occurrence starting at or after `from`, once seen.
  std::optional<uint64_t> Feed(std::string_view data, uint64_t offset);

  const std::string& separator() const { return separator_; }

 private:
  std::string separator_;
  uint64_t from_;
  std::string tail_;  // last |SEP|-1 bytes fed, for occurrences that straddle two feeds
  uint64_t tail_offset_ = 0;
};

// Offset of the first occurrence of `separator` in `data` at or after `pos`, or npos.
// memchr-driven: scans for the separator's first byte and compares the rest.
size_t FindSeparator(std::string_view data, std::string_view separator, size_t pos);

// Number of occurrences of a non-empty border-free `separator` in `data` (they never overlap).
// A one-byte separator is counted 16 bytes per instruction (SSE2 where available).
uint64_t CountSeparators(std::string_view data, std::string_view separator);

// Counts the records in bytes fed in order: occurrences of a border-free separator, also those
// that straddle two feeds, plus one for bytes after the last occurrence.
class RecordCounter {
 public:
  explicit RecordCounter(std::string separator);

  void Feed(std::string_view data);

  // Records in everything fed so far; the last one may lack its separator.
  uint64_t records() const { return separators_ + (open_record_ ? 1 : 0); }

 private:
  std::string separator_;
  std::string tail_;  // the last |SEP| bytes fed (fewer at first)
  uint64_t separators_ = 0;
  bool open_record_ = false;  // bytes were fed after the last separator
};

}  // namespace quarry
