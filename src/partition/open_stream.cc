// Opening a partition's data: which stream reads it.
//
// A split object's part is a byte range, or in line mode the range of its records. A whole
// object is read by its first bytes' verdict: compressed ones are decoded in order, others are
// the byte range of the object (after the header record, when asked for).
#include <string>

#include "partition/compression.h"
#include "partition/decoding_stream.h"
#include "partition/range_fetcher.h"
#include "partition/range_stream.h"
#include "quarry/data_stream.h"
#include "quarry/registry.h"

namespace quarry {
namespace {

Result<std::unique_ptr<DataStream>> OpenPartitionData(std::shared_ptr<ObjectStore> store,
                                                      const Partition& p) {
  const bool whole = p.total_parts == 1 && p.start == 0 && p.stop == p.size;
  if (!whole) {
    if (p.newline.empty()) return OpenByteRangeStream(std::move(store), p);
    return OpenRecordRangeStream(std::move(store), p);
  }
  // Nothing to learn from the first bytes.
  if (!p.options.decompress && !p.header) return OpenByteRangeStream(std::move(store), p);
  auto fetcher = WholeObjectFetcher(store, p);
  QUARRY_ASSIGN_OR_RETURN(auto head, FetchHead(*fetcher));
  Compression compression = Compression::kNone;
  if (p.options.decompress && !head.empty()) {
    compression = DetectCompression(head, p.key, fetcher->HeadContentEncoding());
  }
  if (compression != Compression::kNone) {
    return OpenDecodingStream(std::move(store), p, compression, std::move(fetcher), head);
  }
  return OpenWholeObjectStream(std::move(store), p, std::move(fetcher), head);
}

}  // namespace

Result<std::unique_ptr<DataStream>> OpenDataStream(std::shared_ptr<ObjectStore> store,
                                                   const Partition& partition) {
  auto stream = OpenPartitionData(std::move(store), partition);
  if (!stream.ok()) {
    return stream.status().WithContext("opening " + partition.uri + " part " +
                                       std::to_string(partition.part));
  }
  return stream;
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
  return OpenByteRangeStream(std::move(store), range);
}

Result<std::unique_ptr<DataStream>> Partition::Open() const {
  QUARRY_ASSIGN_OR_RETURN(
      auto store, StoreForUri(Location(), StorageOptionsOf(options.storage_options, scheme)));
  return OpenDataStream(std::move(store), *this);
}

}  // namespace quarry
