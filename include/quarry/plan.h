// Plans: from inputs (URIs, prefixes, globs) to a lazy sequence of partitions.
//
// Partitioning contract (also in the README, "Partitioning"): an object of size S gives
//   - no chunking: one partition [0, S), also when S = 0;
//   - chunk_size C: [iC, min((i+1)C, S)) for i = 0 .. ceil(S/C)-1 (one [0,0) when S = 0);
//   - chunk_number N: C = ceil(S/N): at most N partitions, fewer when S < N.
// Compressed objects (gzip, zstd, bzip2, when decompress is auto) are never split.
// In line mode a partition's data is every record whose first byte lies in its nominal range
// (see quarry/line_aligner.h); in byte mode it is exactly the nominal range.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quarry/compression.h"
#include "quarry/config.h"
#include "quarry/object_store.h"
#include "quarry/status.h"
#include "quarry/uri.h"

namespace quarry {

class DataStream;

struct PlanOptions {
  uint64_t chunk_size = 0;    // 0: not set
  uint64_t chunk_number = 0;  // 0: not set; at most one of the two
  std::string newline;        // "" = byte mode; else a border-free record separator
  bool header = false;        // the object's first record goes to Partition::header (line mode)
  bool decompress = true;     // "auto": recognise and decompress gzip, zstd, bzip2
  // Keyed by scheme: a plan over inputs of several schemes reads each with its own options.
  StorageOptionsByScheme storage_options;
  // Stream tuning: bytes per ranged read (one request), reads in flight, and bytes a read holds
  // at a time (a longer read streams through a ring of that size). A stream's memory stays under
  // readahead x min(part_size, read_window) whatever the part size. Long requests are the
  // default because every request costs the server work of its own, so fewer, longer ones
  // cost it less per byte; the small window keeps the received bytes in cache until they are
  // consumed. The README's Performance section has the measured figures.
  uint64_t part_size = 64ull << 20;
  int readahead = 2;
  uint64_t read_window = 1ull << 20;
};

// One unit of work: a nominal byte range of one object, and how to read it.
// Small and copyable; holds no connection (Open() finds the store through the registry).
struct Partition {
  std::string uri;  // of the object
  std::string scheme, bucket, key;
  uint64_t size = 0;  // of the whole object
  std::string etag;
  uint64_t part = 0;  // 0-based within the object
  uint64_t total_parts = 1;
  uint64_t start = 0, stop = 0;  // nominal half-open range
  Compression compression = Compression::kNone;
  std::string newline;
  bool header = false;
  PlanOptions options;  // the plan's options (storage options, tuning)

  // Opens the partition's data. Reads pin `etag` (If-Match).
  Result<std::unique_ptr<DataStream>> Open() const;
  // Where the object lives: its scheme, bucket and key (no URI text is parsed).
  Uri Location() const { return Uri{.scheme = scheme, .bucket = bucket, .key = key}; }
};

// A lazy plan. Inputs are listed when iteration reaches them, page by page, so partitions come
// out while listing goes on. What an input names follows quarry/key_rules.h: a key that exists
// is that object (glob characters or not), a key ending in '/' a prefix, another key the
// "directory" key + "/" (never sibling keys); folder markers (0-byte keys ending in '/') are
// skipped. Not thread-safe: one consumer.
class Plan {
 public:
  // Validates the inputs and options; lists nothing yet. InvalidArgument for a malformed URI,
  // both chunk_size and chunk_number, a separator that is not border-free, header without newline.
  static Result<Plan> Build(const std::vector<std::string>& inputs, PlanOptions options = {});

  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
  ~Plan();

  // Fills `out` with the next partition; false when the plan is exhausted. An input that matches
  // no object is a NotFound naming it.
  Result<bool> Next(Partition* out);

  // Every partition, in plan order (lists everything).
  Result<std::vector<Partition>> All();

  const PlanOptions& options() const;
  // Listing pages fetched so far.
  uint64_t list_pages() const;

 private:
  struct State;
  explicit Plan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The chunk length of an object of `size` bytes under the options: chunk_size, or
// ceil(size / chunk_number), or 0 when neither is set (one partition per object).
uint64_t NominalChunk(uint64_t size, uint64_t chunk_size, uint64_t chunk_number);

// Nominal ranges of an object of `size` bytes under the options (whole-object when compressed).
std::vector<std::pair<uint64_t, uint64_t>> NominalRanges(uint64_t size, uint64_t chunk_size,
                                                         uint64_t chunk_number);

// Glob matching on keys: `*` and `?` do not cross '/', `**` does, `[...]` classes ([!...] negates).
bool GlobMatch(std::string_view pattern, std::string_view key);
// Length of the literal prefix of a glob pattern (up to its first wildcard).
size_t GlobLiteralPrefix(std::string_view pattern);

}  // namespace quarry
