// The data of a range of an object, read as stored: a byte range, a whole uncompressed object
// after its header record, or the records of one part of a split object (line-aligned: from
// its first record start to the end of its last record, found as the bytes arrive).
//
// Seeks are ranged reads from the new position (a short forward one to bytes already on their
// way reads through them). In line mode (p.newline set) reads from the start go to part-size
// readahead at once: the records are meant to be read in order.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "partition/range_fetcher.h"
#include "quarry/data_stream.h"

namespace quarry {

// Bytes [p.start, p.stop) of the object that `p` describes, without a header. Requests nothing
// until the first read.
Result<std::unique_ptr<DataStream>> OpenByteRangeStream(std::shared_ptr<ObjectStore> store,
                                                        const Partition& p);

// The whole object that `p` describes, uncompressed, going on with `fetcher` (a
// WholeObjectFetcher) from `head` (what FetchHead returned): bytes [0, p.size), or with
// p.header the object's first record as header() and the bytes after it as the data. Fails as
// a read does.
Result<std::unique_ptr<DataStream>> OpenWholeObjectStream(std::shared_ptr<ObjectStore> store,
                                                          const Partition& p,
                                                          std::unique_ptr<RangeFetcher> fetcher,
                                                          std::string_view head);

// The records of part [p.start, p.stop) of a split object (p.newline set): every record whose
// first byte lies in that range, whole (quarry/line_aligner.h). With p.header the object's
// first record is header() and never data. The data's first record start is found in the bytes
// streamed from just before p.start, its end in those streamed past p.stop; Size() is known
// once that end was seen (at once when the part reaches the object's end). A seek past p.stop
// while the end is not known yet goes there by reading. Fails as a read does.
Result<std::unique_ptr<DataStream>> OpenRecordRangeStream(std::shared_ptr<ObjectStore> store,
                                                          const Partition& p);

}  // namespace quarry
